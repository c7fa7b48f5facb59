package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.report.Fold;
import dev.fusedtf.report.SkipCode;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * Folds an inference-mode {@code FusedBatchNorm}/{@code V2}/{@code V3} or {@code BatchNormWithGlobalNormalization}
 * into the {@code Conv2D}, {@code DepthwiseConv2dNative}, {@code Conv3D}, {@code Conv2DBackpropInput} or
 * {@code MatMul} before it, with optional bias adds, a {@code Squeeze} (Keras Conv1D) and {@code Identity} nodes
 * between:
 *
 * <pre>
 *   x -> Conv(W) [-> BiasAdd(b)] -> FusedBatchNorm(gamma, beta, mean, var, eps)
 *   becomes
 *   x -> Conv(W * s) -> BiasAdd((b - mean) * s + beta)     with s = gamma / sqrt(var + eps)
 * </pre>
 *
 * The BiasAdd keeps the BatchNorm's name.
 */
final class FoldBatchNormIntoLinear implements Rule {
  static final String NAME = "fold-batchnorm";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<String> targetOps() {
    return BatchNormParams.OPS;
  }

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef bn) {
    BatchNormParams.Read read = BatchNormParams.read(ctx, body, bn);
    if (read.skip() != null) {
      return read.skip();
    }
    BatchNormParams p = read.params();
    LinearTarget.Found found = LinearTarget.find(ctx, body, p.x(), bn);
    if (found.target() == null) {
      return new Skipped(bn.getName(), found.code(), found.reason());
    }
    LinearTarget t = found.target();
    if (p.channelsFirst() != t.channelsFirst()) {
      return new Skipped(bn.getName(), SkipCode.LAYOUT_MISMATCH, "data formats disagree: " + t.conv().getOp() + " '"
          + t.conv().getName() + "' is " + (t.channelsFirst() ? "channels-first" : "channels-last")
          + ", the BatchNorm is " + (p.channelsFirst() ? "channels-first" : "channels-last"));
    }
    if (p.scale().length != t.channels()) {
      return new Skipped(bn.getName(), SkipCode.SHAPE_MISMATCH, "BatchNorm has " + p.scale().length + " channels, "
          + t.conv().getName() + " has " + t.channels() + " output channels");
    }
    DataType type = Nodes.typeAttr(bn, "T", DataType.DT_FLOAT);
    Set<String> touched = new HashSet<>(t.nodeNames());
    touched.add(bn.getName());
    Set<String> keep = ctx.graph().protectedNodes(body);
    Fold fold = new Fold(bn.getName(), t.conv().getName(), t.pattern() + "+" + bn.getOp(), body.functionName(), NAME,
        t.sharedKernelNote(body));
    return new Plan(touched, new Plan.FoldChange(fold, bn.getName()),
        ed -> LinearRewrite.apply(ed, t, p.scale(), p.shift(), bn, type, List.of(), keep));
  }
}
