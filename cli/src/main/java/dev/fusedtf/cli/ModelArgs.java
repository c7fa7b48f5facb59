package dev.fusedtf.cli;

import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.ModelSource;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.internal.rules.Rules;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * What {@code inspect}, {@code verify} and {@code fuse} share: the model (any format), the names a checkpoint or
 * frozen graph needs, tags, pins, disabled rules, JSON output.
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

  @Option(names = "--set", paramLabel = "NAME=VALUE",
      description = "Pin a scalar placeholder to a constant (repeatable), e.g. --set is_training:0=false "
          + "--set keep_prob=1.0. NAME with or without :0; VALUE true/false or a number.")
  List<String> pins = new ArrayList<>();

  @Option(names = {"--disable-rule", "--disable-pass"}, paramLabel = "NAME", completionCandidates = RuleNames.class,
      description = "Do not run this rule (repeatable). Rules: ${COMPLETION-CANDIDATES}.")
  List<String> disabledRules = new ArrayList<>();

  @Option(names = "--serve-unverified", description = "Accept a rewritten model even when part of it could not be "
      + "checked (a signature without probe inputs, an original that cannot run on this machine).")
  boolean serveUnverified;

  @Option(names = "--json", description = "Print the report as JSON (stdout only; logs go to stderr).")
  boolean json;

  /** Options for the model, from these arguments; unknown rule names and malformed pins are usage errors. */
  FusedModelOptions.Builder options(CommandSpec spec) {
    FusedModelOptions.Builder b = FusedModelOptions.builder().tags(tags.toArray(String[]::new))
        .serveUnverified(serveUnverified);
    List<String> known = Rules.names();
    for (String p : disabledRules) {
      if (!known.contains(p)) {
        throw new ParameterException(spec.commandLine(),
            "unknown rule '" + p + "' for --disable-rule; rules: " + String.join(", ", known));
      }
      b.disableRule(p);
    }
    for (Map.Entry<String, String> e : pins(spec).entrySet()) {
      b.pin(e.getKey(), e.getValue());
    }
    return b;
  }

  /** The {@code --set} pins, in order. */
  Map<String, String> pins(CommandSpec spec) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String p : pins) {
      int eq = p.indexOf('=');
      if (eq <= 0 || eq == p.length() - 1) {
        throw new ParameterException(spec.commandLine(), "--set needs NAME=VALUE (e.g. is_training:0=false), got '"
            + p + "'");
      }
      out.put(p.substring(0, eq).trim(), p.substring(eq + 1).trim());
    }
    return out;
  }

  /** Where the model is, in which format, with the names a graph without signatures needs. */
  ModelSource source() {
    return ModelSource.detect(modelDir, checkpoint, inputs, outputs);
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

  /** The names of the built-in rules, for help and validation. */
  static final class RuleNames implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      return Rules.names().iterator();
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
