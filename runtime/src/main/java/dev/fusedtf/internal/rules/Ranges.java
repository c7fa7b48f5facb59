package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.ConstantEvaluator;
import java.util.List;
import java.util.Optional;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * Bounds on the values of a float32 tensor computed from uniform random noise and constants, in float32 arithmetic:
 * every op followed is monotone and float rounding is monotone, so the bounds of the float32 results are exact. It
 * proves a dropout mask all ones when the dropout keeps everything ({@code floor(1.0 + U[0, 1))} is 1).
 */
final class Ranges {
  /** The largest float32 value {@code RandomUniform} returns: it fills 23 mantissa bits of [1, 2) and subtracts 1. */
  static final float UNIFORM_MAX = 1.0f - 0x1p-23f;

  private Ranges() {}

  /** An interval [lo, hi]. */
  record Range(float lo, float hi) {
    boolean isOne() {
      return lo == 1f && hi == 1f;
    }
  }

  /** Bounds of {@code ref}, or empty when it is not computed from noise and scalar constants in a known way. */
  static Optional<Range> of(ConstantEvaluator eval, Body body, TensorRef ref, int depth) {
    if (depth > 12) {
      return Optional.empty();
    }
    ConstantEvaluator.Result c = eval.evaluate(body, ref);
    if (c.known()) {
      if (c.value().size() == 0) {
        return Optional.empty();
      }
      float lo = Float.POSITIVE_INFINITY;
      float hi = Float.NEGATIVE_INFINITY;
      for (double v : c.value().values()) {
        lo = Math.min(lo, (float) v);
        hi = Math.max(hi, (float) v);
      }
      return Optional.of(new Range(lo, hi));
    }
    Optional<NodeDef> p = body.producer(ref);
    if (p.isEmpty()) {
      return Optional.empty();
    }
    NodeDef n = p.get();
    List<TensorRef> in = Body.dataInputs(n);
    switch (n.getOp()) {
      case "RandomUniform" -> {
        return Nodes.typeAttr(n, "dtype", DataType.DT_FLOAT) == DataType.DT_FLOAT
            ? Optional.of(new Range(0f, UNIFORM_MAX)) : Optional.empty();
      }
      case "Identity" -> {
        return of(eval, body, in.get(0), depth + 1);
      }
      case "Add", "AddV2" -> {
        Optional<Range> a = of(eval, body, in.get(0), depth + 1);
        Optional<Range> b = of(eval, body, in.get(1), depth + 1);
        return a.isPresent() && b.isPresent()
            ? Optional.of(new Range(a.get().lo() + b.get().lo(), a.get().hi() + b.get().hi())) : Optional.empty();
      }
      case "Mul" -> {
        Optional<Range> a = of(eval, body, in.get(0), depth + 1);
        Optional<Range> b = of(eval, body, in.get(1), depth + 1);
        if (a.isEmpty() || b.isEmpty() || a.get().lo() < 0 || b.get().lo() < 0) {
          return Optional.empty(); // non-negative factors keep the product monotone
        }
        return Optional.of(new Range(a.get().lo() * b.get().lo(), a.get().hi() * b.get().hi()));
      }
      case "Floor" -> {
        Optional<Range> a = of(eval, body, in.get(0), depth + 1);
        return a.map(r -> new Range((float) Math.floor(r.lo()), (float) Math.floor(r.hi())));
      }
      case "Cast" -> {
        Optional<Range> a = of(eval, body, in.get(0), depth + 1);
        return Nodes.typeAttr(n, "DstT", DataType.DT_FLOAT) == DataType.DT_FLOAT ? a : Optional.empty();
      }
      case "GreaterEqual", "Greater" -> {
        Optional<Range> a = of(eval, body, in.get(0), depth + 1);
        Optional<Range> b = of(eval, body, in.get(1), depth + 1);
        if (a.isEmpty() || b.isEmpty()) {
          return Optional.empty();
        }
        boolean always = n.getOp().equals("GreaterEqual") ? a.get().lo() >= b.get().hi() : a.get().lo() > b.get().hi();
        return always ? Optional.of(new Range(1f, 1f)) : Optional.empty();
      }
      default -> {
        return Optional.empty();
      }
    }
  }
}
