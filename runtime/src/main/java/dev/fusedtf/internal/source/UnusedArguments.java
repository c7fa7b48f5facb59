package dev.fusedtf.internal.source;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.TensorRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

/**
 * Removes function arguments nothing in the body reads (the resource arguments of a Keras function whose weights
 * were frozen into constants) from the function and from every call site, so the caller stops passing variable
 * handles it no longer needs. Only functions called through {@code PartitionedCall}/{@code StatefulPartitionedCall}
 * and nothing else are changed.
 */
public final class UnusedArguments {
  private static final Set<String> CALL_OPS = Set.of("PartitionedCall", "StatefulPartitionedCall");

  private UnusedArguments() {}

  /** The graph without unused arguments, and how many went. */
  public record Stripped(GraphDef graph, int removed) {}

  /** Strips unused arguments until none is left (removing one can leave another caller's argument unused). */
  public static Stripped strip(GraphDef graph) {
    int total = 0;
    for (int i = 0; i < 16; i++) {
      Stripped s = once(graph);
      if (s.removed() == 0) {
        break;
      }
      graph = s.graph();
      total += s.removed();
    }
    return new Stripped(graph, total);
  }

  private static Stripped once(GraphDef graph) {
    ModelGraph mg = new ModelGraph(graph, List.of());
    Map<String, List<Integer>> drop = new HashMap<>();
    for (Body b : mg.functions()) {
      FunctionDef f = b.functionDef();
      if (!onlyCalledByCallOps(mg, b.functionName())) {
        continue;
      }
      List<Integer> unused = new ArrayList<>();
      List<OpDef.ArgDef> args = f.getSignature().getInputArgList();
      for (int i = 0; i < args.size(); i++) {
        OpDef.ArgDef a = args.get(i);
        if (a.getNumberAttr().isEmpty() && a.getTypeListAttr().isEmpty() && b.uses(a.getName()).isEmpty()) {
          unused.add(i);
        }
      }
      if (!unused.isEmpty()) {
        drop.put(b.functionName(), unused);
      }
    }
    if (drop.isEmpty()) {
      return new Stripped(graph, 0);
    }
    GraphDef.Builder out = graph.toBuilder();
    for (NodeDef.Builder n : out.getNodeBuilderList()) {
      dropInputs(n, drop);
    }
    FunctionDefLibrary.Builder lib = out.getLibraryBuilder();
    int removed = 0;
    for (FunctionDef.Builder f : lib.getFunctionBuilderList()) {
      for (NodeDef.Builder n : f.getNodeDefBuilderList()) {
        dropInputs(n, drop);
      }
      List<Integer> d = drop.get(f.getSignature().getName());
      if (d == null) {
        continue;
      }
      OpDef.Builder sig = f.getSignatureBuilder();
      List<OpDef.ArgDef> kept = new ArrayList<>();
      Map<Integer, Integer> oldToNew = new HashMap<>();
      for (int i = 0; i < sig.getInputArgCount(); i++) {
        if (!d.contains(i)) {
          oldToNew.put(i, kept.size());
          kept.add(sig.getInputArg(i));
        }
      }
      int before = sig.getInputArgCount();
      sig.clearInputArg().addAllInputArg(kept);
      // _input_shapes (one shape per argument, written by TF2) must shrink with the arguments, or the function
      // no longer matches its own description and TensorFlow stops inlining its calls
      AttrValue shapes = f.getAttrMap().get("_input_shapes");
      if (shapes != null && shapes.getList().getShapeCount() == before) {
        AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
        for (int i = 0; i < before; i++) {
          if (!d.contains(i)) {
            l.addShape(shapes.getList().getShape(i));
          }
        }
        f.putAttr("_input_shapes", AttrValue.newBuilder().setList(l).build());
      }
      // per-argument attributes are keyed by argument index
      Map<Integer, org.tensorflow.proto.FunctionDef.ArgAttrs> attrs = new HashMap<>(f.getArgAttrMap());
      f.clearArgAttr();
      attrs.forEach((i, a) -> {
        if (oldToNew.containsKey(i)) {
          f.putArgAttr(oldToNew.get(i), a);
        }
      });
      Map<Integer, Integer> resIds = new HashMap<>(f.getResourceArgUniqueIdMap());
      f.clearResourceArgUniqueId();
      resIds.forEach((i, v) -> {
        if (oldToNew.containsKey(i)) {
          f.putResourceArgUniqueId(oldToNew.get(i), v);
        }
      });
      removed += d.size();
    }
    return new Stripped(out.build(), removed);
  }

  private static boolean onlyCalledByCallOps(ModelGraph mg, String fn) {
    List<ModelGraph.CallSite> sites = mg.callSites(fn);
    if (sites.isEmpty()) {
      return false;
    }
    for (ModelGraph.CallSite s : sites) {
      NodeDef n = s.node();
      if (!CALL_OPS.contains(n.getOp()) || !n.getAttrMap().containsKey("f")
          || !n.getAttrMap().get("f").getFunc().getName().equals(fn)) {
        return false;
      }
      // the function must be named only by the f attribute (not also as a gradient or another attribute)
      int named = 0;
      for (Map.Entry<String, AttrValue> a : n.getAttrMap().entrySet()) {
        if (a.getValue().hasFunc() && a.getValue().getFunc().getName().equals(fn)) {
          named++;
        }
      }
      if (named != 1) {
        return false;
      }
    }
    return true;
  }

  private static void dropInputs(NodeDef.Builder n, Map<String, List<Integer>> drop) {
    if (!CALL_OPS.contains(n.getOp()) || !n.getAttrMap().containsKey("f")) {
      return;
    }
    List<Integer> d = drop.get(n.getAttrMap().get("f").getFunc().getName());
    if (d == null) {
      return;
    }
    List<String> inputs = new ArrayList<>(n.getInputList());
    List<String> kept = new ArrayList<>();
    int data = 0;
    Set<Integer> dset = new HashSet<>(d);
    for (String in : inputs) {
      if (TensorRef.parse(in).isControl()) {
        kept.add(in);
      } else if (!dset.contains(data++)) {
        kept.add(in);
      }
    }
    n.clearInput().addAllInput(kept);
    if (n.getAttrMap().containsKey("Tin")) {
      AttrValue.ListValue tin = n.getAttrMap().get("Tin").getList();
      AttrValue.ListValue.Builder nt = AttrValue.ListValue.newBuilder();
      for (int i = 0; i < tin.getTypeCount(); i++) {
        if (!dset.contains(i)) {
          nt.addType(tin.getType(i));
        }
      }
      n.putAttr("Tin", AttrValue.newBuilder().setList(nt).build());
    }
    n.removeAttr("_read_only_resource_inputs");
  }
}
