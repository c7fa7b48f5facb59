package dev.fusedtf.errors;

import dev.fusedtf.report.FoldReport;

/**
 * Thrown in strict mode when the fused model's outputs do not match the original's; {@link #report()} holds the
 * figures.
 */
public class CheckFailedException extends FusedTfException {
  private final transient FoldReport report;

  /** An exception with its message and the report of the failed load. */
  public CheckFailedException(String message, FoldReport report) {
    super(message);
    this.report = report;
  }

  /** The report, with the check's figures and the reason. */
  public FoldReport report() {
    return report;
  }
}
