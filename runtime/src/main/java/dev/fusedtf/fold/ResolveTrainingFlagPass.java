package dev.fusedtf.fold;

import dev.fusedtf.graph.Body;
import dev.fusedtf.graph.BodyEditor;
import dev.fusedtf.graph.GraphEditor;
import dev.fusedtf.graph.ModelGraph;
import dev.fusedtf.graph.Nodes;
import dev.fusedtf.graph.TensorRef;
import dev.fusedtf.weights.ConstantEvaluator;
import dev.fusedtf.weights.WeightResolver;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code ResolveTrainingFlagPass} fixes the training switch of TF1-style BatchNorms at inference: a
 * {@code Select}/{@code SelectV2} whose condition is a constant, or a {@code PlaceholderWithDefault} that no
 * signature feeds, fixed to false (inference) becomes an {@code Identity} of its else branch, the moving statistics (same name), and the batch-moment
 * arithmetic of the other branch goes when nothing else reads it. It folds nothing by itself; it lets
 * {@link FoldAffinePass} see the moving statistics and a conv read only by its BatchNorm.
 */
public final class ResolveTrainingFlagPass implements Pass {
  /** The pass name used to disable it. */
  public static final String NAME = "resolve-training-flag";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public PassResult run(ModelGraph graph, WeightResolver weights) {
    GraphEditor editor = new GraphEditor(graph);
    ConstantEvaluator eval = new ConstantEvaluator(weights);
    for (Body body : graph.servingBodies()) {
      Set<String> keep = graph.protectedNodes(body);
      for (NodeDef n : body.nodes()) {
        if (!(n.getOp().equals("Select") || n.getOp().equals("SelectV2")) || !graph.isLive(body, n.getName())) {
          continue;
        }
        List<TensorRef> in = Body.dataInputs(n);
        if (in.size() != 3) {
          continue;
        }
        Optional<Boolean> flag = eval.flag(body, in.get(0), 0);
        if (flag.isEmpty() || flag.get()) {
          continue; // unknown, or fixed to training: the BatchNorm really uses batch statistics; left alone
        }
        BodyEditor ed = editor.edit(body);
        TensorRef chosen = in.get(2);
        ed.replace(NodeDef.newBuilder().setName(n.getName()).setOp("Identity").setDevice(n.getDevice())
            .addInput(chosen.toString()).addAllInput(Body.controlInputs(n))
            .putAttr("T", Nodes.type(Nodes.typeAttr(n, "T", DataType.DT_FLOAT))).build());
        for (TensorRef r : List.of(in.get(0), in.get(1))) {
          ed.removeIfUnused(r.node(), keep);
        }
      }
    }
    return new PassResult(editor.changed() ? editor.build() : null, List.of(), List.of());
  }
}
