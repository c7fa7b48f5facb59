package dev.fusedtf.cli;

import dev.fusedtf.FoldReport;
import dev.fusedtf.FusedGraph;
import dev.fusedtf.FusedModel;
import dev.fusedtf.formats.ModelLocation;
import dev.fusedtf.FusedModelOptions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fusedtf verify}: load as {@link FusedModel#load} does (fold, rebuild, check) and report; exit 1 if the check failed. */
@Command(name = "verify", mixinStandardHelpOptions = true, defaultValueProvider = ModelArgs.LibraryDefaults.class,
    description = "Fold, check the fused model against the original on probe inputs, and report. "
        + "Exit 0 if the check passed, 1 if it failed, 2 if the model could not be loaded.")
final class VerifyCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Mixin
  ModelArgs model;

  @Option(names = "--strict",
      description = "Fail loading when the check fails (exit 1 with the reason) instead of serving the original.")
  boolean strict;

  @Option(names = "--atol", paramLabel = "X", description = "Absolute tolerance of the check (default: ${DEFAULT-VALUE}).")
  double atol;

  @Option(names = "--rtol", paramLabel = "X", description = "Relative tolerance of the check (default: ${DEFAULT-VALUE}).")
  double rtol;

  @Option(names = "--batches", split = ",", paramLabel = "N",
      description = "Batch sizes of the probe inputs, comma-separated (default: ${DEFAULT-VALUE}).")
  int[] batches;

  @Override
  public Integer call() {
    return CliErrors.run(spec, () -> {
      FusedModelOptions options = model.options(spec)
          .tolerance(atol, rtol)
          .probeBatches(batches)
          .strict(strict)
          .build();
      ModelLocation where = model.location();
      if (where.kind() != ModelLocation.Kind.SAVED_MODEL) {
        FoldReport r = FusedGraph.fuse(model.graphModel(where), options).report();
        model.print(spec, r);
        return r.check().passed() ? 0 : 1;
      }
      try (FusedModel m = FusedModel.load(where.path(), options)) {
        model.print(spec, m.report());
        return m.check().passed() ? 0 : 1;
      }
    });
  }
}
