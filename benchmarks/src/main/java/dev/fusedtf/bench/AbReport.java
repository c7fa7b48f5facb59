package dev.fusedtf.bench;

import com.google.gson.Gson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tensorflow.TensorFlow;

/**
 * The {@code AbReport} holds the figures of one {@link AbHarness} run: the machine, what the fused model folded, and
 * per batch size the latency statistics of the original and the fused model. Times are in milliseconds.
 *
 * @param model the model directory
 * @param signature the signature key measured
 * @param tags MetaGraph tags
 * @param machine where it ran
 * @param served which graph {@code FusedModel} serves ({@code fused} or {@code original})
 * @param folds number of BatchNorms folded (from the FusedModel's report)
 * @param skipped number of BatchNorms left alone
 * @param nodesBefore nodes on the serving path before folding
 * @param nodesAfter nodes on the serving path after folding
 * @param fusedLoadPhasesMs load phases of the first {@code FusedModel.load} (load, fold, rebuild, check)
 * @param maxRounds ABBA rounds asked for per batch
 * @param warmup warm-up calls per side per batch
 * @param budgetSecondsPerBatch time budget of the rounds per batch
 * @param seed input seed
 * @param batches per batch size
 */
public record AbReport(String model, String signature, List<String> tags, Machine machine, String served, int folds,
    int skipped, int nodesBefore, int nodesAfter, Map<String, Long> fusedLoadPhasesMs, int maxRounds, int warmup,
    double budgetSecondsPerBatch, long seed, List<BatchResult> batches) {

  /** Non-finite doubles (NaN: not measured; Infinity: outputs not comparable) are written as JSON null. */
  /** The report conventions: pretty, nulls written, NaN and infinities as null (JSON has no such numbers). */
  private static final Gson GSON = new com.google.gson.GsonBuilder().setPrettyPrinting().serializeNulls()
      .disableHtmlEscaping().registerTypeAdapter(Double.class, new FiniteOrNull())
      .registerTypeAdapter(double.class, new FiniteOrNull()).create();

  /** Writes NaN and infinite doubles as JSON null. */
  private static final class FiniteOrNull extends com.google.gson.TypeAdapter<Double> {
    @Override
    public void write(com.google.gson.stream.JsonWriter out, Double v) throws java.io.IOException {
      if (v == null || v.isNaN() || v.isInfinite()) {
        out.nullValue();
      } else {
        out.value(v);
      }
    }

    @Override
    public Double read(com.google.gson.stream.JsonReader in) throws java.io.IOException {
      if (in.peek() == com.google.gson.stream.JsonToken.NULL) {
        in.nextNull();
        return Double.NaN;
      }
      return in.nextDouble();
    }
  }

  /** Copies the collections. */
  public AbReport {
    tags = List.copyOf(tags);
    fusedLoadPhasesMs = fusedLoadPhasesMs == null ? Map.of() : new LinkedHashMap<>(fusedLoadPhasesMs);
    batches = List.copyOf(batches);
  }

  /** The report as pretty-printed JSON; non-finite figures are written as null. */
  public String toJson() {
    return GSON.toJson(this);
  }

  /** A plain-text table. */
  public String toText() {
    StringBuilder sb = new StringBuilder();
    sb.append("model:     ").append(model).append("  (signature ").append(signature).append(", tags ")
        .append(String.join(",", tags)).append(")\n");
    sb.append("machine:   ").append(machine.describe()).append('\n');
    sb.append("fused:     served=").append(served).append(", folds=").append(folds).append(", skipped=")
        .append(skipped).append(", serving-path nodes ").append(nodesBefore).append(" -> ").append(nodesAfter)
        .append(", load phases ms ").append(fusedLoadPhasesMs).append('\n');
    sb.append(String.format(Locale.ROOT, "method:    ABBA rounds (max %d, budget %.0f s per batch), %d warm-up calls "
        + "per side, times in ms%n", maxRounds, budgetSecondsPerBatch, warmup));
    sb.append("           other% = share of the CPUs used by other processes during the rounds (contention)\n");
    String head = String.format(Locale.ROOT,
        "%5s %6s | %9s %9s | %9s %9s | %10s | %9s %9s | %9s %9s | %9s | %6s | %8s %8s",
        "batch", "calls", "orig med", "orig p90", "fused med", "fused p90", "fused/orig", "orig 1st", "fused 1st",
        "orig load", "fused ld", "max|diff|", "other%", "GF/s org", "GF/s fus");
    sb.append(head).append('\n').append("-".repeat(head.length())).append('\n');
    for (BatchResult r : batches) {
      sb.append(String.format(Locale.ROOT,
          "%5d %6d | %9.3f %9.3f | %9.3f %9.3f | %10.3f | %9.1f %9.1f | %9.0f %9.0f | %9.2g | %6.1f | %8.2f %8.2f%s%n",
          r.batch(), r.calls(), r.originalMedianMs(), r.originalP90Ms(), r.fusedMedianMs(), r.fusedP90Ms(), r.ratio(),
          r.originalFirstCallMs(), r.fusedFirstCallMs(), r.originalLoadMs(), r.fusedLoadMs(), r.maxAbsDiff(),
          r.otherCpuPercent(), r.originalGflops(), r.fusedGflops(), r.budgetHit() ? "  (time budget hit)" : ""));
    }
    return sb.toString();
  }

  /** Writes {@link #toJson()} to {@code file}. */
  public void writeJson(Path file) throws IOException {
    Files.writeString(file, toJson());
  }

  /**
   * Figures of one batch size. Times in milliseconds; {@code calls} samples per side.
   *
   * @param batch batch size
   * @param calls timed calls per side (2 per round)
   * @param rounds ABBA rounds run
   * @param budgetHit whether the rounds stopped early on the time budget
   * @param measureSeconds wall time of the rounds
   * @param originalMedianMs median of the original
   * @param originalP90Ms 90th percentile of the original
   * @param originalMeanMs mean of the original
   * @param originalMinMs fastest original call
   * @param fusedMedianMs median of the fused
   * @param fusedP90Ms 90th percentile of the fused
   * @param fusedMeanMs mean of the fused
   * @param fusedMinMs fastest fused call
   * @param ratio fused median / original median
   * @param originalFirstCallMs first call after {@code SavedModelBundle.load}
   * @param fusedFirstCallMs first call after {@code FusedModel.load} (whose check already ran the fused session)
   * @param originalLoadMs {@code SavedModelBundle.load} time
   * @param fusedLoadMs {@code FusedModel.load} time (load, fold, rebuild, check)
   * @param maxAbsDiff max |fused - original| over all outputs on this batch's input
   * @param maxRelDiff max abs diff relative to each output's largest magnitude
   * @param otherCpuPercent share of the machine's CPU time (0-100) used by OTHER processes during the rounds (Linux;
   *     NaN elsewhere): a contention indicator, timings taken at more than a few percent are suspect
   * @param flops FLOPs of one call counted over its convolutions and matrix products ({@code FlopCounter}), or -1
   *     when unknown
   * @param originalGflops achieved GFLOP/s of the original at its median, NaN when the FLOPs are unknown
   * @param fusedGflops achieved GFLOP/s of the fused model at its median
   */
  public record BatchResult(int batch, int calls, int rounds, boolean budgetHit, double measureSeconds,
      double originalMedianMs, double originalP90Ms, double originalMeanMs, double originalMinMs,
      double fusedMedianMs, double fusedP90Ms, double fusedMeanMs, double fusedMinMs, double ratio,
      double originalFirstCallMs, double fusedFirstCallMs, double originalLoadMs, double fusedLoadMs,
      double maxAbsDiff, double maxRelDiff, double otherCpuPercent, long flops, double originalGflops,
      double fusedGflops) {}

  /**
   * The machine.
   *
   * @param cpus processors available to the JVM
   * @param cpuModel {@code model name} from /proc/cpuinfo, or the os.arch
   * @param avx2 whether /proc/cpuinfo lists avx2
   * @param avx512f whether /proc/cpuinfo lists avx512f
   * @param java Java runtime version
   * @param tensorflow native TensorFlow version
   * @param os operating system
   * @param cpuClass {@code avx512}, {@code avx2} or {@code other}
   * @param oneDnn whether TensorFlow runs oneDNN kernels in this process
   * @param oneDnnSetting where that comes from: {@code TF_ENABLE_ONEDNN_OPTS=...}, or {@code default}
   */
  public record Machine(int cpus, String cpuModel, boolean avx2, boolean avx512f, String java, String tensorflow,
      String os, String cpuClass, boolean oneDnn, String oneDnnSetting) {

    /** This machine. */
    public static Machine current() {
      String model = System.getProperty("os.arch");
      boolean avx2 = false;
      boolean avx512f = false;
      boolean avx512Extras = false;
      try {
        for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
          if (line.startsWith("model name")) {
            model = line.substring(line.indexOf(':') + 1).trim();
          } else if (line.startsWith("flags")) {
            List<String> flags = List.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
            avx2 = flags.contains("avx2");
            avx512f = flags.contains("avx512f");
            avx512Extras = flags.contains("avx512_vnni") || flags.contains("avx512_bf16") || flags.contains("amx_tile");
            break;
          }
        }
      } catch (IOException | RuntimeException e) {
        // not Linux: leave the defaults
      }
      String tf;
      try {
        tf = TensorFlow.version();
      } catch (RuntimeException | LinkageError e) {
        tf = "unknown";
      }
      String env = System.getenv("TF_ENABLE_ONEDNN_OPTS");
      boolean oneDnn;
      String setting;
      if (env != null && (env.equals("1") || env.equalsIgnoreCase("true"))) {
        oneDnn = true;
        setting = "TF_ENABLE_ONEDNN_OPTS=" + env;
      } else if (env != null && (env.equals("0") || env.equalsIgnoreCase("false"))) {
        oneDnn = false;
        setting = "TF_ENABLE_ONEDNN_OPTS=" + env;
      } else {
        oneDnn = avx512f && avx512Extras; // TF 2.18 turns oneDNN on by default only on such CPUs
        setting = "default";
      }
      return new Machine(Runtime.getRuntime().availableProcessors(), model, avx2, avx512f,
          System.getProperty("java.runtime.version", System.getProperty("java.version")), tf,
          System.getProperty("os.name") + " " + System.getProperty("os.version"),
          avx512f ? "avx512" : avx2 ? "avx2" : "other", oneDnn, setting);
    }

    /** One line: CPUs, model, CPU class and oneDNN, Java and TensorFlow versions. */
    public String describe() {
      return cpus + " cpus, " + cpuModel + ", CPU class " + cpuClass + ", oneDNN " + (oneDnn ? "on" : "off") + " ("
          + oneDnnSetting + "), Java " + java + ", TF " + tensorflow;
    }
  }
}
