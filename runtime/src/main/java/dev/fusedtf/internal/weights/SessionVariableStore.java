package dev.fusedtf.internal.weights;

import dev.fusedtf.internal.graph.Body;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code SessionVariableStore} reads variable values from a loaded session: a ref variable by fetching
 * it, a resource variable through a top-level {@code ReadVariableOp} of its handle (an existing one, or one
 * added to the graph for the purpose). Values are cached. The session is borrowed, never closed here.
 */
public final class SessionVariableStore implements VariableStore {
  private static final Logger LOG = LoggerFactory.getLogger(SessionVariableStore.class);

  private final Session session;
  private final Graph graph;
  private final Body topLevel;
  private final Map<String, Optional<DenseTensor>> cache = new HashMap<>();
  private volatile boolean addedOps;

  /**
   * @param session the session holding the variable values
   * @param graph the session's graph (read ops may be added to it)
   * @param topLevel the top-level body of the graph as a GraphDef view, to find existing read ops
   */
  public SessionVariableStore(Session session, Graph graph, Body topLevel) {
    this.session = session;
    this.graph = graph;
    this.topLevel = topLevel;
  }

  /**
   * Reads many variables in one session run (each run with a new set of fetches costs TensorFlow a graph prune
   * and an executor: reading 56 variables one by one took 1.2 s on the KWS model). Variables of unsupported
   * dtype, and all of them when their total size exceeds {@code maxElements}, are left to {@link #read}.
   *
   * @param variables top-level variable node names with whether each is a resource variable
   */
  public synchronized void prefetch(java.util.Map<String, Boolean> variables, long maxElements) {
    java.util.List<String> names = new java.util.ArrayList<>();
    java.util.List<String> fetches = new java.util.ArrayList<>();
    long elements = 0;
    for (java.util.Map.Entry<String, Boolean> e : variables.entrySet()) {
      String key = e.getKey() + (e.getValue() ? "#r" : "#v");
      Optional<NodeDef> node = topLevel.node(e.getKey());
      if (cache.containsKey(key) || node.isEmpty() || !node.get().getAttrMap().containsKey("dtype")
          || !TensorCodec.isSupported(node.get().getAttrMap().get("dtype").getType())) {
        continue;
      }
      if (node.get().getAttrMap().containsKey("shape")) {
        long n = TensorCodec.numElements(TensorCodec.shapeOf(node.get().getAttrMap().get("shape").getShape()));
        elements += Math.max(n, 0);
      }
      try {
        String fetch = e.getValue() ? readOpFor(e.getKey()) : e.getKey();
        if (fetch != null) {
          names.add(key);
          fetches.add(fetch);
        }
      } catch (RuntimeException ex) {
        LOG.debug("cannot prepare a read of {}: {}", e.getKey(), ex.toString());
      }
    }
    if (fetches.isEmpty() || elements > maxElements) {
      return;
    }
    Session.Runner runner = session.runner();
    fetches.forEach(f -> runner.fetch(f, 0));
    try (org.tensorflow.Result r = runner.run()) {
      for (int i = 0; i < names.size(); i++) {
        cache.put(names.get(i), Optional.of(TensorCodec.fromTensor(r.get(i))));
      }
    } catch (RuntimeException ex) {
      LOG.debug("batched variable read failed, falling back to one by one: {}", ex.toString());
    }
  }

  /** Variables up to this many elements in all are read in one session run by {@link #prefetchServing}. */
  public static final long PREFETCH_LIMIT = 50_000_000L;

  /** Prefetches every top-level variable the fetch nodes of {@code graph} depend on. */
  public void prefetchServing(dev.fusedtf.internal.graph.ModelGraph graph) {
    java.util.Map<String, Boolean> vars = new java.util.LinkedHashMap<>();
    for (String name : graph.topLevelClosure()) {
      NodeDef n = graph.topLevel().node(name).orElseThrow();
      if (n.getOp().equals("VarHandleOp")) {
        vars.put(name, true);
      } else if (n.getOp().equals("VariableV2") || n.getOp().equals("Variable")) {
        vars.put(name, false);
      }
    }
    prefetch(vars, PREFETCH_LIMIT);
  }

  /**
   * Whether reading added ops to the session's graph (a resource variable no existing ReadVariableOp reads): such a
   * graph is not served afterwards (the original is reloaded instead).
   */
  public boolean addedOps() {
    return addedOps;
  }

  @Override
  public synchronized Optional<DenseTensor> read(String name, boolean resource) {
    return cache.computeIfAbsent(name + (resource ? "#r" : "#v"), k -> doRead(name, resource));
  }

  private Optional<DenseTensor> doRead(String name, boolean resource) {
    try {
      String fetch = resource ? readOpFor(name) : name;
      if (fetch == null) {
        return Optional.empty();
      }
      try (Tensor t = session.runner().fetch(fetch, 0).run().get(0)) {
        if (!TensorCodec.isSupported(t.dataType())) {
          return Optional.empty();
        }
        return Optional.of(TensorCodec.fromTensor(t));
      }
    } catch (RuntimeException e) {
      LOG.debug("cannot read variable {}: {}", name, e.toString());
      return Optional.empty();
    }
  }

  private String readOpFor(String handle) {
    for (Body.Use use : topLevel.dataUses(handle)) {
      if (use.consumer() != null && use.consumer().getOp().equals("ReadVariableOp")) {
        return use.consumer().getName();
      }
    }
    Optional<NodeDef> var = topLevel.node(handle);
    if (var.isEmpty() || !var.get().getAttrMap().containsKey("dtype")) {
      return null;
    }
    DataType dtype = var.get().getAttrMap().get("dtype").getType();
    String name = handle + "/fusedtf_read";
    GraphOperation existing = graph.operation(name);
    if (existing != null) {
      return name;
    }
    addedOps = true;
    synchronized (graph) {
      graph.opBuilder("ReadVariableOp", name, graph.baseScope())
          .addInput(graph.operationOrThrow(handle).output(0))
          .setAttr("dtype", dtype)
          .build();
    }
    return name;
  }
}
