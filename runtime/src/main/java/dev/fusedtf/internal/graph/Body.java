package dev.fusedtf.internal.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

/**
 * The {@code Body} is a read-only view over one scope of nodes: the top level of a GraphDef, or the body of
 * one FunctionDef in its library. It indexes nodes by name and records, for every node, who reads it (data and
 * control uses, and the function's return values).
 *
 * <p>Inside a function body, a reference that names no node names an input argument of the function.
 */
public final class Body {

  /**
   * One use of a node's output: a consumer node's input at {@code inputIndex}, or (with {@code consumer} null)
   * the function return value {@code retKey}.
   */
  public record Use(NodeDef consumer, int inputIndex, String retKey, TensorRef ref) {
    /** Whether this is a control edge ({@code ^producer}). */
    public boolean isControl() {
      return ref.isControl();
    }

    /** Name of the reading node, or {@code "<return " + key + ">"} for a function return value. */
    public String readerName() {
      return consumer != null ? consumer.getName() : "<return " + retKey + ">";
    }
  }

  private final FunctionDef function;
  private final List<NodeDef> nodes;
  private final Map<String, NodeDef> byName;
  private final Map<String, List<Use>> uses;
  private final Map<String, Integer> argIndex;

  private Body(FunctionDef function, List<NodeDef> nodes) {
    this.function = function;
    this.nodes = List.copyOf(nodes);
    this.byName = new LinkedHashMap<>();
    for (NodeDef n : this.nodes) {
      byName.put(n.getName(), n);
    }
    this.argIndex = new HashMap<>();
    if (function != null) {
      List<OpDef.ArgDef> args = function.getSignature().getInputArgList();
      for (int i = 0; i < args.size(); i++) {
        argIndex.put(args.get(i).getName(), i);
      }
    }
    this.uses = new HashMap<>();
    for (NodeDef n : this.nodes) {
      for (int i = 0; i < n.getInputCount(); i++) {
        TensorRef ref = TensorRef.parse(n.getInput(i));
        uses.computeIfAbsent(ref.node(), k -> new ArrayList<>()).add(new Use(n, i, null, ref));
      }
    }
    if (function != null) {
      for (Map.Entry<String, String> e : function.getRetMap().entrySet()) {
        TensorRef ref = TensorRef.parse(e.getValue());
        uses.computeIfAbsent(ref.node(), k -> new ArrayList<>()).add(new Use(null, -1, e.getKey(), ref));
      }
      for (Map.Entry<String, String> e : function.getControlRetMap().entrySet()) {
        TensorRef ref = TensorRef.control(e.getValue());
        uses.computeIfAbsent(ref.node(), k -> new ArrayList<>()).add(new Use(null, -1, e.getKey(), ref));
      }
    }
  }

  /** A view of the top-level nodes of a GraphDef. */
  public static Body topLevel(List<NodeDef> nodes) {
    return new Body(null, nodes);
  }

  /** A view of one function body. */
  public static Body function(FunctionDef function) {
    return new Body(function, function.getNodeDefList());
  }

  /** Whether this is a function body (references use {@code node:arg:index}). */
  public boolean isFunction() {
    return function != null;
  }

  /** The function's name, or {@code null} for the top level. */
  public String functionName() {
    return function == null ? null : function.getSignature().getName();
  }

  /** The FunctionDef this body views, or {@code null} for the top level. */
  public FunctionDef functionDef() {
    return function;
  }

  /** A short label for reports: the function name or {@code "<top level>"}. */
  public String label() {
    return function == null ? "<top level>" : functionName();
  }

  /** All nodes in their original order. */
  public List<NodeDef> nodes() {
    return nodes;
  }

  /** The node with this name, if any. */
  public Optional<NodeDef> node(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  /** The node producing {@code ref}, or empty if it names a function argument or nothing. */
  public Optional<NodeDef> producer(TensorRef ref) {
    return node(ref.node());
  }

  /** Index of the function input argument named {@code name}, or -1. */
  public int argumentIndex(String name) {
    Integer i = argIndex.get(name);
    return i == null ? -1 : i;
  }

  /** Every use of any output of the node (or argument) named {@code name}, including control uses. */
  public List<Use> uses(String name) {
    return Collections.unmodifiableList(uses.getOrDefault(name, List.of()));
  }

  /** Data (non-control) uses of the node named {@code name}. */
  public List<Use> dataUses(String name) {
    return uses(name).stream().filter(u -> !u.isControl()).toList();
  }

  /** Whether {@code name} is free to use as a new node name in this body. */
  public boolean isFreeName(String name) {
    return !byName.containsKey(name) && !argIndex.containsKey(name);
  }

  /** A name not used in this body, derived from {@code base}. */
  public String uniqueName(String base) {
    if (isFreeName(base)) {
      return base;
    }
    for (int i = 1; ; i++) {
      String candidate = base + "_" + i;
      if (isFreeName(candidate)) {
        return candidate;
      }
    }
  }

  /** The data (non-control) inputs of {@code node}, parsed. */
  public static List<TensorRef> dataInputs(NodeDef node) {
    List<TensorRef> out = new ArrayList<>();
    for (String in : node.getInputList()) {
      TensorRef r = TensorRef.parse(in);
      if (!r.isControl()) {
        out.add(r);
      }
    }
    return out;
  }

  /** The control inputs of {@code node}, as written ({@code ^name}). */
  public static List<String> controlInputs(NodeDef node) {
    return node.getInputList().stream().filter(s -> s.startsWith("^")).toList();
  }
}
