package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.ConstantEvaluator;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.report.SkipCode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code SideAnalysis} tells what an operand of an element-wise op is made of, so that a rule can tell a
 * BatchNorm's per-channel statistics from the data they normalise:
 *
 * <ul>
 *   <li>{@link Kind#CONST}: a constant expression of weights (the evaluator knows its value);</li>
 *   <li>{@link Kind#STATS}: not constant, but made only of weights, statistics of the batch (a reduction over the
 *       batch axis, as {@code tf.nn.moments} writes it) and flags (a training switch on a placeholder);</li>
 *   <li>{@link Kind#DATA}: depends on the model's input element by element.</li>
 * </ul>
 */
public final class SideAnalysis {
  private static final int MAX_DEPTH = 32;
  private static final Set<String> SIDE_OPS = Set.of("Mul", "Add", "AddV2", "Sub", "RealDiv", "Div", "Rsqrt", "Sqrt",
      "Reciprocal", "Inv", "Neg", "Square", "Identity", "StopGradient", "Squeeze", "ExpandDims", "Reshape", "Snapshot",
      "Select", "SelectV2", "Switch", "Merge", "Cast", "Maximum", "Minimum", "LogicalNot", "ReadVariableOp");
  private static final Set<String> REDUCTIONS = Set.of("Mean", "Sum", "Prod", "Max", "Min");
  private static final Set<String> NORMALIZERS = Set.of("Rsqrt", "Sqrt", "Reciprocal", "Inv");

  /** What an operand is made of. */
  public enum Kind { CONST, STATS, DATA }

  /**
   * The analysis of one operand.
   *
   * @param kind what it is made of
   * @param value its value when constant
   * @param normalizes whether it involves a square root (a BatchNorm's {@code Rsqrt(var + eps)})
   * @param batchStatistics whether it reads a reduction of the data over the batch axis
   * @param switchNode a non-constant predicate or flag it depends on (a training placeholder), or null
   * @param reason for a non-constant operand, why its value is not known
   */
  public record Side(Kind kind, DenseTensor value, boolean normalizes, boolean batchStatistics, String switchNode,
      String reason) {
    /** Whether it is constant or made of statistics: what a BatchNorm's scale and shift are. */
    public boolean sideLike() {
      return kind != Kind.DATA;
    }

    /** The skip code for a BatchNorm whose statistics are this non-constant operand. */
    public SkipCode code() {
      if (switchNode != null) {
        return SkipCode.TRAINING_SWITCH;
      }
      return batchStatistics ? SkipCode.BATCH_STATISTICS : SkipCode.NOT_CONSTANT;
    }

    /** Why a BatchNorm with these statistics cannot fold, in words. */
    public String explain() {
      if (switchNode != null) {
        return "its statistics are chosen at run time by '" + switchNode + "' (a training switch): pin it to false"
            + (batchStatistics ? " to use the moving averages" : "");
      }
      if (batchStatistics) {
        return "it normalises with statistics of the current batch (tf.nn.moments), not moving averages, so it "
            + "changes with every input and is not a fixed affine map";
      }
      return "its statistics are not constant (" + reason + ")";
    }
  }

  private final ModelGraph graph;
  private final ConstantEvaluator eval;
  private final Map<String, Side> memo = new HashMap<>();

  SideAnalysis(ModelGraph graph, ConstantEvaluator eval) {
    this.graph = graph;
    this.eval = eval;
  }

  /** What {@code ref} in {@code body} is made of. */
  public Side of(Body body, TensorRef ref) {
    return analyse(body, ref, 0);
  }

  private Side analyse(Body body, TensorRef ref, int depth) {
    String key = body.label() + "|" + ref;
    Side cached = memo.get(key);
    if (cached != null) {
      return cached;
    }
    Side s = compute(body, ref, depth);
    memo.put(key, s);
    return s;
  }

  private Side compute(Body body, TensorRef ref, int depth) {
    ConstantEvaluator.Result r = eval.evaluate(body, ref);
    if (r.known()) {
      return new Side(Kind.CONST, r.value(), r.normalizes(), false, null, null);
    }
    if (depth > MAX_DEPTH) {
      return data(r.reason());
    }
    Optional<NodeDef> p = body.producer(ref);
    if (p.isEmpty()) {
      return data(r.reason()); // a function argument that is not a known weight: data
    }
    NodeDef n = p.get();
    String op = n.getOp();
    if (op.equals("Placeholder") || op.equals("PlaceholderWithDefault")) {
      DataType t = Nodes.typeAttr(n, "dtype", DataType.DT_FLOAT);
      return t == DataType.DT_BOOL ? new Side(Kind.STATS, null, false, false, n.getName(), r.reason()) : data(r.reason());
    }
    if (op.equals("VarHandleOp") || op.equals("VariableV2") || op.equals("Variable")) {
      return new Side(Kind.STATS, null, false, false, null, r.reason());
    }
    if (REDUCTIONS.contains(op)) {
      return reducesBatch(body, n) ? new Side(Kind.STATS, null, false, true, null, r.reason()) : data(r.reason());
    }
    if (!SIDE_OPS.contains(op)) {
      return data(r.reason());
    }
    boolean normalizes = NORMALIZERS.contains(op);
    boolean batch = false;
    String sw = null;
    List<TensorRef> in = Body.dataInputs(n);
    for (TensorRef i : in) {
      Side s = analyse(body, i, depth + 1);
      if (s.kind() == Kind.DATA) {
        return data(r.reason());
      }
      normalizes |= s.normalizes();
      batch |= s.batchStatistics();
      if (sw == null) {
        sw = s.switchNode();
      }
    }
    return new Side(Kind.STATS, null, normalizes, batch, sw, r.reason());
  }

  /** Whether a reduction's axes include the batch axis 0 (moments); a mean over spatial axes is data. */
  private boolean reducesBatch(Body body, NodeDef n) {
    List<TensorRef> in = Body.dataInputs(n);
    if (in.size() < 2) {
      return false;
    }
    ConstantEvaluator.Result axes = eval.evaluate(body, in.get(1));
    if (!axes.known()) {
      return false;
    }
    for (double a : axes.value().values()) {
      if (a == 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * The placeholder (or other source) of a non-constant predicate when {@code ref} is an output of a {@code Switch}
   * on it (through Identity nodes): the input of a {@code tf.cond} branch. Null otherwise.
   */
  public String switchOf(Body body, TensorRef ref) {
    Optional<NodeDef> p = body.producer(ref);
    for (int i = 0; p.isPresent() && i < MAX_DEPTH; i++) {
      NodeDef n = p.get();
      if (n.getOp().equals("Switch") || n.getOp().equals("RefSwitch")) {
        TensorRef pred = Body.dataInputs(n).get(1);
        return eval.flag(body, pred, 0).isPresent() ? null : predicateSource(body, pred);
      }
      if (!n.getOp().equals("Identity")) {
        return null;
      }
      p = body.producer(Body.dataInputs(n).get(0));
    }
    return null;
  }

  /** The node a predicate comes from, through Identity, LogicalNot and reshapes: usually a bool placeholder. */
  public String predicateSource(Body body, TensorRef pred) {
    TensorRef cur = pred;
    for (int i = 0; i < MAX_DEPTH; i++) {
      Optional<NodeDef> p = body.producer(cur);
      if (p.isEmpty()) {
        return cur.node();
      }
      NodeDef n = p.get();
      if (!Set.of("Identity", "LogicalNot", "Reshape", "Squeeze", "Cast").contains(n.getOp())) {
        return n.getName();
      }
      cur = Body.dataInputs(n).get(0);
    }
    return cur.node();
  }

  private static Side data(String reason) {
    return new Side(Kind.DATA, null, false, false, null, reason);
  }

  /** The graph analysed. */
  ModelGraph graph() {
    return graph;
  }
}
