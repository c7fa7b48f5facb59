package dev.fusedtf.cli;

import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.internal.check.ProbeInputs;
import dev.fusedtf.internal.measure.AbTimer;
import dev.fusedtf.testsupport.DemoModels;
import dev.fusedtf.testsupport.DemoModels.Demo;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;

import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fusedtf demo}: writes the demo SavedModels (Keras layout), then for each loads it with plain
 * {@code SavedModelBundle.load} and with {@code FusedModel.load}, prints the fold report and the check, times both
 * A/B interleaved at each batch size, times the first request after each load, and prints the meters the run
 * recorded.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Write the demo SavedModels (ResNet-style, MobileNetV2-style, Conv-BN-ReLU), fold and check each, "
        + "and time it against plain SavedModelBundle. Exit 1 if a check failed.")
final class DemoCommand implements Callable<Integer> {
  /** System property the {@code ./fusedtf} launcher sets to the repository root. */
  static final String HOME_PROPERTY = "fusedtf.home";

  @Spec
  CommandSpec spec;

  @Option(names = "--work-dir", paramLabel = "DIR",
      description = "Where to write the demo models (default: cli/target/demo-models in the repository when run "
          + "by ./fusedtf, else ./target/demo-models).")
  Path workDir;

  @Option(names = "--batches", split = ",", defaultValue = "1,8", paramLabel = "N",
      description = "Batch sizes to time (default: ${DEFAULT-VALUE}).")
  List<Integer> batches;

  @Option(names = "--seconds", defaultValue = "5", paramLabel = "S",
      description = "Time budget of each A/B measurement in seconds (default: ${DEFAULT-VALUE}).")
  double seconds;

  @Option(names = "--rounds", defaultValue = "150", paramLabel = "N",
      description = "Most A-B-B-A rounds per measurement (default: ${DEFAULT-VALUE}).")
  int rounds;

  private record Row(String model, int batch, AbTimer.Comparison c) {}

  private record First(String model, double originalMs, double fusedMs, double originalLoadMs, double fusedLoadMs) {}

  @Override
  public Integer call() {
    return CliErrors.run(spec, () -> {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      Path dir = (workDir != null ? workDir : defaultWorkDir(System.getProperty(HOME_PROPERTY)))
          .toAbsolutePath().normalize();
      progress(err, "writing the demo models to " + dir + " (reused when already there)");
      List<Demo> demos = DemoModels.writeAll(dir);
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      List<Row> rows = new ArrayList<>();
      List<First> firsts = new ArrayList<>();
      boolean allPassed = true;
      for (int i = 0; i < demos.size(); i++) {
        Demo demo = demos.get(i);
        String step = "[" + (i + 1) + "/" + demos.size() + "] " + demo.name() + ": ";
        progress(err, step + "loading with SavedModelBundle.load and FusedModel.load (fold, rebuild, check, warm-up)");
        long t0 = System.nanoTime();
        try (SavedModelBundle original = SavedModelBundle.load(demo.dir().toString(), "serve")) {
          double originalLoad = (System.nanoTime() - t0) / 1e6;
          Signature sig = original.function(Signature.DEFAULT_KEY).signature();
          double originalFirst = firstCall(original, sig);
          long t1 = System.nanoTime();
          FusedModelOptions opts = FusedModelOptions.builder().meterRegistry(registry).modelName(demo.name()).build();
          try (FusedModel fused = FusedModel.load(demo.dir(), opts)) {
            double fusedLoad = (System.nanoTime() - t1) / 1e6;
            double fusedFirst = firstCall(fused, sig);
            firsts.add(new First(demo.name(), originalFirst, fusedFirst, originalLoad, fusedLoad));
            out.println("== " + demo.name() + ": " + demo.description());
            out.print(fused.report().toText());
            out.println();
            out.flush();
            allPassed &= fused.check().passed();
            for (int batch : batches) {
              progress(err, step + "timing batch " + batch + " (A/B interleaved, up to " + seconds + " s)");
              Map<String, Tensor> in = ProbeInputs.generate(sig, batch, 7);
              try {
                AbTimer.Comparison c = AbTimer.compare(
                    () -> original.session().run(sig, in).close(),
                    () -> fused.call(sig.key(), in).close(),
                    10, rounds, Duration.ofMillis((long) (seconds * 1000)));
                rows.add(new Row(demo.name(), batch, c));
              } finally {
                in.values().forEach(Tensor::close);
              }
            }
          }
        }
      }
      printLatency(out, rows);
      printFirst(out, firsts);
      printMeters(out, registry);
      out.println("Timings from one run on this machine (" + Runtime.getRuntime().availableProcessors()
          + " cores); they are noisy: compare ratios, not absolute figures.");
      out.flush();
      return allPassed ? 0 : 1;
    });
  }

