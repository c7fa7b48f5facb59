package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.weights.DenseTensor;
import java.util.Arrays;

/** How a constant broadcasts against a tensor whose channels are on one axis: per-channel values, or not at all. */
final class PerChannel {
  private PerChannel() {}

  /**
   * Per-channel values of {@code t} as it broadcasts against a tensor of rank {@code rank} whose channel axis is 1
   * ({@code channelsFirst}) or the last, or null when it does not broadcast that way (a scalar fills every channel;
   * a null {@code t} gives {@code fill}). A constant of higher rank than the tensor would change the result's rank,
   * and one that varies along another axis is not per-channel: both give null.
   */
  static double[] values(DenseTensor t, int channels, boolean channelsFirst, double fill, int rank) {
    if (t == null || t.size() == 1) {
      if (t != null && t.rank() > rank) {
        return null;
      }
      double[] v = new double[channels];
      Arrays.fill(v, t == null ? fill : t.get(0));
      return v;
    }
    long[] s = t.shape();
    if (s.length > rank || t.size() != channels) {
      return null;
    }
    int axis = channelsFirst ? 1 : rank - 1;
    for (int i = 0; i < s.length; i++) {
      int aligned = rank - s.length + i;
      if (aligned == axis ? s[i] != channels : s[i] != 1) {
        return null;
      }
    }
    return axis >= rank - s.length ? t.values() : null;
  }
}
