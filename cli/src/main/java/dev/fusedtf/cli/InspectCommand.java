package dev.fusedtf.cli;

import dev.fusedtf.FusedGraph;
import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.formats.ModelLocation;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code fusedtf inspect}: what would fold and what would not, and why, without building the fused model. */
@Command(name = "inspect", mixinStandardHelpOptions = true, defaultValueProvider = ModelArgs.LibraryDefaults.class,
    description = "Show which BatchNorms would fold (and why the others would not), without folding.")
final class InspectCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Mixin
  ModelArgs model;

  @Override
  public Integer call() {
    return CliErrors.run(spec, () -> {
      FusedModelOptions options = model.options(spec).build();
      ModelLocation where = model.location();
      model.print(spec, where.kind() == ModelLocation.Kind.SAVED_MODEL
          ? FusedModel.inspect(where.path(), options)
          : FusedGraph.inspect(model.graphModel(where), options));
      return 0;
    });
  }
}
