package dev.fusedtf.internal.check;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The {@code ProbeInputs} builds inputs for a signature from its declared shapes and dtypes: the first unknown
 * dimension becomes the batch size, other unknown dimensions become {@value #UNKNOWN_DIM}; float inputs get uniform random values in
 * [-1, 1), integer inputs zeros (they are often indices), booleans false. Inputs of other dtypes (strings) cannot
 * be made up: {@link #supports} says so and callers must supply their own.
 */
public final class ProbeInputs {
  private ProbeInputs() {}

  /** Whether every input of {@code sig} can be generated. */
  public static String unsupportedReason(Signature sig) {
    for (Map.Entry<String, Signature.TensorDescription> e : sig.getInputs().entrySet()) {
      DataType t = e.getValue().dataType;
      if (t != DataType.DT_FLOAT && t != DataType.DT_DOUBLE && t != DataType.DT_INT32 && t != DataType.DT_INT64
          && t != DataType.DT_BOOL) {
        return "input '" + e.getKey() + "' has dtype " + t + ", which probes cannot be made up for";
      }
      if (e.getValue().shape.isUnknown()) {
        return "input '" + e.getKey() + "' has unknown rank";
      }
    }
    return null;
  }

  /** Whether probes can be generated for {@code sig}. */
  public static boolean supports(Signature sig) {
    return unsupportedReason(sig) == null;
  }

  /** The concrete shape probes use for a declared shape at this batch size. */
  public static Shape concreteShape(Shape declared, int batch) {
    long[] dims = declared.asArray();
    if (dims == null) {
      return Shape.scalar();
    }
    long[] out = dims.clone();
    boolean batchUsed = false;
    for (int i = 0; i < out.length; i++) {
      if (out[i] < 0) {
        out[i] = batchUsed ? UNKNOWN_DIM : batch;
        batchUsed = true;
      }
    }
    return Shape.of(out);
  }

  /**
   * Size given to unknown dimensions after the batch dimension (image height and width, sequence length): large
   * enough for a VALID convolution to produce output, and for a SAME convolution's probe to reach every kernel
   * tap, small enough to stay cheap.
   */
  public static final int UNKNOWN_DIM = 16;

  /**
   * Generates one input tensor per signature input. The caller closes every tensor in the returned map.
   *
   * @throws IllegalArgumentException when an input cannot be generated
   */
  public static Map<String, Tensor> generate(Signature sig, int batch, long seed) {
    String why = unsupportedReason(sig);
    if (why != null) {
      throw new IllegalArgumentException(why);
    }
    Random rnd = new Random(seed);
    Map<String, Tensor> out = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, Signature.TensorDescription> e : sig.getInputs().entrySet()) {
        Shape shape = concreteShape(e.getValue().shape, batch);
        int n = Math.toIntExact(shape.size());
        Tensor t = switch (e.getValue().dataType) {
          case DT_FLOAT -> {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
              v[i] = rnd.nextFloat() * 2 - 1;
            }
            yield TFloat32.tensorOf(shape, DataBuffers.of(v, true, false));
          }
          case DT_DOUBLE -> {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
              v[i] = rnd.nextDouble() * 2 - 1;
            }
            yield TFloat64.tensorOf(shape, DataBuffers.of(v, true, false));
          }
          case DT_INT32 -> TInt32.tensorOf(shape);
          case DT_INT64 -> TInt64.tensorOf(shape);
          default -> TBool.tensorOf(shape);
        };
        out.put(e.getKey(), t);
      }
    } catch (RuntimeException ex) {
      out.values().forEach(Tensor::close);
      throw ex;
    }
    return out;
  }
}
