package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.report.Fold;
import dev.fusedtf.report.Rewrite;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * Folds a per-channel affine map written as arithmetic ({@link AffineChain}) into the linear op before it: a
 * decomposed BatchNorm ({@code x * (Rsqrt(var + eps) * gamma) + (beta - mean * ...)}), a Caffe-style Scale
 * ({@code Mul} by a per-channel constant, then an add), or a bias added with {@code Add}/{@code Sub}. A decomposed
 * BatchNorm or a Scale is reported as a fold; a bias or scalar constant as a rewrite. The last node of the chain
 * keeps its name (as a BiasAdd).
 */
final class FoldAffineIntoLinear implements Rule {
  static final String NAME = "fold-affine";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<String> targetOps() {
    return AffineChain.OPS;
  }

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef end) {
    AffineChain.Found f = AffineChain.match(ctx, body, end);
    if (f.isFailure()) {
      return new Skipped(end.getName(), f.code(), f.reason());
    }
    if (!f.isChain()) {
      return Match.none();
    }
    AffineChain c = f.chain();
    if (c.nodes().stream().anyMatch(n -> !n.equals(end) && ctx.isProtected(body, n.getName()))) {
      return c.kind() == AffineChain.Kind.BATCH_NORM ? new Skipped(end.getName(), dev.fusedtf.report.SkipCode.FETCHED,
          "a node of the decomposed BatchNorm is fetched by a signature") : Match.none();
    }
    LinearTarget.Found found = LinearTarget.find(ctx, body, c.x(), c.nodes().get(0));
    if (found.target() == null) {
      // nothing linear before it: the forward rule or the precompute rule may still take a BatchNorm
      return c.kind() == AffineChain.Kind.BATCH_NORM ? new Skipped(end.getName(), found.code(),
          "decomposed BatchNorm not folded backward: " + found.reason()) : Match.none();
    }
    LinearTarget t = found.target();
    if (c.kind() == AffineChain.Kind.BIAS && c.nodes().size() == 1 && end.getOp().equals("BiasAdd")
        && t.between().isEmpty()) {
      return Match.none(); // a BiasAdd right after the linear op is already the folded form
    }
    int rank = t.outputRank();
    double[] s = PerChannel.values(c.scale(), t.channels(), t.channelsFirst(), 1, rank);
    double[] shift = PerChannel.values(c.shift(), t.channels(), t.channelsFirst(), 0, rank);
    if (s == null || shift == null) {
      return c.kind().isFold() ? new Skipped(end.getName(), dev.fusedtf.report.SkipCode.SHAPE_MISMATCH,
          "scale/shift shapes do not broadcast per channel over the " + t.channels() + " channels of "
          + t.conv().getName()) : Match.none();
    }
    DataType type = Nodes.typeAttr(end, "T", DataType.DT_FLOAT);
    Set<String> touched = new HashSet<>(t.nodeNames());
    touched.addAll(c.nodeNames());
    Set<String> keep = ctx.graph().protectedNodes(body);
    List<NodeDef> alsoRemove = new ArrayList<>(c.nodes());
    alsoRemove.remove(end);
    Plan.Change change;
    if (c.kind().isFold()) {
      change = new Plan.FoldChange(new Fold(end.getName(), t.conv().getName(), t.pattern() + "+" + c.label(),
          body.functionName(), NAME, t.sharedKernelNote(body)), end.getName());
    } else {
      List<String> nodes = new ArrayList<>(c.nodeNames());
      nodes.add(t.conv().getName());
      change = new Plan.RewriteChange(new Rewrite(c.kind() == AffineChain.Kind.BIAS
          ? Rewrite.Kind.BIAS_INTO_LINEAR : Rewrite.Kind.CONSTANT_INTO_LINEAR, nodes, body.functionName(), NAME,
          c.label() + " after " + t.pattern() + " folded into its weights and one BiasAdd"));
    }
    return new Plan(touched, change, ed -> LinearRewrite.apply(ed, t, s, shift, end, type, alsoRemove, keep));
  }
}
