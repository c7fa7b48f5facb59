package dev.fusedtf.internal.source;

import dev.fusedtf.internal.graph.ModelGraph;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code Pruner} keeps only what the given root nodes need: the top-level nodes they depend on (data and
 * control inputs, transitively) and the library functions those nodes can call. Training, gradient, saver and
 * file-reading ops, and the per-layer and training-variant functions Keras saves, go.
 */
public final class Pruner {
  private Pruner() {}

  /** The pruned graph. */
  public static GraphDef prune(GraphDef graph, Collection<String> roots) {
    ModelGraph g = new ModelGraph(graph, roots);
    Set<String> keep = g.topLevelClosure();
    Set<String> functions = new HashSet<>();
    g.servingBodies().stream().filter(b -> b.isFunction()).forEach(b -> functions.add(b.functionName()));
    GraphDef.Builder out = graph.toBuilder().clearNode();
    for (NodeDef n : graph.getNodeList()) {
      if (keep.contains(n.getName())) {
        out.addNode(n);
      }
    }
    FunctionDefLibrary.Builder lib = FunctionDefLibrary.newBuilder();
    for (FunctionDef f : graph.getLibrary().getFunctionList()) {
      if (functions.contains(f.getSignature().getName())) {
        lib.addFunction(f);
      }
    }
    graph.getLibrary().getGradientList().stream()
        .filter(gd -> functions.contains(gd.getFunctionName()))
        .forEach(lib::addGradient);
    return out.setLibrary(lib).build();
  }

  /** Removes the {@code _output_shapes} attribute from every node (stale ones make importGraphDef fail). */
  public static GraphDef stripOutputShapes(GraphDef graph) {
    GraphDef.Builder b = graph.toBuilder();
    for (NodeDef.Builder n : b.getNodeBuilderList()) {
      n.removeAttr("_output_shapes");
    }
    for (FunctionDef.Builder f : b.getLibraryBuilder().getFunctionBuilderList()) {
      for (NodeDef.Builder n : f.getNodeDefBuilderList()) {
        n.removeAttr("_output_shapes");
      }
    }
    return b.build();
  }
}
