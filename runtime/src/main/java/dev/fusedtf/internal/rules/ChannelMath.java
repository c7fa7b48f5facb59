package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.weights.DenseTensor;

/**
 * The {@code ChannelMath} is the float64 arithmetic of folding a per-channel affine map {@code y = x * s + t} into
 * the weights of the linear op before it (output channels) or after it (input channels).
 */
final class ChannelMath {
  private ChannelMath() {}

  /** Per-channel scale {@code s = gamma / sqrt(var + eps)}. */
  static double[] bnScale(double[] gamma, double[] variance, double epsilon) {
    double[] s = new double[gamma.length];
    for (int c = 0; c < s.length; c++) {
      s[c] = gamma[c] / Math.sqrt(variance[c] + epsilon);
    }
    return s;
  }

  /** Per-channel shift {@code t = beta - mean * s}. */
  static double[] bnShift(double[] beta, double[] mean, double[] s) {
    double[] t = new double[s.length];
    for (int c = 0; c < t.length; c++) {
      t[c] = beta[c] - mean[c] * s[c];
    }
    return t;
  }

  /** The kernel with every element multiplied by its output channel's scale: {@code W' = W * s[out]}. */
  static DenseTensor scaleOutputs(DenseTensor kernel, KernelLayout layout, double[] s) {
    double[] in = kernel.values();
    double[] out = new double[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = in[i] * s[layout.outChannelOf(i)];
    }
    return kernel.withValues(out);
  }

  /** The folded bias {@code b' = b * s + t} (with {@code b} null meaning zero). */
  static double[] foldBias(double[] b, double[] s, double[] t) {
    double[] out = new double[s.length];
    for (int c = 0; c < out.length; c++) {
      out[c] = (b == null ? 0 : b[c]) * s[c] + t[c];
    }
    return out;
  }

  /** A kernel that absorbed an affine map of its input, and the constant it adds to each output channel. */
  record Forward(DenseTensor kernel, double[] outputShift) {}

  /**
   * {@code conv(x * s + t, W) = conv(x, W * s[in]) + sum over taps and in of t[in] * W}: exact where the conv never
   * reads zero padding.
   */
  static Forward scaleInputs(DenseTensor kernel, KernelLayout layout, double[] s, double[] t) {
    double[] w = kernel.values();
    double[] nw = new double[w.length];
    double[] extra = new double[layout.outChannels()];
    for (int i = 0; i < w.length; i++) {
      int in = layout.inChannelOf(i);
      nw[i] = w[i] * s[in];
      extra[layout.outChannelOf(i)] += t[in] * w[i];
    }
    return new Forward(kernel.withValues(nw), extra);
  }
}