  private static double firstCall(SavedModelBundle b, Signature sig) {
    Map<String, Tensor> in = ProbeInputs.generate(sig, 1, 3);
    try {
      long t = System.nanoTime();
      b.session().run(sig, in).close();
      return (System.nanoTime() - t) / 1e6;
    } finally {
      in.values().forEach(Tensor::close);
    }
  }

  private static double firstCall(FusedModel m, Signature sig) {
    Map<String, Tensor> in = ProbeInputs.generate(sig, 1, 3);
    try {
      long t = System.nanoTime();
      try (Result r = m.call(sig.key(), in)) {
        return (System.nanoTime() - t) / 1e6;
      }
    } finally {
      in.values().forEach(Tensor::close);
    }
  }

  private static void printLatency(PrintWriter out, List<Row> rows) {
    out.println("== latency: SavedModelBundle (original) vs FusedModel (fused), A/B interleaved, ms");
    out.printf("%-20s %5s %12s %12s %12s %12s %8s%n", "model", "batch", "orig median", "orig p90", "fused median",
        "fused p90", "ratio");
    for (Row r : rows) {
      out.printf("%-20s %5d %12.3f %12.3f %12.3f %12.3f %8.2f%n", r.model(), r.batch(), r.c().a().medianMs(),
          r.c().a().p90Ms(), r.c().b().medianMs(), r.c().b().p90Ms(), r.c().ratio());
    }
    out.println("(ratio = fused median / original median; below 1 is faster)");
    out.println();
  }

  private static void printFirst(PrintWriter out, List<First> firsts) {
    out.println("== first request after load, batch 1, ms (FusedModel.load warms the model up)");
    out.printf("%-20s %14s %14s %14s %14s%n", "model", "orig load", "orig first", "fused load", "fused first");
    for (First f : firsts) {
      out.printf("%-20s %14.1f %14.2f %14.1f %14.2f%n", f.model(), f.originalLoadMs(), f.originalMs(),
          f.fusedLoadMs(), f.fusedMs());
    }
    out.println();
  }

  private static void printMeters(PrintWriter out, SimpleMeterRegistry registry) {
    out.println("== Micrometer meters recorded by FusedModel during this run");
    List<Meter> meters = new ArrayList<>(registry.getMeters());
    meters.sort(Comparator.comparing((Meter m) -> m.getId().getName()).thenComparing(m -> tags(m)));
    for (Meter m : meters) {
      if (m instanceof Timer t) {
        if (t.count() == 0) {
          continue;
        }
        out.printf("%-16s %-60s count=%d mean=%.3f ms max=%.3f ms%n", m.getId().getName(), tags(m), t.count(),
            t.mean(TimeUnit.MILLISECONDS), t.max(TimeUnit.MILLISECONDS));
      } else if (m instanceof Gauge g) {
        out.printf("%-16s %-60s value=%s%n", m.getId().getName(), tags(m), fmt(g.value()));
      }
    }
    out.println();
  }

  private static String tags(Meter m) {
    return m.getId().getTags().stream().map(t -> t.getKey() + "=" + t.getValue()).collect(Collectors.joining(","));
  }

  private static String fmt(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : String.format("%.3f", v);
  }

  private static void progress(PrintWriter err, String msg) {
    err.println("demo: " + msg);
    err.flush();
  }

  /** {@code <home>/cli/target/demo-models} when {@code home} (the repository root) is known, else {@code target/demo-models}. */
  static Path defaultWorkDir(String home) {
    return home == null || home.isBlank()
        ? Path.of("target", "demo-models")
        : Path.of(home, "cli", "target", "demo-models");
  }

}
