package dev.fusedtf.report;

/**
 * How much one output of the original moves between two different random probes: an output that barely moves
 * (a saturated softmax or sigmoid) could not catch a wrong fold by itself, so the per-fold figures decide.
 *
 * @param signature the signature key
 * @param output the output name
 * @param relChange max |out(probe a) - out(probe b)| / max |out(probe a)|
 * @param flagged whether it is below the threshold that makes a final-output comparison uninformative
 */
public record Sensitivity(String signature, String output, double relChange, boolean flagged) {}
