package dev.fusedtf.internal.measure;

import dev.fusedtf.report.LatencyStats;
import java.time.Duration;

/**
 * The {@code AbTimer} compares two calls in one process, interleaved A B B A round after round so that drift
 * (thermal, other load, JIT) hits both alike. Timings on a small machine are noisy: read the ratio of medians,
 * not absolute figures, and never assert a time in a unit test.
 */
public final class AbTimer {
  private AbTimer() {}

  /**
   * The outcome: statistics of A and B and the ratio of medians B / A.
   *
   * @param a statistics of A (e.g. the original model)
   * @param b statistics of B (e.g. the fused model)
   * @param ratio median(B) / median(A)
   */
  public record Comparison(LatencyStats a, LatencyStats b, double ratio) {}

  /**
   * Warms both up, then times {@code rounds} rounds of A, B, B, A (two samples of each per round), stopping
   * early when {@code budget} is spent (at least one round always runs).
   */
  public static Comparison compare(Runnable a, Runnable b, int warmup, int rounds, Duration budget) {
    for (int i = 0; i < warmup; i++) {
      a.run();
      b.run();
    }
    long[] ta = new long[rounds * 2];
    long[] tb = new long[rounds * 2];
    long deadline = System.nanoTime() + budget.toNanos();
    int done = 0;
    while (done < rounds) {
      ta[2 * done] = time(a);
      tb[2 * done] = time(b);
      tb[2 * done + 1] = time(b);
      ta[2 * done + 1] = time(a);
      done++;
      if (System.nanoTime() > deadline) {
        break;
      }
    }
    LatencyStats sa = LatencyStats.ofNanos(java.util.Arrays.copyOf(ta, 2 * done));
    LatencyStats sb = LatencyStats.ofNanos(java.util.Arrays.copyOf(tb, 2 * done));
    return new Comparison(sa, sb, sb.medianMs() / sa.medianMs());
  }

  /** Nanoseconds one run of {@code r} takes. */
  public static long time(Runnable r) {
    long t = System.nanoTime();
    r.run();
    return System.nanoTime() - t;
  }
}
