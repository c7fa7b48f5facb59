package dev.fusedtf;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeSet;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;

/**
 * The {@code InputValidator} checks a request against a signature in Java, before it reaches native code where
 * a bad shape can abort the JVM (a rank-3 input to a Conv2D under oneDNN) or pass silently: input names
 * (missing and unknown), dtype, rank, and every dimension the signature fixes.
 */
public final class InputValidator {
  private InputValidator() {}

  /**
   * @throws IllegalArgumentException naming the input, the expected and the given dtype/shape
   */
  public static void validate(Signature sig, Map<String, ? extends Tensor> inputs) {
    if (inputs == null) {
      throw new IllegalArgumentException("inputs must not be null");
    }
    Map<String, Signature.TensorDescription> expected = sig.getInputs();
    TreeSet<String> unknown = new TreeSet<>(inputs.keySet());
    unknown.removeAll(expected.keySet());
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("signature '" + sig.key() + "' has no input named " + unknown
          + "; its inputs are " + new TreeSet<>(expected.keySet()));
    }
    TreeSet<String> missing = new TreeSet<>(expected.keySet());
    missing.removeAll(inputs.keySet());
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("signature '" + sig.key() + "' is missing input(s) " + missing);
    }
    for (Map.Entry<String, Signature.TensorDescription> e : expected.entrySet()) {
      Tensor t = inputs.get(e.getKey());
      if (t == null) {
        throw new IllegalArgumentException("input '" + e.getKey() + "' is null");
      }
      Signature.TensorDescription want = e.getValue();
      if (t.dataType() != want.dataType) {
        throw new IllegalArgumentException("input '" + e.getKey() + "' must be " + want.dataType + " "
            + describe(want.shape) + ", got " + t.dataType() + " " + Arrays.toString(t.shape().asArray()));
      }
      Shape ws = want.shape;
      if (ws == null || ws.isUnknown()) {
        continue;
      }
      long[] w = ws.asArray();
      long[] g = t.shape().asArray();
      boolean ok = w.length == g.length;
      for (int i = 0; ok && i < w.length; i++) {
        ok = w[i] < 0 || w[i] == g[i];
      }
      if (!ok) {
        throw new IllegalArgumentException("input '" + e.getKey() + "' must have shape " + describe(ws)
            + ", got " + Arrays.toString(g));
      }
    }
  }

  static String describe(Shape s) {
    if (s == null || s.isUnknown()) {
      return "<unknown rank>";
    }
    return Arrays.toString(s.asArray()).replace("-1", "?");
  }
}
