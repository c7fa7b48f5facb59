package dev.fusedtf.internal.graph;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code BodyEditor} collects edits to one {@link Body} and produces a new node list (or FunctionDef).
 * The body it started from is never changed.
 */
public final class BodyEditor {
  private static final Set<String> REMOVABLE_WHEN_UNUSED = Set.of("Const", "Identity", "ReadVariableOp");
  /** Side-effect-free arithmetic that a rewrite can leave without readers (a decomposed BN's statistics). */
  private static final Set<String> PURE_ARITHMETIC = Set.of("Rsqrt", "Sqrt", "Reciprocal", "Mul", "Add", "AddV2",
      "Sub", "RealDiv", "Neg", "Squeeze", "ExpandDims", "Reshape", "Select", "SelectV2", "StopGradient", "BiasAdd",
      "Mean", "Square", "SquaredDifference", "Sum", "LogicalNot", "Floor", "Cast", "GreaterEqual", "Greater", "Shape",
      "RandomUniform", "RandomStandardNormal", "TruncatedNormal");

  private final Body body;
  private final LinkedHashMap<String, NodeDef> nodes = new LinkedHashMap<>();
  private final LinkedHashMap<String, String> ret = new LinkedHashMap<>();
  private final LinkedHashMap<String, String> controlRet = new LinkedHashMap<>();
  private boolean changed;

  /** Starts editing {@code body}. */
  public BodyEditor(Body body) {
    this.body = body;
    for (NodeDef n : body.nodes()) {
      nodes.put(n.getName(), n);
    }
    if (body.isFunction()) {
      ret.putAll(body.functionDef().getRetMap());
      controlRet.putAll(body.functionDef().getControlRetMap());
    }
  }

  /** The body being edited (as it was before any edit). */
  public Body original() {
    return body;
  }

  /** Whether any edit was made. */
  public boolean changed() {
    return changed;
  }

  /** The current version of node {@code name}, or null. */
  public NodeDef node(String name) {
    return nodes.get(name);
  }

  /** Whether {@code name} is taken in the edited body (nodes or function arguments). */
  public boolean isTaken(String name) {
    return nodes.containsKey(name) || body.argumentIndex(name) >= 0;
  }

  /** A node name not taken in the edited body, derived from {@code base}. */
  public String uniqueName(String base) {
    if (!isTaken(base)) {
      return base;
    }
    for (int i = 1; ; i++) {
      String c = base + "_" + i;
      if (!isTaken(c)) {
        return c;
      }
    }
  }

  /** Adds a new node, placed before the node named {@code before} (or at the end if null). */
  public void add(NodeDef node, String before) {
    if (isTaken(node.getName())) {
      throw new IllegalStateException("node name already taken: " + node.getName());
    }
    if (before == null || !nodes.containsKey(before)) {
      nodes.put(node.getName(), node);
    } else {
      LinkedHashMap<String, NodeDef> copy = new LinkedHashMap<>();
      for (Map.Entry<String, NodeDef> e : nodes.entrySet()) {
        if (e.getKey().equals(before)) {
          copy.put(node.getName(), node);
        }
        copy.put(e.getKey(), e.getValue());
      }
      nodes.clear();
      nodes.putAll(copy);
    }
    changed = true;
  }

  /** Replaces the node with the same name. */
  public void replace(NodeDef node) {
    if (!nodes.containsKey(node.getName())) {
      throw new IllegalStateException("no node to replace: " + node.getName());
    }
    nodes.put(node.getName(), node);
    changed = true;
  }

  /**
   * Removes node {@code name}; control inputs {@code ^name} elsewhere are replaced by the node's own control
   * inputs so that ordering constraints survive and nothing dangles.
   */
  public void remove(String name) {
    NodeDef gone = nodes.remove(name);
    if (gone == null) {
      return;
    }
    List<String> inherited = Body.controlInputs(gone);
    String marker = "^" + name;
    for (Map.Entry<String, NodeDef> e : new ArrayList<>(nodes.entrySet())) {
      NodeDef n = e.getValue();
      if (!n.getInputList().contains(marker)) {
        continue;
      }
      NodeDef.Builder b = n.toBuilder().clearInput();
      List<String> kept = new ArrayList<>();
      for (String in : n.getInputList()) {
        if (!in.equals(marker)) {
          kept.add(in);
        }
      }
      for (String c : inherited) {
        if (!kept.contains(c) && !c.equals("^" + n.getName())) {
          kept.add(c);
        }
      }
      b.addAllInput(sortControlLast(kept));
      e.setValue(b.build());
    }
    controlRet.values().removeIf(v -> v.equals(name));
    changed = true;
  }

  /**
   * Points every data reference to output 0 of {@code oldNode} (whose op's first output arg is
   * {@code oldFirstArg}) at {@code newRef} instead, in node inputs and function return values.
   */
  public void redirectFirstOutput(String oldNode, String oldFirstArg, String newRef) {
    for (Map.Entry<String, NodeDef> e : nodes.entrySet()) {
      NodeDef n = e.getValue();
      boolean hit = false;
      List<String> ins = new ArrayList<>(n.getInputList());
      for (int i = 0; i < ins.size(); i++) {
        TensorRef r = TensorRef.parse(ins.get(i));
        if (!r.isControl() && r.node().equals(oldNode) && r.isFirstOutput(oldFirstArg)) {
          ins.set(i, newRef);
          hit = true;
        }
      }
      if (hit) {
        e.setValue(n.toBuilder().clearInput().addAllInput(ins).build());
        changed = true;
      }
    }
    for (Map.Entry<String, String> e : ret.entrySet()) {
      TensorRef r = TensorRef.parse(e.getValue());
      if (r.node().equals(oldNode) && r.isFirstOutput(oldFirstArg)) {
        e.setValue(newRef);
        changed = true;
      }
    }
  }

