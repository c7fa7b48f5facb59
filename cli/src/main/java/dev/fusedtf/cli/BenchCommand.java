package dev.fusedtf.cli;

import dev.fusedtf.bench.AbHarness;
import dev.fusedtf.bench.AbReport;
import dev.fusedtf.bench.FirstPrediction;
import dev.fusedtf.bench.LoadMemory;
import java.util.Map;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code fusedtf bench}: times a SavedModel loaded with plain {@code SavedModelBundle.load} against the same model
 * loaded with {@code FusedModel.load}, A/B interleaved in one process (the {@code benchmarks} module's
 * {@link AbHarness}): medians, p90, the ratio, first-call latency, achieved GFLOP/s where the FLOPs are known.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Time the original against the fused model, A/B interleaved in one process.")
final class BenchCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "<model-dir>", description = "SavedModel directory.")
  Path model;

  @Option(names = "--batches", split = ",", defaultValue = "1,32", paramLabel = "N",
      description = "Batch sizes (default: ${DEFAULT-VALUE}).")
  List<Integer> batches;

  @Option(names = "--rounds", defaultValue = "200", paramLabel = "N",
      description = "Most A-B-B-A rounds per batch (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--warmup", defaultValue = "20", paramLabel = "N",
      description = "Warm-up calls per side per batch (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--seconds", defaultValue = "20", paramLabel = "S",
      description = "Time budget of the rounds per batch (default: ${DEFAULT-VALUE}).")
  double seconds;

  @Option(names = "--tags", split = ",", defaultValue = "serve", paramLabel = "TAG",
      description = "MetaGraph tags (default: ${DEFAULT-VALUE}).")
  List<String> tags;

  @Option(names = "--signature", defaultValue = "serving_default", paramLabel = "KEY",
      description = "Signature to time (default: ${DEFAULT-VALUE}).")
  String signature;

  @Option(names = "--json", description = "Print the report as JSON on stdout.")
  boolean json;

  @Option(names = "--first-prediction", defaultValue = "3", paramLabel = "N",
      description = "Rounds of the time-to-first-prediction measurement: plain, FusedModel.load, fuseInBackground "
          + "and a disk-cache hit in turn, load + first call each (default: ${DEFAULT-VALUE}; 0 skips it).")
  int firstPredictionRounds;

  @Option(names = "--memory", description = "Also measure resident memory (peak during load, and while serving) "
      + "of each way of loading, one fresh JVM each.")
  boolean memory;

  @Override
  public Integer call() {
    return CliErrors.run(spec, () -> {
      AbHarness.Config config = new AbHarness.Config(model, tags.toArray(String[]::new), signature,
          batches.stream().mapToInt(Integer::intValue).toArray(), rounds, warmup,
          Duration.ofMillis((long) (seconds * 1000)), 42, true);
      PrintStream progress = new PrintStream(System.err, true);
      AbReport report = new AbHarness(config, progress).run();
      FirstPrediction.Figures first = firstPredictionRounds > 0
          ? new FirstPrediction(model, tags.toArray(String[]::new), signature, progress).run(firstPredictionRounds)
          : null;
      Map<FirstPrediction.Way, LoadMemory.Figures> mem = memory ? LoadMemory.measure(model, signature) : null;
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        JsonObject o = JsonParser.parseString(report.toJson()).getAsJsonObject();
        if (first != null) {
          JsonObject f = new JsonObject();
          for (FirstPrediction.Way w : FirstPrediction.Way.values()) {
            JsonObject e = new JsonObject();
            e.addProperty("medianMs", first.medianMs().get(w));
            e.addProperty("ratioToPlain", first.ratio(w));
            f.add(w.name().toLowerCase(java.util.Locale.ROOT), e);
          }
          o.add("firstPrediction", f);
        }
        if (mem != null) {
          JsonObject m = new JsonObject();
          mem.forEach((w, v) -> {
            JsonObject e = new JsonObject();
            e.addProperty("peakMiB", v.peakMiB());
            e.addProperty("servingMiB", v.servingMiB());
            m.add(w.name().toLowerCase(java.util.Locale.ROOT), e);
          });
          o.add("memory", m);
        }
        out.print(new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n");
      } else {
        out.print(report.toText());
        if (first != null) {
          out.print("\n" + first.toText());
        }
        if (mem != null) {
          out.print("\n" + LoadMemory.toText(mem));
        }
      }
      out.flush();
      return 0;
    });
  }
}
