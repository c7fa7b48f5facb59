package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.ConstantEvaluator;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.report.SkipCode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code AffineChain} is a per-channel affine map written as element-wise arithmetic, {@code y = x * s + t},
 * found from its last node back to the data tensor {@code x}: {@code Mul}, {@code Add}/{@code AddV2},
 * {@code Sub}, {@code BiasAdd} and {@code RealDiv} nodes with one data operand and one operand made of weights
 * or statistics, each read only by the next. It is how TensorFlow writes a decomposed BatchNorm (Keras
 * {@code fused=False} and 2-D input, {@code tf.nn.batch_normalization}, {@code tf.layers} and slim), a Caffe-style
 * Scale layer, or a bias added with {@code Add}.
 *
 * @param end the last node (it keeps its name after any rewrite)
 * @param nodes the chain's nodes from the one reading {@code x} to {@code end}
 * @param x the data tensor the map applies to
 * @param scale the composed scale (broadcastable against {@code x}), or null when 1
 * @param shift the composed shift, or null when 0
 * @param kind what the chain is
 */
record AffineChain(NodeDef end, List<NodeDef> nodes, TensorRef x, DenseTensor scale, DenseTensor shift, Kind kind) {

  static final Set<String> OPS = Set.of("Mul", "Add", "AddV2", "Sub", "BiasAdd", "RealDiv");

  /** What a chain is, which decides how its removal is reported. */
  enum Kind {
    /** Its constants involve a square root of statistics: a decomposed BatchNorm (a fold). */
    BATCH_NORM,
    /** A multiply by a per-channel constant, with or without an add: a Caffe-style Scale (a fold). */
    SCALE,
    /** Only adds of constants: a bias (a rewrite). */
    BIAS,
    /** Multiplies by scalars and adds: a constant affine map (a rewrite). */
    CONSTANT;

    /** Whether removing such a chain counts as a fold (a BatchNorm or Scale removed). */
    boolean isFold() {
      return this == BATCH_NORM || this == SCALE;
    }
  }

  /** The outcome of {@link #match}: a chain, a BatchNorm-like chain that cannot fold (with why), or nothing. */
  record Found(AffineChain chain, SkipCode code, String reason) {
    static final Found NONE = new Found(null, null, null);

    boolean isChain() {
      return chain != null;
    }

    boolean isFailure() {
      return code != null;
    }
  }

  /** The name of the kind as it appears in patterns. */
  String label() {
    return switch (kind) {
      case BATCH_NORM -> "DecomposedBatchNorm";
      case SCALE -> "Scale(" + ops() + ")";
      case BIAS -> ops() + "(bias)";
      case CONSTANT -> ops() + "(constant)";
    };
  }

  private String ops() {
    return String.join("+", nodes.stream().map(NodeDef::getOp).toList());
  }

  /** Names of the chain's nodes. */
  List<String> nodeNames() {
    return nodes.stream().map(NodeDef::getName).toList();
  }

  /** One step of the walk: the node, its data operand and its other operand. */
  private record Step(NodeDef node, TensorRef x, SideAnalysis.Side side, Op op) {}

  private enum Op { MUL, ADD, SUB_RIGHT, SUB_LEFT, DIV }

  /** The chain ending at {@code end}, or why a BatchNorm-like one cannot fold, or {@link Found#NONE}. */
  static Found match(RuleContext ctx, Body body, NodeDef end) {
    if (!OPS.contains(end.getOp()) || !ctx.isLive(body, end.getName()) || continuesInto(ctx, body, end)) {
      return Found.NONE;
    }
    List<Step> steps = new ArrayList<>();
    NodeDef cur = end;
    while (true) {
      Step s = step(ctx, body, cur);
      if (s == null) {
        break;
      }
      steps.add(s);
      Optional<NodeDef> next = LinearTarget.firstOutputProducer(body, s.x());
      if (next.isEmpty() || !OPS.contains(next.get().getOp()) || ctx.isProtected(body, next.get().getName())
          || ctx.soleReader(body, next.get()) == null
          || !ctx.soleReader(body, next.get()).getName().equals(cur.getName())
          || isBiasOfLinear(ctx, body, next.get())) {
        break;
      }
      cur = next.get();
    }
    if (steps.isEmpty()) {
      return Found.NONE;
    }
    Collections.reverse(steps); // from x outward
    boolean normalizes = false;
    SideAnalysis.Side failed = null;
    for (Step s : steps) {
      normalizes |= s.side().normalizes();
      if (s.side().kind() != SideAnalysis.Kind.CONST && failed == null) {
        failed = s.side();
      }
    }
    if (failed != null) {
      return normalizes || failed.batchStatistics() || failed.switchNode() != null
          ? new Found(null, failed.code(), "decomposed BatchNorm not folded: " + failed.explain())
          : Found.NONE;
    }
    return compose(steps, end, normalizes);
  }

  /** A bias add right after a linear op (or its Squeeze): it belongs to the linear target, not to this chain. */
  private static boolean isBiasOfLinear(RuleContext ctx, Body body, NodeDef n) {
    if (n.getOp().equals("Mul") || n.getOp().equals("RealDiv")) {
      return false;
    }
    Step s = step(ctx, body, n);
    if (s == null) {
      return false;
    }
    Optional<NodeDef> p = LinearTarget.firstOutputProducer(body, s.x());
    return p.isPresent() && (KernelLayout.Op.of(p.get().getOp()) != null || p.get().getOp().equals("Squeeze"));
  }

