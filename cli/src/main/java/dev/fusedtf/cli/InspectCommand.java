package dev.fusedtf.cli;

import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code fusedtf inspect}: what would fold and what would not, and why, and which placeholders to pin, without
 * building or checking the rewritten model.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true, defaultValueProvider = ModelArgs.LibraryDefaults.class,
    description = "Show which BatchNorms would fold (and why the others would not) and which placeholders to pin, "
        + "without folding.")
final class InspectCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Mixin
  ModelArgs model;

  @Override
  public Integer call() {
    return CliErrors.run(spec, () -> {
      FusedModelOptions options = model.options(spec).build(); // usage errors first
      model.print(spec, FusedModel.inspect(model.source(), options));
      return 0;
    });
  }
}
