package dev.fusedtf.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command line without a model: help, usage errors, load errors, defaults. */
class FusedTfCliTest {

  /** What one in-process run of {@code fusedtf} printed and returned. */
  record Run(int exit, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = new CommandLine(new FusedTfCli())
        .setOut(new PrintWriter(out, true))
        .setErr(new PrintWriter(err, true))
        .execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  @Test
  void helpListsTheSubcommands() {
    Run r = run("--help");
    assertEquals(0, r.exit(), r.err());
    for (String sub : new String[] {"inspect", "verify", "demo"}) {
      assertTrue(r.out().contains(sub), "help should list " + sub + ":\n" + r.out());
    }
  }

  @Test
  void verifyHelpShowsTheLibraryDefaults() {
    Run r = run("verify", "--help");
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("default: 1.0E-5"), r.out());
    assertTrue(r.out().contains("default: 1,8"), r.out());
    assertTrue(r.out().contains("fold-batchnorm"), "pass names listed:\n" + r.out());
  }

  @Test
  void verifyOnAMissingDirectoryExits2WithOneLineError() {
    Path missing = Path.of("target", "no-such-model").toAbsolutePath();
    Run r = run("verify", missing.toString());
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().startsWith("error: "), r.err());
    assertTrue(r.err().contains("does not exist") && r.err().contains("no-such-model"), r.err());
    assertEquals(1, r.err().strip().lines().count(), "one line, no stack trace:\n" + r.err());
    assertEquals("", r.out());
  }

  @Test
  void badOptionValuesAreUsageErrors() {
    assertEquals(2, run("verify", "x", "--atol", "-1").exit(), "negative tolerance");
    assertEquals(2, run("verify", "x", "--batches", "0").exit(), "batch 0");
    Run r = run("inspect", "x", "--disable-pass", "no-such-pass");
    assertEquals(2, r.exit());
    assertTrue(r.err().contains("unknown rule 'no-such-pass'"), r.err());
    r = run("inspect", "x", "--set", "is_training");
    assertEquals(2, r.exit());
    assertTrue(r.err().contains("NAME=VALUE"), r.err());
    assertEquals(2, run("verify").exit(), "missing model dir");
    assertEquals(2, run().exit(), "missing subcommand");
  }

  @Test
  void demoWorkDirDefaultsToTheRepositoryWhenTheLauncherNamesIt() {
    assertEquals(Path.of("/repo", "cli", "target", "demo-models"), DemoCommand.defaultWorkDir("/repo"));
    assertEquals(Path.of("target", "demo-models"), DemoCommand.defaultWorkDir(null));
  }

  @Test
  void versionIsPrinted() {
    Run r = run("--version");
    assertEquals(0, r.exit());
    assertFalse(r.out().isBlank());
    assertTrue(r.out().contains("0.1.0"), r.out());
  }
}
