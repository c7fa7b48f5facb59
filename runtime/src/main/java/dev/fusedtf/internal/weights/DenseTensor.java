package dev.fusedtf.internal.weights;

import java.util.Arrays;
import org.tensorflow.proto.DataType;

/**
 * The {@code DenseTensor} is a weight tensor held in Java for folding: its shape, its values widened to
 * float64 (folding math runs in float64), and the dtype it had in the graph, to write it back as.
 */
public final class DenseTensor {
  private final long[] shape;
  private final double[] values;
  private final DataType dtype;

  /** A tensor of {@code dtype} with this shape and these values (row-major); values are not copied. */
  public DenseTensor(long[] shape, double[] values, DataType dtype) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      }
      n *= d;
    }
    if (n != values.length) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(shape) + " needs " + n + " values, got " + values.length);
    }
    this.shape = shape.clone();
    this.values = values;
    this.dtype = dtype;
  }

  /** The shape (a copy). */
  public long[] shape() {
    return shape.clone();
  }

  /** Number of dimensions. */
  public int rank() {
    return shape.length;
  }

  /** Size of dimension {@code i}. */
  public long dim(int i) {
    return shape[i];
  }

  /** Number of elements. */
  public int size() {
    return values.length;
  }

  /** The values, row-major, as float64 (the array itself: do not modify). */
  public double[] values() {
    return values;
  }

  /** Element {@code i} in row-major order. */
  public double get(int i) {
    return values[i];
  }

  /** The dtype the tensor had in the graph. */
  public DataType dtype() {
    return dtype;
  }

  /** A tensor with the same shape and dtype and other values. */
  public DenseTensor withValues(double[] newValues) {
    return new DenseTensor(shape, newValues, dtype);
  }

  /** A vector of {@code n} copies of {@code value}. */
  public static DenseTensor filled(int n, double value, DataType dtype) {
    double[] v = new double[n];
    Arrays.fill(v, value);
    return new DenseTensor(new long[] {n}, v, dtype);
  }

  @Override
  public String toString() {
    return dtype + Arrays.toString(shape);
  }
}
