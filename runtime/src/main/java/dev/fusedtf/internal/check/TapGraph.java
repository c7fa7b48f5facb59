package dev.fusedtf.internal.check;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

/**
 * The {@code TapGraph} is a check-only copy of a graph in which chosen inner tensors can be fetched: a top-level
 * node directly, a node inside a function body by adding it to the function's return values and to those of
 * every function on the call chain up to the top level (with each call site's {@code Tout} extended). The
 * copy computes exactly what the graph computes; it only returns more.
 */
public final class TapGraph {
  private static final Set<String> CALL_OPS = Set.of("PartitionedCall", "StatefulPartitionedCall");

  private TapGraph() {}

  /**
   * A tensor to expose: output 0 of {@code node} in {@code function} (null for the top level).
   *
   * @param key the caller's name for it
   * @param function the function body, or null
   * @param node the node
   */
  public record Tap(String key, String function, String node) {}

  /**
   * The copy, and where each tap can be fetched.
   *
   * @param graph the check-only graph
   * @param fetches tap key to top-level tensor name
   * @param missing tap key to why it could not be exposed
   */
  public record Tapped(GraphDef graph, Map<String, String> fetches, Map<String, String> missing) {}

  /** Builds the copy of {@code g} exposing {@code taps}; {@code fetchNodes} decide which call chain is served. */
  public static Tapped build(GraphDef g, List<Tap> taps, Collection<String> fetchNodes) {
    ModelGraph mg = new ModelGraph(g, fetchNodes);
    Map<String, String> fetches = new LinkedHashMap<>();
    Map<String, String> missing = new LinkedHashMap<>();
    Map<String, Call> parent = callTree(mg);
    Map<String, List<Export>> exports = new LinkedHashMap<>();
    List<Tap> chained = new ArrayList<>();
    for (Tap t : taps) {
      if (t.function() == null) {
        if (mg.topLevel().node(t.node()).isPresent()) {
          fetches.put(t.key(), t.node() + ":0");
        } else {
          missing.put(t.key(), "no node '" + t.node() + "' at the top level");
        }
        continue;
      }
      Body fb = mg.function(t.function()).orElse(null);
      NodeDef node = fb == null ? null : fb.node(t.node()).orElse(null);
      String why = node == null ? "no node '" + t.node() + "' in function " + t.function()
          : !parent.containsKey(t.function()) ? "function " + t.function() + " is not reached through "
          + "PartitionedCall/StatefulPartitionedCall from the signatures" : null;
      if (why == null) {
        for (String f = t.function(); f != null; f = parent.get(f).callerFunction()) {
          if (!simpleOutputs(mg.function(f).orElseThrow().functionDef())) {
            why = "function " + f + " has list-valued outputs";
            break;
          }
        }
      }
      if (why != null) {
        missing.put(t.key(), why);
        continue;
      }
      DataType type = Nodes.typeAttr(node, "T", DataType.DT_FLOAT);
      exports.computeIfAbsent(t.function(), k -> new ArrayList<>()).add(
          new Export(t.key(), node.getName() + ":" + OpOutputs.firstOutputArg(node.getOp()) + ":0", type, null));
      chained.add(t);
    }
    // forward each tap up the call chain
    for (Tap t : chained) {
      String f = t.function();
      while (true) {
        Call c = parent.get(f);
        List<Export> own = exports.get(f);
        int pos = indexOf(own, t.key());
        int base = outputCount(mg.function(f).orElseThrow().functionDef());
        Export e = own.get(pos);
        if (c.callerFunction() == null) {
          fetches.put(t.key(), c.node() + ":" + (base + pos));
          break;
        }
        exports.computeIfAbsent(c.callerFunction(), k -> new ArrayList<>()).add(
            new Export(t.key(), c.node() + ":output:" + (base + pos), e.type(), null));
        f = c.callerFunction();
      }
    }
    return new Tapped(rewrite(g, mg, exports), fetches, missing);
  }

  private record Export(String key, String ref, DataType type, String unused) {}

  /** How a function is called on the chain from the top level: by which node in which body (null = top). */
  private record Call(String callerFunction, String node) {}

  private static int indexOf(List<Export> list, String key) {
    for (int i = 0; i < list.size(); i++) {
      if (list.get(i).key().equals(key)) {
        return i;
      }
    }
    throw new IllegalStateException("no export " + key);
  }

  /** For every function reached from the live top level through call ops, the call that reaches it first. */
  private static Map<String, Call> callTree(ModelGraph mg) {
    Map<String, Call> parent = new HashMap<>();
    Deque<Body> work = new ArrayDeque<>();
    work.add(mg.topLevel());
    while (!work.isEmpty()) {
      Body b = work.pop();
      for (NodeDef n : b.nodes()) {
        if (!CALL_OPS.contains(n.getOp()) || !mg.isLive(b, n.getName()) || !n.getAttrMap().containsKey("f")) {
          continue;
        }
        String callee = n.getAttrMap().get("f").getFunc().getName();
        if (!parent.containsKey(callee) && mg.function(callee).isPresent()) {
          parent.put(callee, new Call(b.functionName(), n.getName()));
          work.add(mg.function(callee).get());
        }
      }
    }
    return parent;
  }

  private static boolean simpleOutputs(FunctionDef f) {
    return f.getSignature().getOutputArgList().stream()
        .allMatch(a -> a.getNumberAttr().isEmpty() && a.getTypeListAttr().isEmpty());
  }

  private static int outputCount(FunctionDef f) {
    return f.getSignature().getOutputArgCount();
  }

  private static GraphDef rewrite(GraphDef g, ModelGraph mg, Map<String, List<Export>> exports) {
    if (exports.isEmpty()) {
      return g;
    }
    GraphDef.Builder out = g.toBuilder();
    for (NodeDef.Builder n : out.getNodeBuilderList()) {
      extendTout(n, exports);
    }
    FunctionDefLibrary.Builder lib = out.getLibraryBuilder();
    for (FunctionDef.Builder f : lib.getFunctionBuilderList()) {
      for (NodeDef.Builder n : f.getNodeDefBuilderList()) {
        extendTout(n, exports);
      }
      List<Export> ex = exports.get(f.getSignature().getName());
      if (ex == null) {
        continue;
      }
      OpDef.Builder sig = f.getSignatureBuilder();
      for (int i = 0; i < ex.size(); i++) {
        String name = "fusedtf_tap_" + i;
        sig.addOutputArg(OpDef.ArgDef.newBuilder().setName(name).setType(ex.get(i).type()));
        f.putRet(name, ex.get(i).ref());
      }
    }
    return out.build();
  }

  private static void extendTout(NodeDef.Builder n, Map<String, List<Export>> exports) {
    if (!CALL_OPS.contains(n.getOp()) || !n.getAttrMap().containsKey("f")) {
      return;
    }
    List<Export> ex = exports.get(n.getAttrMap().get("f").getFunc().getName());
    if (ex == null) {
      return;
    }
    AttrValue.ListValue.Builder tout = n.getAttrMap().containsKey("Tout")
        ? n.getAttrMap().get("Tout").getList().toBuilder() : AttrValue.ListValue.newBuilder();
    ex.forEach(e -> tout.addType(e.type()));
    n.putAttr("Tout", AttrValue.newBuilder().setList(tout).build());
    n.removeAttr("_output_shapes");
  }
}
