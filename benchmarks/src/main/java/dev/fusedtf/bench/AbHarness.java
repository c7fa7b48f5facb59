package dev.fusedtf.bench;

import dev.fusedtf.report.FoldReport;
import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.internal.check.EquivalenceCheck;
import dev.fusedtf.report.OutputDiff;
import dev.fusedtf.internal.check.ProbeInputs;
import dev.fusedtf.internal.measure.AbTimer;
import dev.fusedtf.report.LatencyStats;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;

/**
 * The {@code AbHarness} measures, in one JVM, the latency of a SavedModel loaded plainly with
 * {@code SavedModelBundle.load} (A, "original") against the same model loaded with {@link FusedModel#load} (B,
 * "fused").
 *
 * <p>For each batch size it loads both models afresh, builds ONE input map with {@link ProbeInputs#generate} that both
 * share, times the first call of each (original first, then fused), compares their outputs once, warms both up, then
 * runs rounds of A, B, B, A calls (ABBA, so linear drift such as thermal or frequency changes hits both sides
 * equally) until {@code rounds} are done or the per-batch time budget is spent. Every call is timed with
 * {@link System#nanoTime} around the call and the closing of its {@link Result}.
 *
 * <p>Before the first batch it does, by default, one throw-away load and call of the original model, so one-time
 * process costs (native library and class loading, JIT of the Java side) are not charged to whichever side runs
 * first. Note that {@code FusedModel.load} runs its equivalence check (probe batches 1 and 8 by default) on the fused
 * session before returning, so part of the fused model's first-call cost is paid inside its load time: both load
 * times are reported.
 */
public final class AbHarness {
  private final Config config;
  private final PrintStream log;

  /** A harness that writes progress lines to {@code log} (may be null for none). */
  public AbHarness(Config config, PrintStream log) {
    this.config = Objects.requireNonNull(config);
    this.log = log;
  }

  /** Runs every batch size and returns the report. */
  public AbReport run() {
    if (config.processWarmup()) {
      processWarmup();
    }
    List<AbReport.BatchResult> results = new ArrayList<>();
    FoldReport foldReport = null;
    for (int batch : config.batches()) {
      BatchOutcome o = runBatch(batch);
      results.add(o.result());
      if (foldReport == null) {
        foldReport = o.foldReport();
      }
    }
    Objects.requireNonNull(foldReport, "no batch was run");
    return new AbReport(config.modelDir().toString(), config.signature(), List.of(config.tags()),
        AbReport.Machine.current(), foldReport.served().label(), foldReport.folds().size(), foldReport.skipped().size(),
        foldReport.nodesBefore(), foldReport.nodesAfter(), foldReport.timingsMs(), config.rounds(), config.warmup(),
        config.budgetPerBatch().toMillis() / 1000.0, config.seed(), results);
  }

  private void processWarmup() {
    progress("process warm-up: one throw-away load + call of the original model");
    try (SavedModelBundle b = SavedModelBundle.load(config.modelDir().toString(), config.tags())) {
      Signature sig = findSignature(b, config.signature());
      Map<String, Tensor> in = ProbeInputs.generate(sig, config.batches()[0], config.seed());
      try (Result r = b.session().run(sig, in)) {
        // result discarded
      } finally {
        in.values().forEach(Tensor::close);
      }
    }
  }

  private record BatchOutcome(AbReport.BatchResult result, FoldReport foldReport) {}

  private BatchOutcome runBatch(int batch) {
    String key = config.signature();
    long t0 = System.nanoTime();
    SavedModelBundle original = SavedModelBundle.load(config.modelDir().toString(), config.tags());
    double originalLoadMs = ms(t0);
    FusedModel fused = null;
    Map<String, Tensor> inputs = null;
    try {
      t0 = System.nanoTime();
      fused = FusedModel.load(config.modelDir(), FusedModelOptions.builder().tags(config.tags()).build());
      double fusedLoadMs = ms(t0);
      Signature sig = findSignature(original, key);
      fused.signature(key); // fails early with a clear message if the fused model lacks it
      inputs = ProbeInputs.generate(sig, batch, config.seed());
      final Map<String, Tensor> in = inputs;
      final FusedModel fm = fused;
      Call a = () -> original.session().run(sig, in);
      Call b = () -> fm.call(key, in);

      double firstA = time(a);
      double firstB = time(b);
      double[] diff;
      try (Result ra = a.call(); Result rb = b.call()) {
        diff = compare(sig, ra, rb);
      }
      long flops = FlopCounter.count(fused.session(), fused.metaGraphDef().getGraphDef(), sig, in);
      CpuMonitor cpu = new CpuMonitor().start();
      long start = System.nanoTime();
      AbTimer.Comparison c = AbTimer.compare(() -> a.call().close(), () -> b.call().close(), config.warmup(),
          config.rounds(),
          config.budgetPerBatch());
      double measureS = (System.nanoTime() - start) / 1e9;
      double otherCpu = cpu.otherBusyPercent();
      LatencyStats A = c.a();
      LatencyStats B = c.b();
      int n = A.count();
      int rounds = n / 2;
      boolean budgetHit = rounds < config.rounds();
      FoldReport fr = fused.report();
      AbReport.BatchResult r = new AbReport.BatchResult(batch, n, rounds, budgetHit, measureS,
          A.medianMs(), A.p90Ms(), A.meanMs(), A.minMs(), B.medianMs(), B.p90Ms(), B.meanMs(), B.minMs(), c.ratio(),
          firstA, firstB, originalLoadMs, fusedLoadMs, diff[0], diff[1], otherCpu, flops,
          flops > 0 ? flops / (A.medianMs() * 1e6) : Double.NaN, flops > 0 ? flops / (B.medianMs() * 1e6) : Double.NaN);
      progress(String.format("batch %d: original %.3f ms, fused %.3f ms, ratio %.3f (%d calls each%s; other "
          + "processes used %.0f%% of the CPUs meanwhile)", batch, A.medianMs(), B.medianMs(), r.ratio(), n,
          budgetHit ? ", time budget hit" : "", otherCpu));
      return new BatchOutcome(r, fr);
    } finally {
      if (inputs != null) {
        inputs.values().forEach(Tensor::close);
      }
      if (fused != null) {
        fused.close();
      }
      original.close();
    }
  }

