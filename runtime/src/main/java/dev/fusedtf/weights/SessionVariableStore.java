package dev.fusedtf.weights;

import dev.fusedtf.graph.Body;
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
        if (!TensorProtos.isSupported(t.dataType())) {
          return Optional.empty();
        }
        return Optional.of(TensorProtos.fromTensor(t));
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
    synchronized (graph) {
      graph.opBuilder("ReadVariableOp", name, graph.baseScope())
          .addInput(graph.operationOrThrow(handle).output(0))
          .setAttr("dtype", dtype)
          .build();
    }
    return name;
  }
}
