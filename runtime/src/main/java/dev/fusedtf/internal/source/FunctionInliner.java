package dev.fusedtf.internal.source;

import dev.fusedtf.internal.graph.TensorRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.tensorflow.TensorFlow;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

/**
 * Replaces top-level calls of library functions ({@code PartitionedCall}, {@code StatefulPartitionedCall}) by the
 * bodies they call, so a served Keras model runs as one flat graph instead of through TensorFlow's function runtime
 * (which TensorFlow does not always inline itself once a function's resource arguments are gone, and which then
 * costs a multi-device function call per request).
 *
 * <p>The call node keeps its name as an {@code IdentityN} of the body's results (a {@code NoOp} for a call with no
 * results), so signature tensors ({@code StatefulPartitionedCall:0}) and every consumer stay valid. Body nodes are
 * renamed {@code <call>/<node>}; references to the function's arguments become the call's inputs; body references
 * ({@code node:output:0}) become flat output indices, computed from each op's definition. A call is left alone when
 * its function is generic (has attributes), is marked {@code _noinline}, or uses an op whose outputs cannot be
 * resolved.
 */
public final class FunctionInliner {
  private static final Set<String> CALL_OPS = Set.of("PartitionedCall", "StatefulPartitionedCall");
  private static final int MAX_CALLS = 10_000;
  private static volatile Map<String, OpDef> registered;

  private FunctionInliner() {}

  /** The flat graph and how many call nodes were replaced by their bodies. */
  public record Inlined(GraphDef graph, int calls) {}

  /** Inlines every inlinable top-level call, and the calls those bodies contain, until none is left. */
  public static Inlined inline(GraphDef graph) {
    Map<String, FunctionDef> functions = new HashMap<>();
    graph.getLibrary().getFunctionList().forEach(f -> functions.put(f.getSignature().getName(), f));
    if (functions.isEmpty()) {
      return new Inlined(graph, 0);
    }
    List<NodeDef> nodes = new ArrayList<>(graph.getNodeList());
    Set<String> names = new HashSet<>();
    nodes.forEach(n -> names.add(n.getName()));
    Set<String> refused = new HashSet<>();
    int calls = 0;
    boolean progress = true;
    while (progress && calls < MAX_CALLS) {
      progress = false;
      for (int i = 0; i < nodes.size(); i++) {
        NodeDef call = nodes.get(i);
        FunctionDef f = callee(call, functions);
        if (f == null || refused.contains(call.getName())) {
          continue;
        }
        Optional<List<NodeDef>> body = expand(call, f, functions, names);
        if (body.isEmpty()) {
          refused.add(call.getName());
          continue;
        }
        nodes.remove(i);
        nodes.addAll(i, body.get());
        body.get().forEach(n -> names.add(n.getName()));
        calls++;
        progress = true;
        break;
      }
    }
    if (calls == 0) {
      return new Inlined(graph, 0);
    }
    return new Inlined(graph.toBuilder().clearNode().addAllNode(nodes).build(), calls);
  }

  private static FunctionDef callee(NodeDef n, Map<String, FunctionDef> functions) {
    if (!CALL_OPS.contains(n.getOp()) || !n.getAttrMap().containsKey("f")) {
      return null;
    }
    FunctionDef f = functions.get(n.getAttrMap().get("f").getFunc().getName());
    if (f == null || f.getSignature().getAttrCount() > 0 || !n.getAttrMap().get("f").getFunc().getAttrMap().isEmpty()
        || isTrue(n.getAttrMap().get("_noinline")) || isTrue(f.getAttrMap().get("_noinline"))) {
      return null;
    }
    return f;
  }

  private static boolean isTrue(AttrValue v) {
    return v != null && v.getB();
  }

