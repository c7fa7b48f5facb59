package dev.fusedtf.report;

/**
 * The original and the fused model timed A/B interleaved at load, on the same probe inputs.
 *
 * @param signature the signature timed
 * @param batch the probe batch size
 * @param original latency of the original model
 * @param fused latency of the fused model
 * @param ratio median(fused) / median(original); below 1 is faster
 */
public record Speedup(String signature, int batch, LatencyStats original, LatencyStats fused, double ratio) {}
