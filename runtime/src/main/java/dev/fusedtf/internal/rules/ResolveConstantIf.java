package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.report.Rewrite;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;

/**
 * Resolves a TF2 {@code If}/{@code StatelessIf} (control flow v2, as Keras writes {@code tf.cond} in function
 * bodies) whose condition is a constant: it becomes a call ({@code StatefulPartitionedCall} for {@code If},
 * {@code PartitionedCall} for {@code StatelessIf}) of the branch it takes, with the same inputs and outputs under the
 * same name, so the fold rules see into that branch's body and the other branch is no longer on the serving path.
 */
final class ResolveConstantIf implements Rule {
  static final String NAME = "resolve-if";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<String> targetOps() {
    return Set.of("If", "StatelessIf");
  }

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef n) {
    List<TensorRef> in = Body.dataInputs(n);
    if (in.isEmpty() || !n.getAttrMap().containsKey("then_branch") || !n.getAttrMap().containsKey("else_branch")) {
      return Match.none();
    }
    Optional<Boolean> cond = ctx.eval().flag(body, in.get(0), 0);
    if (cond.isEmpty()) {
      return Match.none();
    }
    NameAttrList branch = n.getAttrMap().get(cond.get() ? "then_branch" : "else_branch").getFunc();
    if (ctx.graph().function(branch.getName()).isEmpty()) {
      return Match.none();
    }
    List<String> inputs = new ArrayList<>();
    boolean first = true;
    for (String s : n.getInputList()) {
      if (!s.startsWith("^") && first) {
        first = false; // the condition goes
        continue;
      }
      inputs.add(s);
    }
    NodeDef.Builder call = NodeDef.newBuilder().setName(n.getName())
        .setOp(n.getOp().equals("If") ? "StatefulPartitionedCall" : "PartitionedCall")
        .setDevice(n.getDevice()).addAllInput(inputs)
        .putAttr("f", AttrValue.newBuilder().setFunc(branch).build())
        .putAttr("config", Nodes.string("")).putAttr("config_proto", Nodes.string(""))
        .putAttr("executor_type", Nodes.string(""));
    for (String a : List.of("Tin", "Tout")) {
      if (n.getAttrMap().containsKey(a)) {
        call.putAttr(a, n.getAttrMap().get(a));
      }
    }
    NodeDef replacement = call.build();
    Set<String> keep = ctx.graph().protectedNodes(body);
    Rewrite r = new Rewrite(Rewrite.Kind.CONTROL_FLOW, List.of(n.getName()), body.functionName(), NAME,
        n.getOp() + " on a constant condition (" + cond.get() + ") replaced by a call of its "
        + (cond.get() ? "then" : "else") + " branch " + branch.getName());
    return new Plan(Set.of(n.getName()), new Plan.RewriteChange(r), ed -> {
      ed.replace(replacement);
      ed.removeIfUnused(in.get(0).node(), keep);
    });
  }
}
