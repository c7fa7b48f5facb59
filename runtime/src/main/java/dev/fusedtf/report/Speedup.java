package dev.fusedtf.report;

/**
 * The original and the fused model timed A/B interleaved at load, on the same probe inputs.
 *
 * @param signature the signature timed
 * @param batch the probe batch size
 * @param original latency of the original model
 * @param fused latency of the fused model
 * @param ratio median(fused) / median(original); below 1 is faster
 * @param faster whether the rewritten model is faster beyond noise (ratio below {@link #NOT_FASTER}); when false,
 *     {@code serveFaster} serves the original
 */
public record Speedup(String signature, int batch, LatencyStats original, LatencyStats fused, double ratio,
    boolean faster) {
  /** A median ratio at or above this is "not faster": within the noise of a load-time measurement, or slower. */
  public static final double NOT_FASTER = 0.98;

  /** The figures, with {@code faster} from the ratio. */
  public static Speedup of(String signature, int batch, LatencyStats original, LatencyStats fused, double ratio) {
    return new Speedup(signature, batch, original, fused, ratio, ratio < NOT_FASTER);
  }
}
