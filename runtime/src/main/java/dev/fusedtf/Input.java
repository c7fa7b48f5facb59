package dev.fusedtf;

import java.util.Arrays;
import java.util.Objects;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;

/**
 * The {@code Input} is one model input given as a plain Java array and a shape, for callers who do not want to
 * manage native tensors. The data is copied when the {@code Input} is made, so later changes to the array do
 * not leak into a request; the tensor is built inside
 * {@link dev.fusedtf.FusedModel#predictArrays(String, java.util.Map)} and closed by the library.
 *
 * <pre>{@code
 * try (Prediction p = model.predictInputs("serving_default",
 *     Map.of("x", Input.of(pixels, 1, 28, 28, 1)))) {
 *   float[] scores = p.floats("y");
 * }
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe; they hold no native memory.
 */
public final class Input {
  private final DataType dtype;
  private final long[] shape;
  private final Object data;

  private Input(DataType dtype, Object data, int length, long[] shape) {
    this.dtype = dtype;
    this.shape = checkShape(length, shape);
    this.data = data;
  }

  /**
   * A {@code DT_FLOAT} input.
   *
   * @param data values in row-major order (copied)
   * @param shape the dimensions; none for a scalar
   * @throws IllegalArgumentException if a dimension is negative or {@code data.length} is not their product
   */
  public static Input of(float[] data, long... shape) {
    Objects.requireNonNull(data, "data");
    return new Input(DataType.DT_FLOAT, data.clone(), data.length, shape);
  }

  /**
   * A {@code DT_INT32} input.
   *
   * @param data values in row-major order (copied)
   * @param shape the dimensions; none for a scalar
   * @throws IllegalArgumentException if a dimension is negative or {@code data.length} is not their product
   */
  public static Input of(int[] data, long... shape) {
    Objects.requireNonNull(data, "data");
    return new Input(DataType.DT_INT32, data.clone(), data.length, shape);
  }

  /**
   * A {@code DT_INT64} input.
   *
   * @param data values in row-major order (copied)
   * @param shape the dimensions; none for a scalar
   * @throws IllegalArgumentException if a dimension is negative or {@code data.length} is not their product
   */
  public static Input of(long[] data, long... shape) {
    Objects.requireNonNull(data, "data");
    return new Input(DataType.DT_INT64, data.clone(), data.length, shape);
  }

  /**
   * A {@code DT_STRING} input; strings are encoded as UTF-8.
   *
   * @param data values in row-major order (copied; no element may be null)
   * @param shape the dimensions; none for a scalar
   * @throws IllegalArgumentException if a dimension is negative, {@code data.length} is not their product, or an
   *     element is null
   */
  public static Input of(String[] data, long... shape) {
    Objects.requireNonNull(data, "data");
    for (int i = 0; i < data.length; i++) {
      if (data[i] == null) {
        throw new IllegalArgumentException("string input element " + i + " is null");
      }
    }
    return new Input(DataType.DT_STRING, data.clone(), data.length, shape);
  }

  /** The dtype of the tensor this input becomes. */
  public DataType dataType() {
    return dtype;
  }

  /** The shape (a copy). */
  public long[] shape() {
    return shape.clone();
  }

  /**
   * Builds the native tensor. The caller owns it and must close it; {@link dev.fusedtf.FusedModel} does so
   * itself for inputs given to {@code predictArrays}.
   */
  public Tensor toTensor() {
    Shape s = Shape.of(shape);
    return switch (dtype) {
      case DT_FLOAT -> TFloat32.tensorOf(s, DataBuffers.of((float[]) data, true, false));
      case DT_INT32 -> TInt32.tensorOf(s, DataBuffers.of((int[]) data, true, false));
      case DT_INT64 -> TInt64.tensorOf(s, DataBuffers.of((long[]) data, true, false));
      case DT_STRING -> TString.tensorOf(s, DataBuffers.ofObjects((String[]) data));
      default -> throw new IllegalStateException("unsupported dtype " + dtype);
    };
  }

  @Override
  public String toString() {
    return "Input{" + dtype + " " + Arrays.toString(shape) + "}";
  }

  private static long[] checkShape(int length, long[] shape) {
    Objects.requireNonNull(shape, "shape");
    long product = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("input shape " + Arrays.toString(shape)
            + " has a negative dimension: give the concrete size");
      }
      try {
        product = Math.multiplyExact(product, d);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("input shape " + Arrays.toString(shape) + " is too large", e);
      }
    }
    if (product != length) {
      throw new IllegalArgumentException("input has " + length + " values but shape " + Arrays.toString(shape)
          + " needs " + product);
    }
    return shape.clone();
  }
}
