package dev.fusedtf.report;

/**
 * How one output of one signature differs between the original and the fused model on one probe.
 *
 * @param signature the signature key
 * @param output the output name
 * @param batch the probe's batch size
 * @param maxAbsDiff max |fused - original|
 * @param maxRelDiff max |fused - original| / max |original| (relative to the output's own scale)
 * @param passed whether this output is within tolerance
 */
public record OutputDiff(String signature, String output, int batch, double maxAbsDiff, double maxRelDiff,
    boolean passed) {}
