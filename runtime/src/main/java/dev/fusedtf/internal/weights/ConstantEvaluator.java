package dev.fusedtf.internal.weights;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.TensorRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code ConstantEvaluator} computes, in Java and in float64, the value of a small subgraph whose leaves are
 * weights (constants and variables, through {@link WeightResolver}): the arithmetic TF writes for a decomposed
 * BatchNorm ({@code Rsqrt(var + eps) * gamma}, {@code beta - mean * scale}), reshapes of per-channel vectors, and
 * the training-flag switch of TF1 {@code tf.layers.batch_normalization}: a {@code Select}/{@code SelectV2}/
 * {@code Switch} whose condition is a constant or a {@code PlaceholderWithDefault} evaluates with the flag at its
 * value (inference), so only the moving statistics are read.
 *
 * <p>A node whose value depends on a model input is not constant: {@link #evaluate} then says why.
 */
public final class ConstantEvaluator {
  private static final int MAX_DEPTH = 48;

  private final WeightResolver weights;
  private final Map<String, Result> cache = new HashMap<>();

  /** An evaluator reading leaves through {@code weights}. */
  public ConstantEvaluator(WeightResolver weights) {
    this.weights = weights;
  }

  /** A value, or the reason there is none. */
  public record Result(DenseTensor value, String reason, int computedNodes, boolean normalizes) {
    /** Whether the value is known. */
    public boolean known() {
      return value != null;
    }

    static Result of(DenseTensor v, int computed) {
      return new Result(v, null, computed, false);
    }

    static Result of(DenseTensor v, int computed, boolean normalizes) {
      return new Result(v, null, computed, normalizes);
    }

    static Result no(String why) {
      return new Result(null, why, 0, false);
    }
  }

  /** The value of {@code ref} in {@code body}. {@code computedNodes} counts the arithmetic nodes evaluated. */
  public Result evaluate(Body body, TensorRef ref) {
    return eval(body, ref, 0);
  }

  private Result eval(Body body, TensorRef ref, int depth) {
    String key = body.label() + "|" + ref;
    Result cached = cache.get(key);
    if (cached != null) {
      return cached;
    }
    Result r = depth > MAX_DEPTH ? Result.no("expression too deep at '" + ref + "'") : compute(body, ref, depth);
    cache.put(key, r);
    return r;
  }

  private Result compute(Body body, TensorRef ref, int depth) {
    Optional<NodeDef> node = body.producer(ref);
    if (node.isEmpty() || !isFirstOutput(node.get(), ref)) {
      WeightResolver.Resolved w = weights.resolve(body, ref);
      return w.known() ? Result.of(w.value(), 0) : Result.no(w.reason());
    }
    NodeDef n = node.get();
    List<TensorRef> in = Body.dataInputs(n);
    switch (n.getOp()) {
      case "Const", "ReadVariableOp", "VariableV2", "Variable" -> {
        WeightResolver.Resolved w = weights.resolve(body, ref);
        return w.known() ? Result.of(w.value(), 0) : Result.no(w.reason());
      }
      case "Identity", "StopGradient", "Squeeze", "ExpandDims", "Reshape", "Snapshot" -> {
        Result x = eval(body, in.get(0), depth + 1);
        if (!x.known()) {
          return x;
        }
        long[] shape = switch (n.getOp()) {
          case "Squeeze" -> squeeze(x.value().shape(), Nodes.intsAttr(n, "squeeze_dims"));
          case "ExpandDims", "Reshape" -> {
            Result s = eval(body, in.get(1), depth + 1);
            yield s.known() ? reshape(x.value(), s.value(), n.getOp().equals("ExpandDims")) : null;
          }
          default -> x.value().shape();
        };
        if (shape == null) {
          return Result.no("cannot compute the shape of " + n.getOp() + " '" + n.getName() + "'");
        }
        return Result.of(new DenseTensor(shape, x.value().values(), x.value().dtype()), x.computedNodes(),
            x.normalizes());
      }
      case "PlaceholderWithDefault" -> {
        return Result.no("'" + n.getName() + "' is a PlaceholderWithDefault (only a training flag may be fixed)");
      }
      case "Rsqrt" -> {
        Result r = unary(body, n, in, depth, v -> 1.0 / Math.sqrt(v));
        return r.known() ? Result.of(r.value(), r.computedNodes(), true) : r;
      }
      case "Sqrt" -> {
        Result r = unary(body, n, in, depth, Math::sqrt);
        return r.known() ? Result.of(r.value(), r.computedNodes(), true) : r;
      }
      case "Reciprocal", "Inv" -> {
        return unary(body, n, in, depth, v -> 1.0 / v);
      }
      case "Neg" -> {
        return unary(body, n, in, depth, v -> -v);
      }
      case "Mul" -> {
        return binary(body, n, in, depth, (a, b) -> a * b);
      }
      case "Add", "AddV2", "BiasAdd" -> {
        return binary(body, n, in, depth, Double::sum);
      }
      case "Sub" -> {
        return binary(body, n, in, depth, (a, b) -> a - b);
      }
      case "RealDiv", "Div" -> {
        return binary(body, n, in, depth, (a, b) -> a / b);
      }
      case "Select", "SelectV2", "Switch" -> {
        return select(body, n, in, ref, depth);
      }
      default -> {
        return Result.no(n.getOp() + " '" + n.getName() + "' is not a constant expression");
      }
    }
  }

  /** Select/SelectV2 (cond, then, else) and Switch (data, pred) with a flag fixed at its inference value. */
  private Result select(Body body, NodeDef n, List<TensorRef> in, TensorRef ref, int depth) {
    TensorRef condRef = n.getOp().equals("Switch") ? in.get(1) : in.get(0);
    Optional<Boolean> flag = flag(body, condRef, depth);
    if (flag.isEmpty()) {
      return Result.no("the condition of " + n.getOp() + " '" + n.getName() + "' is not a fixed training flag");
    }
    if (n.getOp().equals("Switch")) {
      return Result.no("Switch '" + n.getName() + "' output is resolved at its Merge");
    }
    Result chosen = eval(body, flag.get() ? in.get(1) : in.get(2), depth + 1);
    if (!chosen.known()) {
      return flag.get()
          ? Result.no("the training flag of '" + n.getName() + "' is true: statistics come from the batch")
          : chosen;
    }
    return Result.of(chosen.value(), chosen.computedNodes() + 1, chosen.normalizes()); // the switch is work saved
  }

  /** The value of a boolean flag: a constant, or a PlaceholderWithDefault's default, through Identity/Reshape. */
  public Optional<Boolean> flag(Body body, TensorRef ref, int depth) {
    return flag(body, ref, depth, false);
  }

  /**
   * {@link #flag(Body, TensorRef, int)} of a rank-0 tensor only (a size-1 tensor of higher rank broadcasts, as the
   * condition of {@code SelectV2} does), through ops that keep the rank.
   */
  public Optional<Boolean> scalarFlag(Body body, TensorRef ref, int depth) {
    return flag(body, ref, depth, true);
  }

  private Optional<Boolean> flag(Body body, TensorRef ref, int depth, boolean scalar) {
    if (depth > MAX_DEPTH) {
      return Optional.empty();
    }
    Optional<NodeDef> node = body.producer(ref);
    if (node.isEmpty()) {
      return Optional.empty();
    }
    NodeDef n = node.get();
    switch (n.getOp()) {
      case "Const" -> {
        DenseTensor t;
        try {
          t = TensorCodec.decode(n.getAttrMap().get("value").getTensor());
        } catch (IllegalArgumentException e) {
          return Optional.empty(); // a string or half constant is no flag
        }
        return t.size() == 1 && (!scalar || t.shape().length == 0) ? Optional.of(t.get(0) != 0) : Optional.empty();
      }
      case "PlaceholderWithDefault" -> {
        if (!body.isFunction() && weights.graph().fedNodes().contains(n.getName())) {
          return Optional.empty(); // a signature feeds it: its value is the caller's
        }
        return flag(body, Body.dataInputs(n).get(0), depth + 1, scalar);
      }
      case "Identity" -> {
        return flag(body, Body.dataInputs(n).get(0), depth + 1, scalar);
      }
      case "Reshape", "Squeeze", "ExpandDims" -> {
        return scalar ? Optional.empty() : flag(body, Body.dataInputs(n).get(0), depth + 1, false);
      }
      case "LogicalNot" -> {
        return flag(body, Body.dataInputs(n).get(0), depth + 1, scalar).map(b -> !b);
      }
      default -> {
        return Optional.empty();
      }
    }
  }

  private Result unary(Body body, NodeDef n, List<TensorRef> in, int depth, DoubleUnaryOperator f) {
    Result x = eval(body, in.get(0), depth + 1);
    if (!x.known()) {
      return x;
    }
    double[] v = x.value().values().clone();
    for (int i = 0; i < v.length; i++) {
      v[i] = f.applyAsDouble(v[i]);
    }
    return Result.of(x.value().withValues(v), x.computedNodes() + 1, x.normalizes());
  }

  private Result binary(Body body, NodeDef n, List<TensorRef> in, int depth, DoubleBinaryOperator f) {
    Result a = eval(body, in.get(0), depth + 1);
    if (!a.known()) {
      return a;
    }
    Result b = eval(body, in.get(1), depth + 1);
    if (!b.known()) {
      return b;
    }
    DenseTensor r = broadcast(a.value(), b.value(), f);
    if (r == null) {
      return Result.no("shapes of " + n.getOp() + " '" + n.getName() + "' do not broadcast");
    }
    return Result.of(r, a.computedNodes() + b.computedNodes() + 1, a.normalizes() || b.normalizes());
  }

  /** Numpy-style broadcasting of a binary op; null when the shapes do not broadcast. */
  public static DenseTensor broadcast(DenseTensor a, DenseTensor b, DoubleBinaryOperator f) {
    long[] sa = a.shape();
    long[] sb = b.shape();
    int rank = Math.max(sa.length, sb.length);
    long[] out = new long[rank];
    for (int i = 0; i < rank; i++) {
      long da = i < rank - sa.length ? 1 : sa[i - (rank - sa.length)];
      long db = i < rank - sb.length ? 1 : sb[i - (rank - sb.length)];
      if (da != db && da != 1 && db != 1) {
        return null;
      }
      out[i] = Math.max(da, db);
    }
    int n = Math.toIntExact(TensorCodec.numElements(out));
    double[] v = new double[n];
    int[] idx = new int[rank];
    for (int k = 0; k < n; k++) {
      v[k] = f.applyAsDouble(a.get(offset(idx, sa, rank)), b.get(offset(idx, sb, rank)));
      for (int d = rank - 1; d >= 0; d--) {
        if (++idx[d] < out[d]) {
          break;
        }
        idx[d] = 0;
      }
    }
    DataType dt = a.dtype() == DataType.DT_DOUBLE || b.dtype() == DataType.DT_DOUBLE ? DataType.DT_DOUBLE
        : a.dtype() == DataType.DT_FLOAT || b.dtype() == DataType.DT_FLOAT ? DataType.DT_FLOAT : a.dtype();
    return new DenseTensor(out, v, dt);
  }

  private static int offset(int[] idx, long[] shape, int rank) {
    int off = 0;
    int lead = rank - shape.length;
    for (int d = 0; d < shape.length; d++) {
      off = (int) (off * shape[d] + (shape[d] == 1 ? 0 : idx[d + lead]));
    }
    return off;
  }

  private static boolean isFirstOutput(NodeDef n, TensorRef ref) {
    return ref.isFirstOutput(dev.fusedtf.internal.graph.OpOutputs.firstOutputArg(n.getOp()));
  }

  private static long[] squeeze(long[] shape, long[] dims) {
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < shape.length; i++) {
      boolean listed = dims == null || dims.length == 0 ? shape[i] == 1 : contains(dims, i, shape.length);
      if (!(listed && shape[i] == 1)) {
        out.add(shape[i]);
      }
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  private static boolean contains(long[] dims, int i, int rank) {
    for (long d : dims) {
      if ((d < 0 ? d + rank : d) == i) {
        return true;
      }
    }
    return false;
  }

  private static long[] reshape(DenseTensor x, DenseTensor arg, boolean expand) {
    long[] s = x.shape();
    if (expand) {
      int axis = (int) arg.get(0);
      int rank = s.length + 1;
      if (axis < 0) {
        axis += rank;
      }
      long[] out = new long[rank];
      for (int i = 0, j = 0; i < rank; i++) {
        out[i] = i == axis ? 1 : s[j++];
      }
      return out;
    }
    long[] out = new long[arg.size()];
    int unknown = -1;
    long known = 1;
    for (int i = 0; i < out.length; i++) {
      out[i] = (long) arg.get(i);
      if (out[i] < 0) {
        unknown = i;
      } else {
        known *= out[i];
      }
    }
    if (unknown >= 0) {
      out[unknown] = known == 0 ? 0 : x.size() / known;
    }
    return TensorCodec.numElements(out) == x.size() ? out : null;
  }
}
