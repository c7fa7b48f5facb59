package dev.fusedtf.cli;

import dev.fusedtf.FusedModel;
import dev.fusedtf.synth.DemoModels;
import dev.fusedtf.synth.DemoModels.Demo;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fusedtf demo}: writes the demo SavedModels, then loads each one (fold + check) and prints its report. */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Write the demo SavedModels (ResNet-style, MobileNetV2-style, Conv-BN-ReLU), then fold, check and "
        + "report each. Exit 1 if a check failed.")
final class DemoCommand implements Callable<Integer> {
  /** System property the {@code ./fusedtf} launcher sets to the repository root. */
  static final String HOME_PROPERTY = "fusedtf.home";

  @Spec
  CommandSpec spec;

  @Option(names = "--work-dir", paramLabel = "DIR",
      description = "Where to write the demo models (default: cli/target/demo-models in the repository when run "
          + "by ./fusedtf, else ./target/demo-models).")
  Path workDir;

  @Override
  public Integer call() {
    return CliErrors.run(spec, () -> {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      Path dir = (workDir != null ? workDir : defaultWorkDir(System.getProperty(HOME_PROPERTY)))
          .toAbsolutePath().normalize();
      err.println("demo: writing the demo models to " + dir);
      err.flush();
      List<Demo> demos = DemoModels.writeAll(dir);
      boolean allPassed = true;
      for (int i = 0; i < demos.size(); i++) {
        Demo demo = demos.get(i);
        err.printf("demo: [%d/%d] loading %s (fold, rebuild, check)%n", i + 1, demos.size(), demo.name());
        err.flush();
        try (FusedModel m = FusedModel.load(demo.dir())) {
          out.println("== " + demo.name() + ": " + demo.description());
          out.print(m.report().toText());
          out.println();
          out.flush();
          allPassed &= m.check().passed();
        }
      }
      return allPassed ? 0 : 1;
    });
  }

  /** {@code <home>/cli/target/demo-models} when {@code home} (the repository root) is known, else {@code target/demo-models}. */
  static Path defaultWorkDir(String home) {
    return home == null || home.isBlank()
        ? Path.of("target", "demo-models")
        : Path.of(home, "cli", "target", "demo-models");
  }
}
