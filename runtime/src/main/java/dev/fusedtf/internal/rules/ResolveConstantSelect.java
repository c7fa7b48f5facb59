package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.report.Rewrite;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * Resolves a {@code Select}/{@code SelectV2} whose condition is a constant (a Const, a pinned placeholder, or a
 * {@code PlaceholderWithDefault} that no signature feeds) to an {@code Identity} of the branch it picks, as TF1
 * {@code tf.layers.batch_normalization} writes its training switch on 2-D input; the other branch (the batch
 * moments) goes when nothing else reads it. It folds nothing by itself: it lets the fold rules see the moving
 * statistics. A scalar condition is required (an element-wise one picks per element).
 */
final class ResolveConstantSelect implements Rule {
  static final String NAME = "resolve-select";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<String> targetOps() {
    return Set.of("Select", "SelectV2");
  }

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef n) {
    List<TensorRef> in = Body.dataInputs(n);
    if (in.size() != 3 || ctx.isProtected(body, n.getName())) {
      return Match.none();
    }
    // SelectV2 broadcasts its condition: a [1, 1] one over scalar branches makes a [1, 1] output, so only a rank-0
    // condition resolves to an Identity of one branch; Select's output always has the branches' shape
    Optional<Boolean> flag = n.getOp().equals("SelectV2") ? ctx.eval().scalarFlag(body, in.get(0), 0)
        : ctx.eval().flag(body, in.get(0), 0);
    if (flag.isEmpty()) {
      return Match.none();
    }
    TensorRef chosen = flag.get() ? in.get(1) : in.get(2);
    Set<String> keep = ctx.graph().protectedNodes(body);
    Rewrite r = new Rewrite(Rewrite.Kind.CONTROL_FLOW, List.of(n.getName()), body.functionName(), NAME,
        n.getOp() + " on a constant condition (" + flag.get() + ") resolved to its "
        + (flag.get() ? "then" : "else") + " branch");
    return new Plan(Set.of(n.getName()), new Plan.RewriteChange(r), ed -> {
      ed.replace(NodeDef.newBuilder().setName(n.getName()).setOp("Identity").setDevice(n.getDevice())
          .addInput(ed.currentRef(chosen)).addAllInput(Body.controlInputs(n))
          .putAttr("T", Nodes.type(Nodes.typeAttr(n, "T", DataType.DT_FLOAT))).build());
      ed.redirectFirstOutput(n.getName(), "output", dev.fusedtf.internal.graph.OpOutputs.firstOutputRef(body,
          n.getName(), "Identity"));
      for (TensorRef r2 : in) {
        if (!r2.equals(chosen)) {
          ed.removeIfUnused(r2.node(), keep);
        }
      }
    });
  }
}