  @FunctionalInterface
  private interface Call {
    Result call();
  }

  /** Milliseconds taken by one call, closing its result included. */
  static double time(Call c) {
    long t0 = System.nanoTime();
    try (Result r = c.call()) {
      Objects.requireNonNull(r);
    }
    return ms(t0);
  }

  private static double ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e6;
  }

  private void progress(String line) {
    if (log != null) {
      log.println("[bench] " + line);
      log.flush();
    }
  }

  /** The signature {@code key} of {@code bundle}. @throws IllegalArgumentException if there is none */
  static Signature findSignature(SavedModelBundle bundle, String key) {
    List<String> keys = new ArrayList<>();
    for (Signature s : bundle.signatures()) {
      if (s.key().equals(key)) {
        return s;
      }
      keys.add(s.key());
    }
    throw new IllegalArgumentException("no signature '" + key + "'; the model has " + keys);
  }

  /**
   * Max absolute and max relative difference (relative to the output's largest magnitude) over every output of
   * {@code sig}; infinite when an output is missing or differs in dtype or shape, or non-float outputs differ.
   */
  static double[] compare(Signature sig, Result a, Result b) {
    double maxAbs = 0;
    double maxRel = 0;
    for (String name : sig.getOutputs().keySet()) {
      Tensor x = a.get(name).orElse(null);
      Tensor y = b.get(name).orElse(null);
      if (x == null || y == null) {
        return new double[] {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY};
      }
      OutputDiff d = EquivalenceCheck.diff(sig.key(), name, 0, x, y, 0, 0);
      maxAbs = Math.max(maxAbs, d.maxAbsDiff());
      maxRel = Math.max(maxRel, d.maxRelDiff());
    }
    return new double[] {maxAbs, maxRel};
  }

  /**
   * What to measure.
   *
   * @param modelDir the SavedModel directory
   * @param tags MetaGraph tags
   * @param signature signature key
   * @param batches batch sizes, measured in this order
   * @param rounds ABBA rounds per batch at most (each round gives 2 samples per side)
   * @param warmup warm-up calls per side per batch
   * @param budgetPerBatch time after which rounds stop early (warm-up and loads not counted)
   * @param seed seed of the random inputs
   * @param processWarmup whether to do one throw-away load and call before the first batch
   */
  public record Config(Path modelDir, String[] tags, String signature, int[] batches, int rounds, int warmup,
      Duration budgetPerBatch, long seed, boolean processWarmup) {
    /** Validates. */
    public Config {
      Objects.requireNonNull(modelDir, "modelDir");
      Objects.requireNonNull(signature, "signature");
      Objects.requireNonNull(budgetPerBatch, "budgetPerBatch");
      tags = tags.clone();
      batches = batches.clone();
      if (tags.length == 0) {
        throw new IllegalArgumentException("at least one tag is needed");
      }
      if (batches.length == 0 || Arrays.stream(batches).anyMatch(x -> x < 1)) {
        throw new IllegalArgumentException("batch sizes must be >= 1");
      }
      if (rounds < 1 || warmup < 0) {
        throw new IllegalArgumentException("rounds must be >= 1 and warmup >= 0");
      }
      if (budgetPerBatch.isNegative() || budgetPerBatch.isZero()) {
        throw new IllegalArgumentException("time budget must be positive");
      }
    }

    /** Defaults: tag serve, serving_default, batches 1 and 32, 200 rounds, 20 warm-up calls, 20 s, seed 42. */
    public static Config defaults(Path modelDir) {
      return new Config(modelDir, new String[] {"serve"}, Signature.DEFAULT_KEY, new int[] {1, 32}, 200, 20,
          Duration.ofSeconds(20), 42, true);
    }

    @Override
    public String[] tags() {
      return tags.clone();
    }

    @Override
    public int[] batches() {
      return batches.clone();
    }
  }
}
