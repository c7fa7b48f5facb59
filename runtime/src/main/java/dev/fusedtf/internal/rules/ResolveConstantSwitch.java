package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.BodyEditor;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.report.Rewrite;
import java.util.ArrayList;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Resolves TF1 {@code tf.cond} control flow whose predicate is a constant (a Const, a pinned placeholder, or a
 * {@code PlaceholderWithDefault} that no signature feeds): each such {@code Switch} forwards its data to the branch
 * the predicate takes, everything the other branch computes is dead (deadness follows data and control edges, as in
 * TensorFlow's executor) and goes, and each {@code Merge} left with one live input becomes an {@code Identity} of it.
 * The inference branch of a {@code tf.layers.batch_normalization(training=...)} is then an ordinary BatchNorm that
 * the fold rules take. Names are kept; one plan per body resolves every constant switch in it.
 *
 * <p>Left alone: switches inside while loops (Enter/Exit/NextIteration), a dead value a signature fetches or a
 * function returns, a Merge with several live inputs.
 */
final class ResolveConstantSwitch implements Rule {
  static final String NAME = "resolve-switch";
  private static final Set<String> SWITCHES = Set.of("Switch", "RefSwitch");
  private static final Set<String> MERGES = Set.of("Merge", "RefMerge");
  private static final Set<String> LOOP_OPS = Set.of("Enter", "RefEnter", "Exit", "RefExit", "NextIteration",
      "RefNextIteration", "LoopCond");

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<String> targetOps() {
    return SWITCHES;
  }

  /** A switch with a constant predicate: the port that stays live. */
  private record Resolved(NodeDef node, int livePort) {}

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef first) {
    Map<String, Resolved> switches = new LinkedHashMap<>();
    for (NodeDef n : body.nodes()) {
      if (SWITCHES.contains(n.getOp()) && ctx.isLive(body, n.getName())) {
        List<TensorRef> in = Body.dataInputs(n);
        Optional<Boolean> p = in.size() == 2 ? ctx.eval().flag(body, in.get(1), 0) : Optional.empty();
        if (p.isPresent()) {
          switches.put(n.getName(), new Resolved(n, p.get() ? 1 : 0));
        }
      }
    }
    if (switches.isEmpty() || !switches.keySet().iterator().next().equals(first.getName())) {
      return Match.none(); // one plan per body, made at its first constant switch
    }
    Set<String> dead = deadNodes(body, switches);
    for (String d : dead) {
      NodeDef n = body.node(d).orElseThrow();
      if (LOOP_OPS.contains(n.getOp()) || ctx.isProtected(body, d)) {
        return Match.none();
      }
      for (Body.Use u : body.uses(d)) {
        if (u.consumer() == null && !u.isControl()) {
          return Match.none(); // a function returns a dead value
        }
      }
    }
    Map<String, List<TensorRef>> merges = new LinkedHashMap<>();
    for (NodeDef n : body.nodes()) {
      if (MERGES.contains(n.getOp()) && !dead.contains(n.getName())) {
        List<TensorRef> live = new ArrayList<>();
        boolean anyDead = false;
        for (TensorRef r : Body.dataInputs(n)) {
          if (isDead(body, r, dead, switches)) {
            anyDead = true;
          } else {
            live.add(r);
          }
        }
        if (anyDead) {
          if (live.size() != 1) {
            return Match.none();
          }
          merges.put(n.getName(), live);
        }
      }
    }
    Set<String> touched = new LinkedHashSet<>(switches.keySet());
    touched.addAll(dead);
    touched.addAll(merges.keySet());
    Set<String> preds = new java.util.TreeSet<>();
    switches.values().forEach(sw -> preds.add(ctx.sides().predicateSource(body, Body.dataInputs(sw.node()).get(1))));
    Rewrite r = new Rewrite(Rewrite.Kind.CONTROL_FLOW, new ArrayList<>(touched), body.functionName(), NAME,
        switches.size() + " Switch(es) on constant predicates " + preds + " resolved, " + merges.size()
        + " Merge(s) reduced to their live input, " + dead.size() + " node(s) of the branches not taken removed");
    Set<String> keep = ctx.graph().protectedNodes(body);
    return new Plan(touched, new Plan.RewriteChange(r), ed -> apply(ed, switches, dead, merges, keep));
  }

  /** Nodes that never run: fed by the dead port of a resolved switch, through data or control edges. */
  private static Set<String> deadNodes(Body body, Map<String, Resolved> switches) {
    Set<String> dead = new HashSet<>();
    boolean grew = true;
    while (grew) {
      grew = false;
      for (NodeDef n : body.nodes()) {
        if (dead.contains(n.getName()) || MERGES.contains(n.getOp())) {
          continue;
        }
        boolean d = false;
        for (String in : n.getInputList()) {
          TensorRef r = TensorRef.parse(in);
          d |= r.isControl() ? dead.contains(r.node()) : isDead(body, r, dead, switches);
        }
        if (d) {
          dead.add(n.getName());
          grew = true;
        }
      }
      for (NodeDef n : body.nodes()) {
        if (MERGES.contains(n.getOp()) && !dead.contains(n.getName()) && !Body.dataInputs(n).isEmpty()
            && Body.dataInputs(n).stream().allMatch(r -> isDead(body, r, dead, switches))) {
          dead.add(n.getName());
          grew = true;
        }
      }
    }
    return dead;
  }

  private static boolean isDead(Body body, TensorRef r, Set<String> dead, Map<String, Resolved> switches) {
    if (dead.contains(r.node())) {
      return true;
    }
    Resolved s = switches.get(r.node());
    return s != null && port(body, r) != s.livePort();
  }

  /** The output port a reference to a Switch names (0 = output_false, 1 = output_true). */
  private static int port(Body body, TensorRef r) {
    String out = r.output();
    if (body.isFunction()) {
      return out.startsWith("output_true") ? 1 : 0;
    }
    return out.isEmpty() ? 0 : Integer.parseInt(out);
  }

  private static void apply(BodyEditor ed, Map<String, Resolved> switches, Set<String> dead,
      Map<String, List<TensorRef>> merges, Set<String> keep) {
    Body body = ed.original();
    for (String d : dead) {
      ed.remove(d);
    }
    for (Resolved s : switches.values()) {
      NodeDef n = s.node();
      TensorRef data = Body.dataInputs(n).get(0);
      String name = n.getName();
      ed.redirect(r -> r.node().equals(name) && port(body, r) == s.livePort(),
          OpOutputs.firstOutputRef(body, name, "Identity"));
      ed.replace(NodeDef.newBuilder().setName(name).setOp("Identity").setDevice(n.getDevice())
          .addInput(ed.currentRef(data)).addAllInput(Body.controlInputs(n))
          .putAttr("T", Nodes.type(Nodes.typeAttr(n, "T", DataType.DT_FLOAT))).build());
    }
    for (Map.Entry<String, List<TensorRef>> m : merges.entrySet()) {
      NodeDef n = ed.node(m.getKey());
      TensorRef live = m.getValue().get(0);
      int index = Body.dataInputs(body.node(m.getKey()).orElseThrow()).indexOf(live);
      String valueIndex = m.getKey() + "/value_index";
      boolean indexRead = readsValueIndex(ed, body, m.getKey());
      if (indexRead) {
        TensorProto t = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
            .setTensorShape(TensorShapeProto.getDefaultInstance()).addIntVal(index).build();
        String c = ed.uniqueName(valueIndex);
        ed.add(Nodes.constant(c, t, n.getDevice()), m.getKey());
        ed.redirect(r -> r.node().equals(m.getKey()) && isValueIndex(body, r), OpOutputs.firstOutputRef(body, c, "Const"));
      }
      ed.replace(NodeDef.newBuilder().setName(m.getKey()).setOp("Identity").setDevice(n.getDevice())
          .addInput(ed.currentRef(live)).addAllInput(Body.controlInputs(n))
          .putAttr("T", AttrValue.newBuilder().setType(Nodes.typeAttr(n, "T", DataType.DT_FLOAT)).build()).build());
      ed.redirectFirstOutput(m.getKey(), OpOutputs.firstOutputArg("Merge"),
          OpOutputs.firstOutputRef(body, m.getKey(), "Identity"));
    }
    for (Resolved s : switches.values()) {
      if (ed.dataUseCount(s.node().getName()) == 0 && !keep.contains(s.node().getName())) {
        List<TensorRef> in = Body.dataInputs(s.node());
        ed.remove(s.node().getName()); // a switch whose live port nothing reads: the branch not taken read it
        for (TensorRef r : in) {
          ed.removeIfUnused(r.node(), keep);
        }
      }
    }
  }

  private static boolean readsValueIndex(BodyEditor ed, Body body, String merge) {
    for (NodeDef n : ed.nodes()) {
      for (String in : n.getInputList()) {
        TensorRef r = TensorRef.parse(in);
        if (!r.isControl() && r.node().equals(merge) && isValueIndex(body, r)) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean isValueIndex(Body body, TensorRef r) {
    return body.isFunction() ? r.output().startsWith("value_index") : r.output().equals("1");
  }

}
