package dev.fusedtf.cli;

import dev.fusedtf.FoldReport;
import dev.fusedtf.FusedGraph;
import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.FusedTfException;
import dev.fusedtf.ModelExport;
import dev.fusedtf.formats.GraphModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code fusedtf fuse}: folds a model and writes the result. Reads a SavedModel directory, a TF1 checkpoint
 * ({@code model.ckpt.meta} with its {@code .index}/{@code .data}) or a frozen GraphDef ({@code .pb}, binary or
 * text); writes a SavedModel directory, or a frozen GraphDef when the output ends in {@code .pb} (checkpoint and
 * frozen input). Nothing is written when the check fails; an existing output is replaced only with
 * {@code --force}; a failed write leaves nothing behind.
 */
@Command(name = "fuse", mixinStandardHelpOptions = true,
    description = "Fold BatchNorms and write the fused model (SavedModel dir, or frozen .pb).")
final class FuseCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "<model>",
      description = "SavedModel directory, checkpoint .meta file, or frozen GraphDef .pb/.pbtxt.")
  Path model;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "PATH",
      description = "Output: a SavedModel directory, or a file ending in .pb for a frozen GraphDef.")
  Path output;

  @Option(names = "--checkpoint", paramLabel = "PREFIX",
      description = "Checkpoint prefix (default: the .meta path without .meta).")
  Path checkpoint;

  @Option(names = "--inputs", split = ",", paramLabel = "TENSOR",
      description = "Input tensors for a checkpoint or frozen graph, e.g. Reshape:0.")
  List<String> inputs = new ArrayList<>();

  @Option(names = "--outputs", split = ",", paramLabel = "TENSOR",
      description = "Output tensors for a checkpoint or frozen graph, e.g. conv2d_16/BiasAdd:0.")
  List<String> outputs = new ArrayList<>();

  @Option(names = "--tags", split = ",", defaultValue = "serve", paramLabel = "TAG",
      description = "MetaGraph tags of a SavedModel (default: ${DEFAULT-VALUE}).")
  List<String> tags;

  @Option(names = "--report", arity = "0..1", paramLabel = "FILE", fallbackValue = "",
      description = "Write the report JSON to FILE (default with no FILE: <output>.report.json beside it).")
  String report;

  @Option(names = "--force", description = "Replace an existing output.")
  boolean force;

  @Option(names = "--json", description = "Print the report as JSON on stdout.")
  boolean json;

  @Override
  public Integer call() {
    return CliErrors.run(spec, this::fuse);
  }

  private int fuse() {
    PrintWriter err = spec.commandLine().getErr();
    if (Files.exists(output) && !force) {
      throw new FusedTfException("output " + output + " already exists (use --force to replace it)");
    }
    FusedModelOptions options = FusedModelOptions.builder().tags(tags.toArray(String[]::new)).build();
    boolean frozenOut = output.getFileName().toString().endsWith(".pb");
    FoldReport r;
    if (Files.isDirectory(model)) {
      if (frozenOut) {
        throw new IllegalArgumentException("a SavedModel input is written as a SavedModel directory, not .pb");
      }
      err.println("fusing SavedModel " + model + " ...");
      try (FusedModel m = FusedModel.load(model, options)) {
        r = m.report();
        if (!r.check().passed()) {
          return failed(r);
        }
        ModelExport.savedModel(m, output, force);
      }
    } else {
      String name = model.getFileName().toString();
      GraphModel g;
      if (name.endsWith(".meta")) {
        Path prefix = checkpoint != null ? checkpoint
            : model.resolveSibling(name.substring(0, name.length() - ".meta".length()));
        err.println("reading checkpoint " + prefix + " with meta graph " + model + " ...");
        g = GraphModel.fromCheckpoint(model, prefix, inputs, outputs);
      } else if (name.endsWith(".pb") || name.endsWith(".pbtxt")) {
        err.println("reading frozen graph " + model + " ...");
        g = GraphModel.fromFrozenGraph(model, inputs, outputs);
      } else {
        throw new IllegalArgumentException(model + " is not a SavedModel directory, a .meta file or a .pb/.pbtxt file");
      }
      FusedGraph fused = FusedGraph.fuse(g, options);
      r = fused.report();
      if (!r.check().passed()) {
        return failed(r);
      }
      if (frozenOut) {
        fused.writeGraphDef(output, force);
      } else {
        fused.writeSavedModel(output, force);
      }
    }
    writeReport(r);
    PrintWriter out = spec.commandLine().getOut();
    out.print(json ? r.toJson() + "\n" : r.toText());
    out.flush();
    err.println("wrote " + output);
    err.flush();
    return 0;
  }

  private int failed(FoldReport r) {
    PrintWriter err = spec.commandLine().getErr();
    err.println("error: the fused model did not match the original; nothing written");
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
