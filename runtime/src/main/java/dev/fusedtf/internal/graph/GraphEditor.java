package dev.fusedtf.internal.graph;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;

/**
 * The {@code GraphEditor} hands out one {@link BodyEditor} per body of a {@link ModelGraph} and assembles
 * the edited GraphDef. The ModelGraph it started from is never changed.
 */
public final class GraphEditor {
  private final ModelGraph graph;
  private final Map<String, BodyEditor> editors = new LinkedHashMap<>();
  private static final String TOP = "\u0000top";

  /** Starts editing {@code graph}. */
  public GraphEditor(ModelGraph graph) {
    this.graph = graph;
  }

  /** The editor for {@code body} (created on first use). */
  public BodyEditor edit(Body body) {
    String key = body.isFunction() ? body.functionName() : TOP;
    return editors.computeIfAbsent(key, k -> new BodyEditor(body));
  }

  /** Whether any body was changed. */
  public boolean changed() {
    return editors.values().stream().anyMatch(BodyEditor::changed);
  }

  /** The edited GraphDef. */
  public GraphDef build() {
    GraphDef in = graph.graphDef();
    GraphDef.Builder out = in.toBuilder();
    BodyEditor top = editors.get(TOP);
    if (top != null && top.changed()) {
      out.clearNode().addAllNode(top.nodes());
    }
    FunctionDefLibrary.Builder lib = in.getLibrary().toBuilder().clearFunction();
    boolean libChanged = false;
    for (FunctionDef f : in.getLibrary().getFunctionList()) {
      BodyEditor e = editors.get(f.getSignature().getName());
      if (e != null && e.changed()) {
        lib.addFunction(e.buildFunction());
        libChanged = true;
      } else {
        lib.addFunction(f);
      }
    }
    if (libChanged) {
      out.setLibrary(lib.build());
    }
    return out.build();
  }
}
