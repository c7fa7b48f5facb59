package dev.fusedtf.internal.graph;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code ModelGraph} is an immutable view over a whole GraphDef: its top-level body, one {@link Body} per
 * FunctionDef in the library, the call sites of each function, and the set of bodies that the given fetch
 * nodes (the signatures' outputs) can execute.
 */
public final class ModelGraph {

  /** A node in {@code caller} that calls a library function; its data inputs bind the function's arguments. */
  public record CallSite(Body caller, NodeDef node) {}

  private final GraphDef graphDef;
  private final Body top;
  private final Map<String, Body> functions;
  private final Map<String, List<CallSite>> callSites;
  private final Set<String> fetchNodes;
  private final Set<String> fedNodes;
  private final Set<String> liveTopLevel;
  private final Set<String> reachableFunctions;

  /**
   * @param graphDef the graph, library included
   * @param fetchNodes top-level node names the model's users fetch (signature outputs); they decide which
   *     function bodies are on the serving path, and a rewrite never removes or renames them
   */
  public ModelGraph(GraphDef graphDef, Collection<String> fetchNodes) {
    this(graphDef, fetchNodes, Set.of());
  }

  /**
   * @param graphDef the graph, library included
   * @param fetchNodes top-level nodes the signatures fetch
   * @param fedNodes top-level nodes the signatures feed (a PlaceholderWithDefault among them can take any value)
   */
  public ModelGraph(GraphDef graphDef, Collection<String> fetchNodes, Collection<String> fedNodes) {
    this.graphDef = graphDef;
    this.top = Body.topLevel(graphDef.getNodeList());
    this.functions = new LinkedHashMap<>();
    for (FunctionDef f : graphDef.getLibrary().getFunctionList()) {
      functions.put(f.getSignature().getName(), Body.function(f));
    }
    this.callSites = new LinkedHashMap<>();
    List<Body> all = new ArrayList<>();
    all.add(top);
    all.addAll(functions.values());
    for (Body b : all) {
      for (NodeDef n : b.nodes()) {
        for (String callee : calledFunctions(n)) {
          callSites.computeIfAbsent(callee, k -> new ArrayList<>()).add(new CallSite(b, n));
        }
      }
    }
    this.fetchNodes = Set.copyOf(fetchNodes);
    this.fedNodes = Set.copyOf(fedNodes);
    this.liveTopLevel = fetchNodes.isEmpty() ? null : computeClosure();
    this.reachableFunctions = computeReachable();
  }

  /** The underlying proto. */
  public GraphDef graphDef() {
    return graphDef;
  }

  /** The top-level body. */
  public Body topLevel() {
    return top;
  }

  /** The body of function {@code name}, if the library has it. */
  public Optional<Body> function(String name) {
    return Optional.ofNullable(functions.get(name));
  }

  /** Every function body, in library order. */
  public Collection<Body> functions() {
    return functions.values();
  }

  /** Top-level node names that the signatures fetch. */
  public Set<String> fetchNodes() {
    return fetchNodes;
  }

  /** Top-level nodes the signatures feed. */
  public Set<String> fedNodes() {
    return fedNodes;
  }

  /**
   * Nodes of {@code body} a rewrite must keep as they are (name, op and value): top-level nodes the signatures
   * fetch or feed. Function bodies have none (their callers see only the return values).
   */
  public Set<String> protectedNodes(Body body) {
    if (body.isFunction()) {
      return Set.of();
    }
    Set<String> out = new LinkedHashSet<>(fetchNodes);
    out.addAll(fedNodes);
    return out;
  }

  /** Whether node {@code name} of {@code body} is fetched or fed by a signature. */
  public boolean isProtected(Body body, String name) {
    return !body.isFunction() && (fetchNodes.contains(name) || fedNodes.contains(name));
  }

  /**
   * Whether node {@code name} of {@code body} runs when the signatures run: every node of a serving function
   * body, and the top-level nodes the fetch nodes depend on. Readers that never run (gradients, optimizer and
   * saver ops of a TF1 training graph) do not block a fold.
   */
  public boolean isLive(Body body, String name) {
    return body.isFunction() || liveTopLevel == null || liveTopLevel.contains(name);
  }

  /** Data uses of node {@code name} by readers that run (see {@link #isLive}). */
  public List<Body.Use> liveDataUses(Body body, String name) {
    return body.dataUses(name).stream()
        .filter(u -> u.consumer() == null || isLive(body, u.consumer().getName()))
        .toList();
  }

  /** Nodes that call {@code functionName} (through a func attribute or as the op type). */
  public List<CallSite> callSites(String functionName) {
    return callSites.getOrDefault(functionName, List.of());
  }

  /**
   * The bodies that running the fetch nodes can execute: the top level, then every function reachable from
   * the fetched nodes through calls, in discovery order. With no fetch nodes, every function counts.
   */
  public List<Body> servingBodies() {
    List<Body> out = new ArrayList<>();
    out.add(top);
    for (String f : reachableFunctions) {
      out.add(functions.get(f));
    }
    return out;
  }

  /** Whether function {@code name} is on the serving path. */
  public boolean isServing(String functionName) {
    return reachableFunctions.contains(functionName);
  }

  /**
   * Node count over the serving path: top-level nodes that the fetch nodes depend on (data and control inputs,
   * transitively) plus the nodes of every reachable function body. With no fetch nodes, all top-level nodes.
   */
  public int servingNodeCount() {
    int n = topLevelClosure().size();
    for (String f : reachableFunctions) {
      n += functions.get(f).nodes().size();
    }
    return n;
  }

  /** Top-level node names the fetch nodes depend on, the fetch nodes included. */
  public Set<String> topLevelClosure() {
    return liveTopLevel == null ? new LinkedHashSet<>(top.nodes().stream().map(NodeDef::getName).toList())
        : liveTopLevel;
  }

  private Set<String> computeClosure() {
    Set<String> seen = new LinkedHashSet<>();
    Deque<String> work = new ArrayDeque<>(fetchNodes);
    while (!work.isEmpty()) {
      String name = work.pop();
      Optional<NodeDef> node = top.node(name);
      if (node.isEmpty() || !seen.add(name)) {
        continue;
      }
      for (String in : node.get().getInputList()) {
        work.push(TensorRef.parse(in).node());
      }
    }
    return seen;
  }

  /** Names of library functions that node {@code n} calls: func-valued attributes and an op naming a function. */
  public List<String> calledFunctions(NodeDef n) {
    List<String> out = new ArrayList<>();
    if (functions.containsKey(n.getOp())) {
      out.add(n.getOp());
    }
    for (AttrValue v : n.getAttrMap().values()) {
      if (v.hasFunc()) {
        out.add(v.getFunc().getName());
      } else if (v.hasList()) {
        v.getList().getFuncList().forEach(f -> out.add(f.getName()));
      }
    }
    return out;
  }

  private Set<String> computeReachable() {
    Set<String> reached = new LinkedHashSet<>();
    if (fetchNodes.isEmpty()) {
      reached.addAll(functions.keySet());
      return reached;
    }
    Deque<String> fnWork = new ArrayDeque<>();
    for (String name : topLevelClosure()) {
      fnWork.addAll(calledFunctions(top.node(name).orElseThrow()));
    }
    while (!fnWork.isEmpty()) {
      String f = fnWork.pop();
      if (!functions.containsKey(f) || !reached.add(f)) {
        continue;
      }
      for (NodeDef n : functions.get(f).nodes()) {
        fnWork.addAll(calledFunctions(n));
      }
    }
    return reached;
  }
}
