package dev.fusedtf.check;

import java.util.List;

/**
 * The outcome of checking the fused model against the original on probe inputs.
 *
 * @param passed whether every compared output is within tolerance (true when nothing needed checking)
 * @param maxAbsDiff the largest absolute difference over all outputs and probes
 * @param maxRelDiff the largest relative difference (see {@link OutputDiff#maxRelDiff()})
 * @param absTolerance the absolute tolerance used
 * @param relTolerance the relative tolerance used
 * @param outputs per signature, output and probe batch
 * @param note what was not compared, or why the check failed; null when there is nothing to say
 */
public record CheckResult(boolean passed, double maxAbsDiff, double maxRelDiff, double absTolerance,
    double relTolerance, List<OutputDiff> outputs, String note) {

  /** A check that did not run because the graph is unchanged. */
  public static CheckResult unchanged(double atol, double rtol) {
    return new CheckResult(true, 0, 0, atol, rtol, List.of(), "graph unchanged: the original model is served");
  }
}