  /** The nodes replacing {@code call}, or empty when some body reference cannot be resolved. */
  private static Optional<List<NodeDef>> expand(NodeDef call, FunctionDef f, Map<String, FunctionDef> functions,
      Set<String> names) {
    OpDef sig = f.getSignature();
    List<String> dataInputs = new ArrayList<>();
    List<String> controlInputs = new ArrayList<>();
    for (String in : call.getInputList()) {
      (in.startsWith("^") ? controlInputs : dataInputs).add(in);
    }
    if (dataInputs.size() != sig.getInputArgCount()) {
      return Optional.empty();
    }
    Map<String, String> args = new HashMap<>();
    for (int k = 0; k < sig.getInputArgCount(); k++) {
      args.put(sig.getInputArg(k).getName(), dataInputs.get(k));
    }
    String prefix = prefix(call.getName(), f, names);
    Map<String, NodeDef> byName = new HashMap<>();
    f.getNodeDefList().forEach(n -> byName.put(n.getName(), n));
    String device = call.getDevice();
    List<NodeDef> out = new ArrayList<>();
    for (NodeDef n : f.getNodeDefList()) {
      NodeDef.Builder b = n.toBuilder().setName(prefix + n.getName()).clearInput();
      for (String in : n.getInputList()) {
        String mapped = map(in, args, byName, functions, prefix);
        if (mapped == null) {
          return Optional.empty();
        }
        b.addInput(mapped);
      }
      b.addAllInput(controlInputs);
      AttrValue colocation = n.getAttrMap().get("_class");
      if (colocation != null) {
        AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
        for (com.google.protobuf.ByteString c : colocation.getList().getSList()) {
          String group = c.toStringUtf8();
          String target = group.startsWith("loc:@") ? group.substring(5) : null;
          l.addS(target != null && byName.containsKey(target)
              ? com.google.protobuf.ByteString.copyFromUtf8("loc:@" + prefix + target) : c);
        }
        b.putAttr("_class", AttrValue.newBuilder().setList(l).build());
      }
      if (b.getDevice().isEmpty() && !device.isEmpty()) {
        b.setDevice(device);
      }
      out.add(b.build());
    }
    NodeDef.Builder result = NodeDef.newBuilder().setName(call.getName()).setDevice(device);
    if (sig.getOutputArgCount() == 0) {
      result.setOp("NoOp");
    } else {
      AttrValue.ListValue.Builder types = AttrValue.ListValue.newBuilder();
      for (OpDef.ArgDef o : sig.getOutputArgList()) {
        String ret = f.getRetMap().get(o.getName());
        if (ret == null || o.getType() == DataType.DT_INVALID || !o.getNumberAttr().isEmpty()
            || !o.getTypeListAttr().isEmpty()) {
          return Optional.empty();
        }
        String mapped = map(ret, args, byName, functions, prefix);
        if (mapped == null) {
          return Optional.empty();
        }
        result.addInput(mapped);
        types.addType(o.getType());
      }
      result.setOp("IdentityN").putAttr("T", AttrValue.newBuilder().setList(types).build());
    }
    for (String controlRet : f.getControlRetMap().values()) {
      if (!byName.containsKey(controlRet)) {
        return Optional.empty();
      }
      result.addInput("^" + prefix + controlRet);
    }
    result.addAllInput(controlInputs);
    out.add(result.build());
    return Optional.of(out);
  }

  /** A prefix {@code <call>/} under which no body node clashes with an existing name. */
  private static String prefix(String call, FunctionDef f, Set<String> names) {
    for (int k = 0; ; k++) {
      String p = k == 0 ? call + "/" : call + "/_inlined" + k + "/";
      boolean clash = false;
      for (NodeDef n : f.getNodeDefList()) {
        if (names.contains(p + n.getName())) {
          clash = true;
          break;
        }
      }
      if (!clash) {
        return p;
      }
    }
  }

  /** A body reference in top-level syntax, or null when it cannot be resolved. */
  private static String map(String in, Map<String, String> args, Map<String, NodeDef> body,
      Map<String, FunctionDef> functions, String prefix) {
    TensorRef r = TensorRef.parse(in);
    if (r.isControl()) {
      if (body.containsKey(r.node())) {
        return "^" + prefix + r.node();
      }
      String arg = args.get(r.node());
      return arg == null ? null : "^" + TensorRef.parse(arg).node();
    }
    if (r.output().isEmpty() && args.containsKey(r.node())) {
      return args.get(r.node());
    }
    NodeDef producer = body.get(r.node());
    if (producer == null) {
      return null;
    }
    String[] parts = r.output().split(":");
    if (parts.length != 2) {
      return null;
    }
    int index;
    try {
      index = Integer.parseInt(parts[1]);
    } catch (NumberFormatException e) {
      return null;
    }
    int flat = flatIndex(producer, parts[0], index, functions);
    if (flat < 0) {
      return null;
    }
    return flat == 0 ? prefix + producer.getName() : prefix + producer.getName() + ":" + flat;
  }

  /** The flat output index of output {@code arg}:{@code index} of {@code node}, or -1 when unknown. */
  static int flatIndex(NodeDef node, String arg, int index, Map<String, FunctionDef> functions) {
    OpDef def = functions.containsKey(node.getOp()) ? functions.get(node.getOp()).getSignature()
        : registered().get(node.getOp());
    if (def == null) {
      return -1;
    }
    int flat = 0;
    for (OpDef.ArgDef o : def.getOutputArgList()) {
      int size;
      if (!o.getNumberAttr().isEmpty()) {
        AttrValue n = node.getAttrMap().get(o.getNumberAttr());
        if (n == null) {
          return -1;
        }
        size = (int) n.getI();
      } else if (!o.getTypeListAttr().isEmpty()) {
        AttrValue t = node.getAttrMap().get(o.getTypeListAttr());
        if (t == null) {
          return -1;
        }
        size = t.getList().getTypeCount();
      } else {
        size = 1;
      }
      if (o.getName().equals(arg)) {
        return index < size ? flat + index : -1;
      }
      flat += size;
    }
    return -1;
  }

  private static Map<String, OpDef> registered() {
    Map<String, OpDef> r = registered;
    if (r == null) {
      synchronized (FunctionInliner.class) {
        if (registered == null) {
          Map<String, OpDef> m = new ConcurrentHashMap<>();
          TensorFlow.registeredOpList().getOpList().forEach(d -> m.put(d.getName(), d));
          registered = m;
        }
        r = registered;
      }
    }
    return r;
  }
}
