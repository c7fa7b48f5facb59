package dev.fusedtf.internal.serve;

import dev.fusedtf.errors.InvalidInputException;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeSet;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;

/**
 * The {@code InputValidator} checks a request against a signature in Java, before it reaches native code where
 * a bad shape can abort the JVM (a rank-3 input to a Conv2D under oneDNN) or pass silently: input names (null,
 * missing and unknown), null tensors, dtype, rank, every dimension the signature fixes, zero-size dimensions
 * (rejected: oneDNN and Eigen kernels disagree on empty batches), and the request limits.
 */
public final class InputValidator {
  private InputValidator() {}

  /**
   * Limits on the work of one request; checked with overflow-safe arithmetic before anything is allocated or run.
   *
   * @param maxBatch the largest first dimension of any input (0 = no limit)
   * @param maxElements the largest total number of elements over all inputs (0 = no limit)
   */
  public record Limits(long maxBatch, long maxElements) {
    /** No limits. */
    public static final Limits NONE = new Limits(0, 0);
  }

  /**
   * @throws InvalidInputException naming the signature, the input, the expected and the given dtype/shape
   */
  public static void validate(Signature sig, Map<String, ? extends Tensor> inputs, Limits limits) {
    if (inputs == null) {
      throw new InvalidInputException(sig.key(), null, "signature '" + sig.key() + "': inputs must not be null");
    }
    Map<String, Given> given = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, ? extends Tensor> e : inputs.entrySet()) {
      Tensor t = e.getValue();
      given.put(e.getKey(), t == null ? null : new Given(t.dataType(), t.shape().asArray()));
    }
    check(sig, given, limits);
  }

  /** A request input as far as validation cares: its dtype and shape. */
  public record Given(org.tensorflow.proto.DataType dtype, long[] shape) {}

  /**
   * Validates inputs that are not tensors yet ({@code dev.fusedtf.Input}), so limits hold before anything is
   * allocated.
   */
  public static void validateShapes(Signature sig, Map<String, Given> inputs, Limits limits) {
    check(sig, inputs, limits);
  }

  private static void check(Signature sig, Map<String, Given> inputs, Limits limits) {
    String key = sig.key();
    if (inputs == null) {
      throw new InvalidInputException(key, null, "signature '" + key + "': inputs must not be null");
    }
    Map<String, Signature.TensorDescription> expected = sig.getInputs();
    TreeSet<String> unknown = new TreeSet<>();
    for (String name : inputs.keySet()) {
      if (name == null) {
        throw new InvalidInputException(key, null, "signature '" + key + "': an input name is null; its inputs are "
            + new TreeSet<>(expected.keySet()));
      }
      if (!expected.containsKey(name)) {
        unknown.add(name);
      }
    }
    if (!unknown.isEmpty()) {
      throw new InvalidInputException(key, unknown.first(), "signature '" + key + "' has no input named " + unknown
          + "; its inputs are " + new TreeSet<>(expected.keySet()));
    }
    TreeSet<String> missing = new TreeSet<>(expected.keySet());
    missing.removeAll(inputs.keySet());
    if (!missing.isEmpty()) {
      throw new InvalidInputException(key, missing.first(), "signature '" + key + "' is missing input(s) " + missing);
    }
    long total = 0;
    for (Map.Entry<String, Signature.TensorDescription> e : expected.entrySet()) {
      String name = e.getKey();
      Given t = inputs.get(name);
      if (t == null) {
        throw new InvalidInputException(key, name, "signature '" + key + "': input '" + name + "' is null");
      }
      Signature.TensorDescription want = e.getValue();
      long[] g = t.shape();
      if (t.dtype() != want.dataType) {
        throw new InvalidInputException(key, name, "signature '" + key + "': input '" + name + "' must be "
            + want.dataType + " " + describe(want.shape) + ", got " + t.dtype() + " " + Arrays.toString(g));
      }
      Shape ws = want.shape;
      if (ws != null && !ws.isUnknown()) {
        long[] w = ws.asArray();
        boolean ok = w.length == g.length;
        for (int i = 0; ok && i < w.length; i++) {
          ok = w[i] < 0 || w[i] == g[i];
        }
        if (!ok) {
          throw new InvalidInputException(key, name, "signature '" + key + "': input '" + name + "' must have shape "
              + describe(ws) + ", got " + Arrays.toString(g));
        }
      }
      for (long d : g) {
        if (d == 0) {
          throw new InvalidInputException(key, name, "signature '" + key + "': input '" + name + "' has a zero-size "
              + "dimension " + Arrays.toString(g) + "; empty requests are rejected");
        }
      }
      if (limits.maxBatch() > 0 && g.length > 0 && g[0] > limits.maxBatch()) {
        throw new InvalidInputException(key, name, "signature '" + key + "': input '" + name + "' has batch " + g[0]
            + ", above the limit of " + limits.maxBatch());
      }
      long n = 1;
      for (long d : g) {
        n = d < 0 ? Long.MAX_VALUE : multiplySaturated(n, d);
      }
      total = addExact(total, n, key, name, limits);
    }
  }

  private static long multiplySaturated(long a, long b) {
    try {
      return Math.multiplyExact(a, b);
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  private static long addExact(long total, long n, String key, String name, Limits limits) {
    long sum;
    try {
      sum = Math.addExact(total, n);
    } catch (ArithmeticException e) {
      sum = Long.MAX_VALUE;
    }
    if (limits.maxElements() > 0 && sum > limits.maxElements()) {
      throw new InvalidInputException(key, name, "signature '" + key + "': the request holds " + sum
          + " elements (input '" + name + "' included), above the limit of " + limits.maxElements());
    }
    return sum;
  }

  /** A declared shape as text, unknown dimensions as {@code ?}. */
  public static String describe(Shape s) {
    if (s == null || s.isUnknown()) {
      return "<unknown rank>";
    }
    return Arrays.toString(s.asArray()).replace("-1", "?");
  }
}
