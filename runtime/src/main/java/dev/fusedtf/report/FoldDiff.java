package dev.fusedtf.report;

/**
 * How the tensor one fold produced differs between the original and the fused model, over every probe: the
 * node that replaced the BatchNorm keeps its name, so both graphs can be asked for it.
 *
 * @param bn the folded BatchNorm (or Scale), as in {@link Fold#bn()}
 * @param function its function body, or null at the top level
 * @param tensor the tensor compared (in the fused graph)
 * @param maxAbsDiff max |fused - original| over all probes
 * @param maxRelDiff the largest absolute difference divided by max |original|
 * @param passed whether it is within tolerance; a fold outside it fails the check even when the outputs agree
 * @param note why it could not be compared (then {@code passed} is true only if the outputs decide), or null
 */
public record FoldDiff(String bn, String function, String tensor, double maxAbsDiff, double maxRelDiff, boolean passed,
    String note) {
  /** Whether the fold's own tensor was compared. */
  public boolean compared() {
    return note == null;
  }
}
