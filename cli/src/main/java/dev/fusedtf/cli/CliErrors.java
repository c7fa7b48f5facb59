package dev.fusedtf.cli;

import dev.fusedtf.errors.CheckFailedException;
import dev.fusedtf.errors.FusedTfException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.function.IntSupplier;
import picocli.CommandLine.ExitCode;
import picocli.CommandLine.Model.CommandSpec;

/** Turns the errors a user can fix (bad model dir, bad option value) into one line on stderr and exit code 2. */
final class CliErrors {
  private CliErrors() {}

  /**
   * Runs {@code body}; a failed check in strict mode gives exit 1; a {@link FusedTfException}, {@link IllegalArgumentException} or I/O error
   * gives exit 2.
   */
  static int run(CommandSpec spec, IntSupplier body) {
    try {
      return body.getAsInt();
    } catch (CheckFailedException e) {
      PrintWriter err = spec.commandLine().getErr();
      err.println("error: " + oneLine(e));
      err.flush();
      return 1;
    } catch (FusedTfException | IllegalArgumentException | UncheckedIOException e) {
      PrintWriter err = spec.commandLine().getErr();
      err.println("error: " + oneLine(e));
      err.flush();
      return ExitCode.USAGE;
    }
  }

  private static String oneLine(Exception e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getSimpleName() : m.strip().replaceAll("\\s*\\R\\s*", " ");
  }
}
