package dev.fusedtf.cli;

import dev.fusedtf.FusedArtifact;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.ModelSource;
import dev.fusedtf.errors.FusedTfException;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.report.Served;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fusedtf fuse}: folds a model and writes the result. Reads a SavedModel directory, a TF1 checkpoint
 * ({@code model.ckpt.meta} with its {@code .index}/{@code .data}) or a frozen GraphDef ({@code .pb}, binary or
 * text); writes a SavedModel directory, or a frozen GraphDef when the output ends in {@code .pb} (checkpoint and
 * frozen input, or a SavedModel whose variables were all frozen). Nothing is written when the check fails; an existing output is replaced only with
 * {@code --force}; a failed write leaves nothing behind.
 */
@Command(name = "fuse", mixinStandardHelpOptions = true, defaultValueProvider = ModelArgs.LibraryDefaults.class,
    description = "Fold BatchNorms and write the fused model (SavedModel dir, or frozen .pb).")
final class FuseCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin
  ModelArgs model;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "PATH",
      description = "Output: a SavedModel directory, or a file ending in .pb for a frozen GraphDef.")
  Path output;

  @Option(names = "--report", arity = "0..1", paramLabel = "FILE", fallbackValue = "",
      description = "Write the report JSON to FILE (default with no FILE: <output>.report.json beside it).")
  String report;

  @Option(names = "--force", description = "Replace an existing output.")
  boolean force;

  @Override
  public Integer call() {
    return CliErrors.run(spec, this::fuse);
  }

  private int fuse() {
    PrintWriter err = spec.commandLine().getErr();
    if (Files.exists(output) && !force) {
      throw new FusedTfException("output " + output + " already exists (use --force to replace it)");
    }
    FusedModelOptions options = model.options(spec).build();
    boolean frozenOut = output.getFileName().toString().endsWith(".pb");
    ModelSource source = model.source();
    err.println("reading " + source.format() + " " + source.path() + " ...");
    err.flush();
    FusedArtifact fused = FusedArtifact.fuse(source, options);
    FoldReport r = fused.report();
    if (r.served() == Served.ORIGINAL && r.fallbackReason() != null) {
      return failed(r);
    }
    if (frozenOut) {
      fused.writeFrozenGraph(output, force);
    } else {
      fused.writeSavedModel(output, force);
    }
    writeReport(r);
    model.print(spec, r);
    err.println("wrote " + output + (r.served() == Served.ORIGINAL ? " (nothing to rewrite: the original)" : ""));
    err.flush();
    return 0;
  }

  private int failed(FoldReport r) {
    PrintWriter err = spec.commandLine().getErr();
    err.println("error: the rewritten model was not accepted; nothing written");
    err.print(r.toText());
    err.flush();
    writeReport(r);
    return 1;
  }

  private void writeReport(FoldReport r) {
    if (report == null) {
      return;
    }
    Path file = report.isEmpty() ? output.resolveSibling(output.getFileName() + ".report.json") : Path.of(report);
    try {
      Files.writeString(file, r.toJson());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write report " + file + ": " + e.getMessage(), e);
    }
  }
}
