package dev.fusedtf.report;

import java.util.List;

/**
 * The outcome of checking the rewritten model against the original on probe inputs.
 *
 * @param passed every compared output and every fold's own tensor within tolerance, and every signature compared
 *     (a model with an unverified signature does not pass)
 * @param maxAbsDiff the largest absolute difference over all outputs and probes
 * @param maxRelDiff the largest relative difference (see {@link OutputDiff#maxRelDiff()})
 * @param absTolerance the absolute tolerance used
 * @param relTolerance the relative tolerance used
 * @param outputs per signature, output and probe batch
 * @param folds per fold: its own tensor compared
 * @param unverified signatures that could not be compared, with the reason
 * @param sensitivity how much each output moves between two probes (flagged when too little to catch a wrong fold)
 * @param reference what the rewritten model was compared against: {@code original}, or {@code layout-rewrite} (the
 *     original with only its channels-first convolutions rewritten channels-last) when the original cannot run here
 * @param originalError why the original cannot run on this machine, or null
 * @param nondeterministic stateful random ops on the serving path that make the original disagree with itself
 * @param note what else the check has to say (why it failed), or null
 */
public record CheckResult(boolean passed, double maxAbsDiff, double maxRelDiff, double absTolerance,
    double relTolerance, List<OutputDiff> outputs, List<FoldDiff> folds, List<Unverified> unverified,
    List<Sensitivity> sensitivity, String reference, String originalError, List<String> nondeterministic,
    String note) {

  /** The reference value when the rewritten model was compared against the original itself. */
  public static final String REFERENCE_ORIGINAL = "original";
  /** The reference value when the original could not run and its layout-only rewrite stood in for it. */
  public static final String REFERENCE_LAYOUT = "layout-rewrite";

  /** Copies the lists. */
  public CheckResult {
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
    folds = folds == null ? List.of() : List.copyOf(folds);
    unverified = unverified == null ? List.of() : List.copyOf(unverified);
    sensitivity = sensitivity == null ? List.of() : List.copyOf(sensitivity);
    nondeterministic = nondeterministic == null ? List.of() : List.copyOf(nondeterministic);
  }

  /** A check that did not run because the graph is unchanged. */
  public static CheckResult unchanged(double atol, double rtol) {
    return new CheckResult(true, 0, 0, atol, rtol, List.of(), List.of(), List.of(), List.of(), REFERENCE_ORIGINAL,
        null, List.of(), "graph unchanged: the original model is served");
  }

  /** A check that could not run at all. */
  public static CheckResult failed(double atol, double rtol, String note) {
    return new CheckResult(false, Double.NaN, Double.NaN, atol, rtol, List.of(), List.of(), List.of(), List.of(),
        REFERENCE_ORIGINAL, null, List.of(), note);
  }

  /** Whether every serving signature was compared. */
  public boolean complete() {
    return unverified.isEmpty();
  }

  /** Whether some fold's own tensor is outside the tolerance. */
  public boolean foldFailed() {
    return folds.stream().anyMatch(f -> !f.passed());
  }
}
