package dev.fusedtf.fold;

import dev.fusedtf.weights.DenseTensor;

/**
 * The {@code ChannelMath} is the float64 arithmetic of folding a per-channel affine map
 * {@code y = x * s + t} into the weights that produced {@code x}.
 */
public final class ChannelMath {
  private ChannelMath() {}

  /**
   * Where the output channel of each kernel element sits: {@code channel = (flat / innerStride) % channels}.
   * Conv2D HWIO and MatMul [in,out] have stride 1 and {@code channels = last dim}; depthwise HWIM has stride 1
   * and {@code channels = in * multiplier}; MatMul with {@code transpose_b} ([out,in]) has stride {@code in}.
   */
  public record KernelLayout(int channels, int innerStride) {
    /** The output channel of flat element {@code i}. */
    public int channelOf(int i) {
      return (i / innerStride) % channels;
    }
  }

  /** Per-channel scale {@code s = gamma / sqrt(var + eps)} in float64. */
  public static double[] bnScale(double[] gamma, double[] variance, double epsilon) {
    double[] s = new double[gamma.length];
    for (int c = 0; c < s.length; c++) {
      s[c] = gamma[c] / Math.sqrt(variance[c] + epsilon);
    }
    return s;
  }

  /** Per-channel shift {@code t = beta - mean * s}. */
  public static double[] bnShift(double[] beta, double[] mean, double[] s) {
    double[] t = new double[s.length];
    for (int c = 0; c < t.length; c++) {
      t[c] = beta[c] - mean[c] * s[c];
    }
    return t;
  }

  /** The kernel with every element multiplied by its output channel's scale. */
  public static DenseTensor scaleKernel(DenseTensor kernel, KernelLayout layout, double[] s) {
    double[] in = kernel.values();
    double[] out = new double[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = in[i] * s[layout.channelOf(i)];
    }
    return kernel.withValues(out);
  }

  /** The folded bias {@code b' = b * s + t} (with {@code b} null meaning zero). */
  public static double[] foldBias(double[] b, double[] s, double[] t) {
    double[] out = new double[s.length];
    for (int c = 0; c < out.length; c++) {
      out[c] = (b == null ? 0 : b[c]) * s[c] + t[c];
    }
    return out;
  }
}
