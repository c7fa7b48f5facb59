package dev.fusedtf.testsupport;

import java.util.Arrays;
import org.tensorflow.proto.DataType;

/**
 * The {@code Values} is a small dense tensor of float or double weights, held as float64: what a test model's
 * variables and constants are made of.
 *
 * @param shape the dimensions
 * @param values row-major values
 * @param dtype {@code DT_FLOAT} or {@code DT_DOUBLE}
 */
public record Values(long[] shape, double[] values, DataType dtype) {
  /** Checks that the values fill the shape. */
  public Values {
    shape = shape.clone();
    values = values.clone();
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (n != values.length) {
      throw new IllegalArgumentException(values.length + " values for shape " + Arrays.toString(shape));
    }
  }

  /** Float32 values of this shape. */
  public static Values floats(double[] values, long... shape) {
    return new Values(shape, values, DataType.DT_FLOAT);
  }

  /** The dimensions (a copy). */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** The values (a copy). */
  @Override
  public double[] values() {
    return values.clone();
  }

  /** Value {@code i} in row-major order. */
  public double get(int i) {
    return values[i];
  }

  /** Number of values. */
  public int size() {
    return values.length;
  }
}
