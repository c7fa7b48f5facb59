package dev.fusedtf.report;

import java.util.Arrays;

/**
 * Summary of a set of latencies: median, 90th percentile, mean, min, in milliseconds.
 *
 * @param medianMs the median
 * @param p90Ms the 90th percentile (nearest rank)
 * @param meanMs the mean
 * @param minMs the fastest
 * @param count the number of samples
 */
public record LatencyStats(double medianMs, double p90Ms, double meanMs, double minMs, int count) {

  /** Statistics of these durations in nanoseconds. */
  public static LatencyStats ofNanos(long[] nanos) {
    if (nanos.length == 0) {
      return new LatencyStats(Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0);
    }
    long[] s = nanos.clone();
    Arrays.sort(s);
    double sum = 0;
    for (long v : s) {
      sum += v;
    }
    return new LatencyStats(percentile(s, 50) / 1e6, percentile(s, 90) / 1e6, sum / s.length / 1e6, s[0] / 1e6,
        s.length);
  }

  /** The {@code p}-th percentile of sorted values: linear interpolation between closest ranks. */
  static double percentile(long[] sorted, double p) {
    if (sorted.length == 1) {
      return sorted[0];
    }
    double rank = p / 100.0 * (sorted.length - 1);
    int lo = (int) Math.floor(rank);
    int hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
  }
}
