package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.WeightResolver;
import dev.fusedtf.report.SkipCode;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code BatchNormParams} reads an inference-mode {@code FusedBatchNorm}/{@code V2}/{@code V3} or
 * {@code BatchNormWithGlobalNormalization} as its per-channel scale and shift, with every guard a fold of it needs
 * whatever it folds into: inference mode, only {@code y} read, known statistics.
 *
 * @param node the BatchNorm
 * @param x its data input
 * @param scale {@code gamma / sqrt(var + eps)}
 * @param shift {@code beta - mean * scale}
 * @param channelsFirst whether its data format puts channels on axis 1
 */
record BatchNormParams(NodeDef node, TensorRef x, double[] scale, double[] shift, boolean channelsFirst) {

  static final Set<String> OPS =
      Set.of("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "BatchNormWithGlobalNormalization");

  /** The parameters, or why there are none. */
  record Read(BatchNormParams params, Skipped skip) {}

  static Read read(RuleContext ctx, Body body, NodeDef bn) {
    boolean globalNorm = bn.getOp().equals("BatchNormWithGlobalNormalization");
    List<TensorRef> in = Body.dataInputs(bn);
    if (in.size() < 5) {
      return skip(bn, SkipCode.UNSUPPORTED, "BatchNorm has " + in.size() + " data inputs, expected 5");
    }
    String sw = switchOf(ctx, body, in);
    if (!globalNorm && Nodes.boolAttr(bn, "is_training", true)) {
      return sw != null
          ? skip(bn, SkipCode.TRAINING_SWITCH, "BatchNorm in the training branch of a switch on '" + sw
              + "' (is_training true): pin it to false to use the inference branch")
          : skip(bn, SkipCode.TRAINING_MODE, "BatchNorm is in training mode (is_training is true or absent): it "
              + "normalises with the statistics of each batch");
    }
    String yArg = OpOutputs.firstOutputArg(bn.getOp());
    for (Body.Use u : ctx.liveUses(body, bn.getName())) {
      if (!u.ref().isFirstOutput(yArg)) {
        return skip(bn, SkipCode.OUTPUT_READ, "output '" + u.ref() + "' (not y) is read by " + u.readerName());
      }
    }
    // inputs: FusedBatchNorm (x, scale, offset, mean, variance); BNGN (t, m, v, beta, gamma)
    String[] names = {"scale (gamma)", "offset (beta)", "mean", "variance"};
    int[] slot = globalNorm ? new int[] {4, 3, 1, 2} : new int[] {1, 2, 3, 4};
    double[][] p = new double[4][];
    for (int i = 0; i < 4; i++) {
      WeightResolver.Resolved r = ctx.weights().resolve(body, in.get(slot[i]));
      if (!r.known()) {
        SideAnalysis.Side side = ctx.sides().of(body, in.get(slot[i]));
        SkipCode code = side.kind() == SideAnalysis.Kind.CONST ? SkipCode.NOT_CONSTANT : side.code();
        String why = side.kind() == SideAnalysis.Kind.CONST ? null : side.explain();
        if (sw != null) {
          code = SkipCode.TRAINING_SWITCH;
          why = "its inputs pass a switch on '" + sw + "': pin it to false to use the inference branch";
        }
        return skip(bn, code, "BatchNorm " + names[i] + " unknown: " + (why != null ? why : r.reason()));
      }
      p[i] = r.value().values();
    }
    int c = p[0].length;
    for (int i = 1; i < 4; i++) {
      if (p[i].length != c) {
        return skip(bn, SkipCode.SHAPE_MISMATCH, "BatchNorm " + names[i] + " has " + p[i].length + " values, "
            + names[0] + " has " + c);
      }
    }
    double eps = globalNorm ? Nodes.floatAttr(bn, "variance_epsilon", 0f) : Nodes.floatAttr(bn, "epsilon", 1e-4f);
    double[] gamma = p[0];
    if (globalNorm && !Nodes.boolAttr(bn, "scale_after_normalization", false)) {
      gamma = new double[c];
      Arrays.fill(gamma, 1.0);
    }
    double[] s = ChannelMath.bnScale(gamma, p[3], eps);
    double[] t = ChannelMath.bnShift(p[1], p[2], s);
    boolean first = !globalNorm && Nodes.stringAttr(bn, "data_format", "NHWC").startsWith("NC");
    return new Read(new BatchNormParams(bn, in.get(0), s, t, first), null);
  }

  /** A switch on a non-constant predicate that the BatchNorm's inputs pass through, or null. */
  private static String switchOf(RuleContext ctx, Body body, List<TensorRef> in) {
    for (TensorRef r : in) {
      String sw = ctx.sides().switchOf(body, r);
      if (sw != null) {
        return sw;
      }
    }
    return null;
  }

  private static Read skip(NodeDef bn, SkipCode code, String reason) {
    return new Read(null, new Skipped(bn.getName(), code, reason));
  }
}