  /**
   * Points every data reference that {@code which} accepts at {@code newRef} instead, in node inputs and function
   * return values (the live output of a resolved Switch, say).
   */
  public void redirect(java.util.function.Predicate<TensorRef> which, String newRef) {
    for (Map.Entry<String, NodeDef> e : nodes.entrySet()) {
      NodeDef n = e.getValue();
      boolean hit = false;
      List<String> ins = new ArrayList<>(n.getInputList());
      for (int i = 0; i < ins.size(); i++) {
        TensorRef r = TensorRef.parse(ins.get(i));
        if (!r.isControl() && which.test(r)) {
          ins.set(i, newRef);
          hit = true;
        }
      }
      if (hit) {
        e.setValue(n.toBuilder().clearInput().addAllInput(ins).build());
        changed = true;
      }
    }
    for (Map.Entry<String, String> e : ret.entrySet()) {
      if (which.test(TensorRef.parse(e.getValue()))) {
        e.setValue(newRef);
        changed = true;
      }
    }
  }

  /**
   * {@code ref} (a reference read in the original body) as it must be written now: when an earlier edit replaced
   * its node by one of another op, a function-body reference to output 0 names the new op's output arg
   * ({@code add:z:0} becomes {@code add:output:0} once the Add is a BiasAdd).
   */
  public String currentRef(TensorRef ref) {
    NodeDef now = nodes.get(ref.node());
    NodeDef was = body.node(ref.node()).orElse(null);
    if (!body.isFunction() || now == null || was == null || now.getOp().equals(was.getOp())
        || !ref.isFirstOutput(OpOutputs.firstOutputArg(was.getOp()))) {
      return ref.toString();
    }
    return OpOutputs.firstOutputRef(body, ref.node(), now.getOp());
  }

  /** Number of data references to node {@code name} in the edited body (inputs and return values). */
  public int dataUseCount(String name) {
    int count = 0;
    for (NodeDef n : nodes.values()) {
      for (String in : n.getInputList()) {
        TensorRef r = TensorRef.parse(in);
        if (!r.isControl() && r.node().equals(name)) {
          count++;
        }
      }
    }
    for (String v : ret.values()) {
      if (TensorRef.parse(v).node().equals(name)) {
        count++;
      }
    }
    return count;
  }

  /**
   * Removes node {@code name} if nothing reads its data any more and it is a side-effect-free op
   * (see {@link #removable}); then tries the same on what it read. Nodes named in {@code keep} (such as
   * top-level nodes the signatures fetch) stay.
   */
  public void removeIfUnused(String name, Set<String> keep) {
    NodeDef n = nodes.get(name);
    if (n == null || keep.contains(name) || !removable(n) || dataUseCount(name) > 0) {
      return;
    }
    List<TensorRef> inputs = Body.dataInputs(n);
    remove(name);
    for (TensorRef in : inputs) {
      removeIfUnused(in.node(), keep);
    }
  }

  /**
   * Unused side-effect-free arithmetic (the statistics of a decomposed BN) goes everywhere. Inside functions,
   * unused Const, Identity and ReadVariableOp nodes go too. At the top level only constants (and Identity of a
   * constant, the frozen {@code /read}) go: a TF1 variable's {@code /read} snapshot is named by the meta graph's
   * variable collections and stays (unreachable, it costs nothing at run time).
   */
  private boolean removable(NodeDef n) {
    if (PURE_ARITHMETIC.contains(n.getOp())) {
      return true;
    }
    if (!REMOVABLE_WHEN_UNUSED.contains(n.getOp())) {
      return false;
    }
    if (body.isFunction() || n.getOp().equals("Const")) {
      return true;
    }
    if (n.getOp().equals("Identity")) {
      List<TensorRef> in = Body.dataInputs(n);
      NodeDef src = in.isEmpty() ? null : nodes.get(in.get(0).node());
      return src != null && src.getOp().equals("Const");
    }
    return false;
  }

  /** The edited nodes, in order. */
  public List<NodeDef> nodes() {
    return new ArrayList<>(nodes.values());
  }

  /** The edited function (only for function bodies). */
  public FunctionDef buildFunction() {
    FunctionDef f = body.functionDef();
    org.tensorflow.proto.OpDef.Builder sig = f.getSignature().toBuilder().clearControlOutput();
    for (String c : f.getSignature().getControlOutputList()) {
      if (controlRet.containsKey(c)) {
        sig.addControlOutput(c);
      }
    }
    return f.toBuilder()
        .setSignature(sig)
        .clearNodeDef().addAllNodeDef(nodes.values())
        .clearRet().putAllRet(ret)
        .clearControlRet().putAllControlRet(controlRet)
        .build();
  }

  private static List<String> sortControlLast(List<String> inputs) {
    List<String> out = new ArrayList<>();
    for (String s : inputs) {
      if (!s.startsWith("^")) {
        out.add(s);
      }
    }
    for (String s : inputs) {
      if (s.startsWith("^")) {
        out.add(s);
      }
    }
    return out;
  }
}
