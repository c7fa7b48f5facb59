package dev.fusedtf.testing;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.rules.Match;
import dev.fusedtf.internal.rules.Plan;
import dev.fusedtf.internal.rules.Rule;
import dev.fusedtf.internal.rules.RuleContext;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.report.Rewrite;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.NodeDef;

/**
 * A deliberately wrong rule for tests: after the real folds it changes every folded bias ({@code b * 1.5 + 0.25}), in
 * bodies holding a node named {@code marker} (every body when null), once (a marked tensor version).
 */
public final class BreakFoldedBias implements Rule {
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
  public Set<String> targetOps() {
    return Set.of("Const");
  }

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef n) {
    if ((marker != null && body.node(marker).isEmpty()) || !n.getName().endsWith("/folded_bias")
        || n.getAttrMap().get("value").getTensor().getVersionNumber() == MARK) {
      return Match.none();
    }
    DenseTensor t = TensorCodec.decode(n.getAttrMap().get("value").getTensor());
    double[] v = t.values().clone();
    for (int i = 0; i < v.length; i++) {
      v[i] = v[i] * 1.5 + 0.25;
    }
    NodeDef broken = Nodes.constant(n.getName(),
        TensorCodec.encode(t.withValues(v)).toBuilder().setVersionNumber(MARK).build(), n.getDevice());
    Rewrite r = new Rewrite(Rewrite.Kind.CONSTANT_INTO_LINEAR, List.of(n.getName()), body.functionName(), name(),
        "deliberately broken folded bias");
    return new Plan(Set.of(n.getName()), new Plan.RewriteChange(r), ed -> ed.replace(broken));
  }
}
