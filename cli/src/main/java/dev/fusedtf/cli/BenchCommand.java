package dev.fusedtf.cli;

import dev.fusedtf.bench.AbHarness;
import dev.fusedtf.bench.AbReport;
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

  @Override
  public Integer call() {
    return CliErrors.run(spec, () -> {
      AbHarness.Config config = new AbHarness.Config(model, tags.toArray(String[]::new), signature,
          batches.stream().mapToInt(Integer::intValue).toArray(), rounds, warmup,
          Duration.ofMillis((long) (seconds * 1000)), 42, true);
      AbReport report = new AbHarness(config, new PrintStream(System.err, true)).run();
      PrintWriter out = spec.commandLine().getOut();
      out.print(json ? report.toJson() + "\n" : report.toText());
      out.flush();
      return 0;
    });
  }
}
