package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.ConstantEvaluator;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.report.Rewrite;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * Removes float arithmetic that changes nothing: {@code x * 1}, {@code x / 1}, {@code x + 0}, {@code x - 0} with a
 * scalar constant (so nothing broadcasts), as a pinned {@code keep_prob} of 1 leaves behind in a dropout.
 */
final class RemoveNeutralArithmetic implements Rule {
  static final String NAME = "remove-neutral-arithmetic";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<String> targetOps() {
    return Set.of("Mul", "RealDiv", "Add", "AddV2", "Sub");
  }

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef n) {
    List<TensorRef> in = Body.dataInputs(n);
    DataType t = Nodes.typeAttr(n, "T", DataType.DT_FLOAT);
    if (in.size() != 2 || !TensorCodec.isSupported(t) || ctx.isProtected(body, n.getName())) {
      return Match.none();
    }
    boolean commutes = n.getOp().equals("Mul") || n.getOp().startsWith("Add");
    double neutral = n.getOp().equals("Mul") || n.getOp().equals("RealDiv") ? 1 : 0;
    for (int c = commutes ? 0 : 1; c < 2; c++) {
      ConstantEvaluator.Result v = ctx.eval().evaluate(body, in.get(c));
      TensorRef x = in.get(1 - c);
      if (!v.known() || v.value().rank() != 0 || v.value().get(0) != neutral || ctx.eval().evaluate(body, x).known()) {
        continue;
      }
      Set<String> keep = ctx.graph().protectedNodes(body);
      Rewrite r = new Rewrite(Rewrite.Kind.PRUNE, List.of(n.getName()), body.functionName(), NAME,
          n.getOp() + " by a scalar " + (neutral == 1 ? "1" : "0") + " removed");
      TensorRef constant = in.get(c);
      return new Plan(Set.of(n.getName()), new Plan.RewriteChange(r), ed -> {
        ed.replace(NodeDef.newBuilder().setName(n.getName()).setOp("Identity").setDevice(n.getDevice())
            .addInput(ed.currentRef(x)).addAllInput(Body.controlInputs(n)).putAttr("T", Nodes.type(t)).build());
        ed.redirectFirstOutput(n.getName(), OpOutputs.firstOutputArg(n.getOp()),
            OpOutputs.firstOutputRef(body, n.getName(), "Identity"));
        ed.removeIfUnused(constant.node(), keep);
      });
    }
    return Match.none();
  }
}