  /** Whether {@code n} is not the end: its only reader continues the chain with a weight-like operand. */
  private static boolean continuesInto(RuleContext ctx, Body body, NodeDef n) {
    NodeDef r = ctx.soleReader(body, n);
    if (r == null || !OPS.contains(r.getOp()) || ctx.isProtected(body, n.getName())) {
      return false;
    }
    Step s = step(ctx, body, r);
    return s != null && s.x().node().equals(n.getName());
  }

  private static Step step(RuleContext ctx, Body body, NodeDef n) {
    List<TensorRef> in = Body.dataInputs(n);
    if (in.size() != 2 || !floating(n)) {
      return null;
    }
    SideAnalysis.Side a = ctx.sides().of(body, in.get(0));
    SideAnalysis.Side b = ctx.sides().of(body, in.get(1));
    boolean aData = a.kind() == SideAnalysis.Kind.DATA;
    boolean bData = b.kind() == SideAnalysis.Kind.DATA;
    switch (n.getOp()) {
      case "BiasAdd":
        return aData && !bData ? new Step(n, in.get(0), b, Op.ADD) : null;
      case "RealDiv":
        return aData && !bData ? new Step(n, in.get(0), b, Op.DIV) : null;
      case "Sub":
        if (aData && !bData) {
          return new Step(n, in.get(0), b, Op.SUB_RIGHT);
        }
        return !aData && bData ? new Step(n, in.get(1), a, Op.SUB_LEFT) : null;
      default: // Mul, Add, AddV2
        Op op = n.getOp().equals("Mul") ? Op.MUL : Op.ADD;
        if (aData && !bData) {
          return new Step(n, in.get(0), b, op);
        }
        return !aData && bData ? new Step(n, in.get(1), a, op) : null;
    }
  }

  private static boolean floating(NodeDef n) {
    DataType t = Nodes.typeAttr(n, "T", DataType.DT_FLOAT);
    return TensorCodec.isSupported(t);
  }

  private static Found compose(List<Step> steps, NodeDef end, boolean normalizes) {
    DenseTensor s = null;
    DenseTensor t = null;
    boolean perChannelMul = false;
    boolean anyMul = false;
    for (Step st : steps) {
      DenseTensor c = st.side().value();
      if (st.node().getOp().equals("BiasAdd") && c.rank() == 1
          && Nodes.stringAttr(st.node(), "data_format", "NHWC").startsWith("NC")) {
        c = new DenseTensor(new long[] {1, c.size(), 1, 1}, c.values(), c.dtype()); // bias on axis 1
      }
      switch (st.op()) {
        case MUL -> {
          anyMul = true;
          perChannelMul |= c.size() > 1;
          s = s == null ? c : mul(s, c);
          t = t == null ? null : mul(t, c);
        }
        case DIV -> {
          anyMul = true;
          perChannelMul |= c.size() > 1;
          DenseTensor inv = c.withValues(java.util.Arrays.stream(c.values()).map(v -> 1.0 / v).toArray());
          s = s == null ? inv : mul(s, inv);
          t = t == null ? null : mul(t, inv);
        }
        case ADD -> t = t == null ? c : add(t, c, 1);
        case SUB_RIGHT -> t = t == null ? neg(c) : add(t, c, -1);
        default -> throw new IllegalStateException(st.op().toString());
        case SUB_LEFT -> {
          s = s == null ? scalar(-1, c.dtype()) : neg(s);
          t = t == null ? c : add(neg(t), c, 1);
        }
      }
    }
    if (s == BROADCAST_FAILED || t == BROADCAST_FAILED) {
      return Found.NONE;
    }
    Kind kind = normalizes ? Kind.BATCH_NORM : perChannelMul ? Kind.SCALE : anyMul ? Kind.CONSTANT : Kind.BIAS;
    List<NodeDef> nodes = steps.stream().map(Step::node).toList();
    return new Found(new AffineChain(end, nodes, steps.get(0).x(), s, t, kind), null, null);
  }

  private static final DenseTensor BROADCAST_FAILED = new DenseTensor(new long[] {0}, new double[0], DataType.DT_FLOAT);

  private static DenseTensor mul(DenseTensor a, DenseTensor b) {
    if (a == BROADCAST_FAILED || b == BROADCAST_FAILED) {
      return BROADCAST_FAILED;
    }
    DenseTensor r = ConstantEvaluator.broadcast(a, b, (x, y) -> x * y);
    return r == null ? BROADCAST_FAILED : r;
  }

  private static DenseTensor add(DenseTensor a, DenseTensor b, int sign) {
    if (a == BROADCAST_FAILED || b == BROADCAST_FAILED) {
      return BROADCAST_FAILED;
    }
    DenseTensor r = ConstantEvaluator.broadcast(a, b, (x, y) -> x + sign * y);
    return r == null ? BROADCAST_FAILED : r;
  }

  private static DenseTensor neg(DenseTensor a) {
    if (a == BROADCAST_FAILED) {
      return a;
    }
    return a.withValues(java.util.Arrays.stream(a.values()).map(v -> -v).toArray());
  }

  private static DenseTensor scalar(double v, DataType dt) {
    return new DenseTensor(new long[0], new double[] {v}, dt);
  }

}
