package dev.fusedtf.cli;

import dev.fusedtf.FusedArtifact;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.report.FoldReport;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fusedtf verify}: the load sequence of {@code FusedModel.load} (pin, fold, rebuild, check, verdict) on any
 * format, and the report; exit 1 if the rewritten model was not accepted.
 */
@Command(name = "verify", mixinStandardHelpOptions = true, defaultValueProvider = ModelArgs.LibraryDefaults.class,
    description = "Fold, check the rewritten model against the original on probe inputs, and report. "
        + "Exit 0 if the check passed (or nothing needed rewriting), 1 if it failed, 2 if the model could not be "
        + "loaded.")
final class VerifyCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Mixin
  ModelArgs model;

  @Option(names = "--strict",
      description = "Fail when the check fails (exit 1 with the reason) instead of keeping the original.")
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
      FoldReport r = FusedArtifact.fuse(model.source(), options).report();
      model.print(spec, r);
      return r.check() != null && r.check().passed() ? 0 : 1;
    });
  }
}
