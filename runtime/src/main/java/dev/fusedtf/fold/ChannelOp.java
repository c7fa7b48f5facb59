package dev.fusedtf.fold;

import dev.fusedtf.graph.Nodes;
import dev.fusedtf.weights.DenseTensor;
import org.tensorflow.proto.NodeDef;

/** The linear ops a per-channel affine map can fold into, with where their kernel's output channel sits. */
enum ChannelOp {
  /** Filter [H, W, in, out]. */
  CONV2D(1),
  /** Filter [H, W, in, multiplier]; output channel {@code c * multiplier + m}. */
  DEPTHWISE(1),
  /** Filter [D, H, W, in, out]. */
  CONV3D(1),
  /** Transposed conv: inputs (input_sizes, filter, out_backprop); filter [H, W, out, in]. */
  CONV2D_BACKPROP_INPUT(1),
  /** [in, out], or [out, in] with transpose_b. */
  MATMUL(1);

  private final int kernelInput;

  ChannelOp(int kernelInput) {
    this.kernelInput = kernelInput;
  }

  /** The op kind for a TF op type, or null. */
  static ChannelOp of(String op) {
    return switch (op) {
      case "Conv2D" -> CONV2D;
      case "DepthwiseConv2dNative" -> DEPTHWISE;
      case "Conv3D" -> CONV3D;
      case "Conv2DBackpropInput" -> CONV2D_BACKPROP_INPUT;
      case "MatMul" -> MATMUL;
      default -> null;
    };
  }

  /** Rank of the op's output. */
  int outputRank() {
    return switch (this) {
      case CONV3D -> 5;
      case MATMUL -> 2;
      default -> 4;
    };
  }

  /** Index among the data inputs of the kernel / weight matrix. */
  int kernelInput() {
    return kernelInput;
  }

  /** Whether the op's output has channels on axis 1. */
  boolean channelsFirst(NodeDef n) {
    if (this == MATMUL) {
      return false;
    }
    return Nodes.stringAttr(n, "data_format", this == CONV3D ? "NDHWC" : "NHWC").startsWith("NC");
  }

  /** Where each kernel element's output channel is, or null when the kernel shape does not fit the op. */
  ChannelMath.KernelLayout layout(NodeDef n, DenseTensor k) {
    switch (this) {
      case CONV2D:
        return k.rank() == 4 ? new ChannelMath.KernelLayout((int) k.dim(3), 1) : null;
      case DEPTHWISE:
        return k.rank() == 4 ? new ChannelMath.KernelLayout((int) (k.dim(2) * k.dim(3)), 1) : null;
      case CONV3D:
        return k.rank() == 5 ? new ChannelMath.KernelLayout((int) k.dim(4), 1) : null;
      case CONV2D_BACKPROP_INPUT:
        return k.rank() == 4 ? new ChannelMath.KernelLayout((int) k.dim(2), (int) k.dim(3)) : null;
      case MATMUL:
        if (k.rank() != 2) {
          return null;
        }
        return Nodes.boolAttr(n, "transpose_b", false)
            ? new ChannelMath.KernelLayout((int) k.dim(0), (int) k.dim(1))
            : new ChannelMath.KernelLayout((int) k.dim(1), 1);
      default:
        return null;
    }
  }
}
