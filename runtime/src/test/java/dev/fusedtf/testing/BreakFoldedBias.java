package dev.fusedtf.testing;

import dev.fusedtf.internal.rules.Pass;
import dev.fusedtf.internal.rules.PassResult;
import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.GraphEditor;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.internal.weights.WeightResolver;
import java.util.List;
import org.tensorflow.proto.NodeDef;

/**
 * A deliberately wrong pass for tests: after the real fold it changes every folded bias ({@code b * 1.5 + 0.25}),
 * in bodies holding a node named {@code marker} (every body when null), once (a marked tensor version).
 */
public final class BreakFoldedBias implements Pass {
  private static final int MARK = 99;
  private final String marker;

  /** Breaks the folds of bodies holding a node named {@code marker}, or of every body when null. */
  public BreakFoldedBias(String marker) {
    this.marker = marker;
  }

  @Override
  public String name() {
    return "break-folded-bias";
  }

  @Override
  public PassResult run(ModelGraph graph, WeightResolver weights) {
    GraphEditor ge = new GraphEditor(graph);
    for (Body body : graph.servingBodies()) {
      if (marker != null && body.node(marker).isEmpty()) {
        continue;
      }
      for (NodeDef n : body.nodes()) {
        if (n.getOp().equals("Const") && n.getName().endsWith("/folded_bias")
            && n.getAttrMap().get("value").getTensor().getVersionNumber() != MARK) {
          DenseTensor t = TensorCodec.decode(n.getAttrMap().get("value").getTensor());
          double[] v = t.values().clone();
          for (int i = 0; i < v.length; i++) {
            v[i] = v[i] * 1.5 + 0.25;
          }
          ge.edit(body).replace(Nodes.constant(n.getName(),
              TensorCodec.encode(t.withValues(v)).toBuilder().setVersionNumber(MARK).build(), ""));
        }
      }
    }
    return new PassResult(ge.changed() ? ge.build() : null, List.of(), List.of());
  }
}
