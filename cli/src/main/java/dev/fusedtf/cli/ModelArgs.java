package dev.fusedtf.cli;

import dev.fusedtf.FoldReport;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.formats.GraphModel;
import dev.fusedtf.formats.ModelLocation;
import dev.fusedtf.fold.Pass;
import dev.fusedtf.fold.Pipeline;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * What {@code inspect}, {@code verify} and {@code fuse} share: the model (any format), the names a checkpoint or
 * frozen graph needs, tags, disabled passes, JSON output.
 */
final class ModelArgs {
  @Parameters(index = "0", paramLabel = "<model>", description = "SavedModel directory, checkpoint .meta file, "
      + "frozen GraphDef .pb/.pbtxt, or a directory holding one .meta or one .pb.")
  Path modelDir;

  @Option(names = "--checkpoint", paramLabel = "PREFIX",
      description = "Checkpoint prefix (default: the .meta path without .meta).")
  Path checkpoint;

  @Option(names = "--inputs", split = ",", paramLabel = "TENSOR",
      description = "Input tensors of a checkpoint or frozen graph, e.g. Reshape:0 (default: its Placeholders).")
  List<String> inputs = new ArrayList<>();

  @Option(names = "--outputs", split = ",", paramLabel = "TENSOR",
      description = "Output tensors of a checkpoint or frozen graph (default: the ends of the graph the inputs feed).")
  List<String> outputs = new ArrayList<>();

  @Option(names = "--tags", split = ",", paramLabel = "TAG",
      description = "MetaGraph tags to load, comma-separated (default: ${DEFAULT-VALUE}).")
  List<String> tags;

  @Option(names = "--disable-pass", paramLabel = "NAME", completionCandidates = PassNames.class,
      description = "Do not run this pass (repeatable). Passes: ${COMPLETION-CANDIDATES}.")
  List<String> disabledPasses = new ArrayList<>();

  @Option(names = "--json", description = "Print the report as JSON (stdout only; logs go to stderr).")
  boolean json;

  /** Options for the model, from these arguments; unknown pass names are a usage error. */
  FusedModelOptions.Builder options(CommandSpec spec) {
    FusedModelOptions.Builder b = FusedModelOptions.builder().tags(tags.toArray(String[]::new));
    List<String> known = new PassNames().names;
    for (String p : disabledPasses) {
      if (!known.contains(p)) {
        throw new ParameterException(spec.commandLine(),
            "unknown pass '" + p + "' for --disable-pass; passes: " + String.join(", ", known));
      }
      b.disablePass(p);
    }
    return b;
  }

  /** Where the model is and in which format. */
  ModelLocation location() {
    return ModelLocation.of(modelDir);
  }

  /** Reads a checkpoint or frozen graph named by these arguments. */
  GraphModel graphModel(ModelLocation where) {
    return where.open(checkpoint, inputs, outputs);
  }

  /** Prints {@code report} to stdout, as text or JSON. */
  void print(CommandSpec spec, FoldReport report) {
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(report.toJson());
    } else {
      out.print(report.toText());
    }
    out.flush();
  }

  /** The names of the built-in passes, for help and validation. */
  static final class PassNames implements Iterable<String> {
    final List<String> names = Pipeline.defaultPasses().stream().map(Pass::name).toList();

    @Override
    public Iterator<String> iterator() {
      return names.iterator();
    }
  }

  /** Option defaults taken from {@link FusedModelOptions#defaults()}, so the CLI and the library agree. */
  static final class LibraryDefaults implements IDefaultValueProvider {
    @Override
    public String defaultValue(ArgSpec arg) {
      if (!(arg instanceof OptionSpec o)) {
        return null;
      }
      FusedModelOptions d = FusedModelOptions.defaults();
      return switch (o.longestName()) {
        case "--tags" -> String.join(",", d.tags());
        case "--atol" -> String.valueOf(d.absTolerance());
        case "--rtol" -> String.valueOf(d.relTolerance());
        case "--batches" -> String.join(",", Arrays.stream(d.probeBatches()).mapToObj(String::valueOf).toList());
        default -> null;
      };
    }
  }
}
