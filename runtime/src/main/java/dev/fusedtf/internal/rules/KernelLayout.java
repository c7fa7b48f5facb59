package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.weights.DenseTensor;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code KernelLayout} is the one place that knows how the linear ops FusedTF folds into lay out their weights:
 * for every element of a kernel, which output channel it produces and which input channel it reads, and how many
 * spatial taps the kernel has. Backward folds scale output channels, forward folds input channels, the benchmarks
 * count multiply-adds from it.
 *
 * @param op the linear op kind
 * @param outChannels output channels of the op
 * @param inChannels input channels of the op
 * @param taps spatial taps (kernel height * width [* depth]; 1 for MatMul)
 * @param kernelDims the kernel's dimensions
 * @param transposeB for MatMul: whether the weight is stored [out, in]
 */
public record KernelLayout(Op op, int outChannels, int inChannels, int taps, long[] kernelDims, boolean transposeB) {

  /** The linear ops a per-channel affine map folds into. */
  public enum Op {
    /** Filter [H, W, in, out]. */
    CONV2D(4),
    /** Filter [H, W, in, multiplier]; output channel {@code c * multiplier + m}. */
    DEPTHWISE(4),
    /** Filter [D, H, W, in, out]. */
    CONV3D(5),
    /** Transposed conv: inputs (input_sizes, filter, out_backprop); filter [H, W, out, in]. */
    CONV2D_BACKPROP_INPUT(4),
    /** [in, out], or [out, in] with transpose_b. */
    MATMUL(2);

    private final int outputRank;

    Op(int outputRank) {
      this.outputRank = outputRank;
    }

    /** The op kind of a TF op type, or null. */
    public static Op of(String tfOp) {
      return switch (tfOp) {
        case "Conv2D" -> CONV2D;
        case "DepthwiseConv2dNative" -> DEPTHWISE;
        case "Conv3D" -> CONV3D;
        case "Conv2DBackpropInput" -> CONV2D_BACKPROP_INPUT;
        case "MatMul" -> MATMUL;
        default -> null;
      };
    }

    /** Rank of the op's output. */
    public int outputRank() {
      return outputRank;
    }

    /** Index among the op's data inputs of its kernel. */
    public int kernelInput() {
      return 1;
    }

    /** Index among the op's data inputs of the tensor it convolves. */
    public int dataInput() {
      return this == CONV2D_BACKPROP_INPUT ? 2 : 0;
    }

    /** Whether {@code n} (of this kind) has its channels on axis 1. */
    public boolean channelsFirst(NodeDef n) {
      if (this == MATMUL) {
        return false;
      }
      return Nodes.stringAttr(n, "data_format", this == CONV3D ? "NDHWC" : "NHWC").startsWith("NC");
    }
  }

  /** The layout of {@code kernel} as read by {@code n}, or null when its shape does not fit the op. */
  public static KernelLayout of(NodeDef n, DenseTensor kernel) {
    return of(n, kernel.shape());
  }

  /** The layout of a kernel of dimensions {@code k} as read by {@code n}, or null when they do not fit the op. */
  public static KernelLayout of(NodeDef n, long[] k) {
    Op op = Op.of(n.getOp());
    if (op == null) {
      return null;
    }
    boolean tb = op == Op.MATMUL && Nodes.boolAttr(n, "transpose_b", false);
    if (k.length != (op == Op.CONV3D ? 5 : op == Op.MATMUL ? 2 : 4)) {
      return null;
    }
    return switch (op) {
      case CONV2D -> new KernelLayout(op, (int) k[3], (int) k[2], (int) (k[0] * k[1]), k, false);
      case DEPTHWISE -> new KernelLayout(op, (int) (k[2] * k[3]), (int) k[2], (int) (k[0] * k[1]), k, false);
      case CONV3D -> new KernelLayout(op, (int) k[4], (int) k[3], (int) (k[0] * k[1] * k[2]), k, false);
      case CONV2D_BACKPROP_INPUT -> new KernelLayout(op, (int) k[2], (int) k[3], (int) (k[0] * k[1]), k, false);
      case MATMUL -> tb ? new KernelLayout(op, (int) k[0], (int) k[1], 1, k, true)
          : new KernelLayout(op, (int) k[1], (int) k[0], 1, k, false);
    };
  }

  /** The output channel that kernel element {@code i} (row-major) contributes to. */
  public int outChannelOf(int i) {
    return switch (op) {
      case CONV2D, CONV3D, DEPTHWISE -> i % outChannels; // depthwise: (in, mult) flattened is c * mult + m
      case CONV2D_BACKPROP_INPUT -> (i / inChannels) % outChannels;
      case MATMUL -> transposeB ? i / inChannels : i % outChannels;
    };
  }

  /** The input channel that kernel element {@code i} (row-major) reads. */
  public int inChannelOf(int i) {
    return switch (op) {
      case CONV2D, CONV3D -> (i / outChannels) % inChannels;
      case DEPTHWISE -> (int) ((i / kernelDims[3]) % inChannels);
      case CONV2D_BACKPROP_INPUT -> i % inChannels;
      case MATMUL -> transposeB ? i % inChannels : i / outChannels;
    };
  }

  /** Multiply-adds per output element: every tap of every input channel an output channel reads. */
  public long macsPerOutput() {
    return (long) taps * (op == Op.DEPTHWISE ? 1 : inChannels);
  }
}
