package dev.fusedtf.internal.weights;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.TensorRef;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code WeightResolver} finds the value behind a tensor reference: a Const, an {@code Identity} of one
 * (TF1 frozen {@code /read}), a {@code VariableV2}, or a resource variable read by {@code ReadVariableOp} whose
 * handle may arrive as a function argument, traced through every call site up to its top-level
 * {@code VarHandleOp}. Variable values come from a {@link VariableStore}.
 */
public final class WeightResolver {
  private static final Set<String> REF_VARIABLES = Set.of("VariableV2", "Variable");
  private static final Set<String> CALL_OPS = Set.of("StatefulPartitionedCall", "PartitionedCall");
  private static final int MAX_DEPTH = 64;

  private final ModelGraph graph;
  private final VariableStore variables;

  /** Resolves weights of {@code graph}, reading variables from {@code variables}. */
  public WeightResolver(ModelGraph graph, VariableStore variables) {
    this.graph = graph;
    this.variables = variables;
  }

  /** The graph weights are resolved in. */
  public ModelGraph graph() {
    return graph;
  }

  /** The outcome of resolving a weight: its value, or why it is unknown. */
  public record Resolved(DenseTensor value, WeightOrigin origin) {
    /** Whether the value is known. */
    public boolean known() {
      return value != null;
    }

    /** The reason the value is unknown (null when known). */
    public String reason() {
      return origin instanceof WeightOrigin.Unknown u ? u.reason() : null;
    }
  }

  /** Resolves the value of {@code ref} as read in {@code body}. */
  public Resolved resolve(Body body, TensorRef ref) {
    WeightOrigin origin = trace(body, ref, 0);
    if (origin instanceof WeightOrigin.Constant c) {
      return new Resolved(c.value(), c);
    }
    if (origin instanceof WeightOrigin.Variable v) {
      Optional<DenseTensor> value = variables.read(v.node(), v.resource());
      if (value.isEmpty()) {
        return new Resolved(null, new WeightOrigin.Unknown("value of variable '" + v.node() + "' could not be read"));
      }
      return new Resolved(value.get(), v);
    }
    return new Resolved(null, origin);
  }

  /** Traces {@code ref} (a data tensor) to where its value comes from. */
  public WeightOrigin trace(Body body, TensorRef ref, int depth) {
    if (depth > MAX_DEPTH) {
      return new WeightOrigin.Unknown("reference chain too deep at '" + ref + "'");
    }
    Optional<NodeDef> producer = body.producer(ref);
    if (producer.isEmpty()) {
      if (body.isFunction() && body.argumentIndex(ref.node()) >= 0) {
        return traceArgument(body, body.argumentIndex(ref.node()), false, depth);
      }
      return new WeightOrigin.Unknown("'" + ref + "' names no node");
    }
    NodeDef n = producer.get();
    switch (n.getOp()) {
      case "Const":
        if (!n.getAttrMap().containsKey("value")) {
          return new WeightOrigin.Unknown("Const '" + n.getName() + "' has no value");
        }
        try {
          return new WeightOrigin.Constant(n.getName(), TensorCodec.decode(n.getAttrMap().get("value").getTensor()));
        } catch (IllegalArgumentException e) {
          return new WeightOrigin.Unknown("Const '" + n.getName() + "': " + e.getMessage());
        }
      case "Identity":
        return trace(body, Body.dataInputs(n).get(0), depth + 1);
      case "ReadVariableOp":
        return traceResource(body, Body.dataInputs(n).get(0), depth + 1);
      default:
        if (REF_VARIABLES.contains(n.getOp()) && !body.isFunction()) {
          return new WeightOrigin.Variable(n.getName(), false);
        }
        return new WeightOrigin.Unknown(n.getOp() + " '" + n.getName() + "' is not a constant or a variable");
    }
  }

  private WeightOrigin traceResource(Body body, TensorRef ref, int depth) {
    if (depth > MAX_DEPTH) {
      return new WeightOrigin.Unknown("reference chain too deep at '" + ref + "'");
    }
    Optional<NodeDef> producer = body.producer(ref);
    if (producer.isEmpty()) {
      if (body.isFunction() && body.argumentIndex(ref.node()) >= 0) {
        return traceArgument(body, body.argumentIndex(ref.node()), true, depth);
      }
      return new WeightOrigin.Unknown("resource '" + ref + "' names no node");
    }
    NodeDef n = producer.get();
    if (n.getOp().equals("VarHandleOp") && !body.isFunction()) {
      return new WeightOrigin.Variable(n.getName(), true);
    }
    if (n.getOp().equals("Identity")) {
      return traceResource(body, Body.dataInputs(n).get(0), depth + 1);
    }
    return new WeightOrigin.Unknown("resource comes from " + n.getOp() + " '" + n.getName() + "'");
  }

  /** Follows function argument {@code index} of {@code body} to every call site; all must agree. */
  private WeightOrigin traceArgument(Body body, int index, boolean resource, int depth) {
    List<ModelGraph.CallSite> sites = graph.callSites(body.functionName());
    if (sites.isEmpty()) {
      return new WeightOrigin.Unknown("function " + body.functionName() + " has no call site");
    }
    WeightOrigin agreed = null;
    for (ModelGraph.CallSite site : sites) {
      NodeDef call = site.node();
      boolean direct = call.getOp().equals(body.functionName());
      boolean viaAttr = CALL_OPS.contains(call.getOp()) && call.getAttrMap().containsKey("f")
          && call.getAttrMap().get("f").getFunc().getName().equals(body.functionName());
      if (!direct && !viaAttr) {
        return new WeightOrigin.Unknown(
            "function " + body.functionName() + " is also called by " + call.getOp() + " '" + call.getName() + "'");
      }
      List<TensorRef> args = Body.dataInputs(call);
      if (index >= args.size()) {
        return new WeightOrigin.Unknown("call '" + call.getName() + "' passes no argument " + index);
      }
      WeightOrigin o = resource
          ? traceResource(site.caller(), args.get(index), depth + 1)
          : trace(site.caller(), args.get(index), depth + 1);
      if (o instanceof WeightOrigin.Unknown) {
        return o;
      }
      if (agreed == null) {
        agreed = o;
      } else if (!sameOrigin(agreed, o)) {
        return new WeightOrigin.Unknown("function " + body.functionName() + " argument " + index
            + " is bound to different values at different call sites");
      }
    }
    return agreed;
  }

  private static boolean sameOrigin(WeightOrigin a, WeightOrigin b) {
    if (a instanceof WeightOrigin.Variable va && b instanceof WeightOrigin.Variable vb) {
      return va.node().equals(vb.node()) && va.resource() == vb.resource();
    }
    if (a instanceof WeightOrigin.Constant ca && b instanceof WeightOrigin.Constant cb) {
      return java.util.Arrays.equals(ca.value().shape(), cb.value().shape())
          && java.util.Arrays.equals(ca.value().values(), cb.value().values());
    }
    return false;
  }
}
