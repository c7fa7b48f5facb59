package dev.fusedtf.fold;

import dev.fusedtf.graph.Body;
import dev.fusedtf.graph.GraphEditor;
import dev.fusedtf.graph.ModelGraph;
import dev.fusedtf.graph.Nodes;
import dev.fusedtf.graph.OpOutputs;
import dev.fusedtf.graph.TensorRef;
import dev.fusedtf.weights.WeightResolver;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code FoldBatchNormPass} folds an inference-mode {@code FusedBatchNorm}/{@code V2}/{@code V3} (or an old
 * {@code BatchNormWithGlobalNormalization}) into the {@code Conv2D}, {@code DepthwiseConv2dNative},
 * {@code Conv3D}, {@code Conv2DBackpropInput} or {@code MatMul} before it, with an optional {@code BiasAdd} and
 * {@code Identity} nodes between:
 *
 * <pre>
 *   x -> Conv(W) [-> BiasAdd(b)] -> FusedBatchNorm(gamma, beta, mean, var, eps)
 *   becomes
 *   x -> Conv(W * s) -> BiasAdd((b - mean) * s + beta)     with s = gamma / sqrt(var + eps)
 * </pre>
 *
 * <p>The new BiasAdd keeps the BatchNorm's name, so consumers and signatures still resolve. The folded kernel
 * and bias are new {@code Const} nodes; the original weights (and the variables behind them) are never changed,
 * so another reader of the same kernel keeps seeing the original values.
 *
 * <p>Guards (each a recorded skip reason): training mode; outputs other than {@code y} read; something other
 * than a supported conv (+BiasAdd) before the BN; the conv, Identity or bias output read by another node or
 * fetched by a signature; data formats that disagree; unknown or unsupported weight values; channel counts that
 * disagree.
 */
public final class FoldBatchNormPass implements Pass {
  /** The pass name used in reports and to disable it. */
  public static final String NAME = "fold-batchnorm";

  static final Set<String> BN_OPS =
      Set.of("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "BatchNormWithGlobalNormalization");

  @Override
  public String name() {
    return NAME;
  }

  /** What a matched, safe fold needs. */
  private record Plan(LinearFold.Target target, double[] scale, double[] shift, String pattern, String note) {}

  @Override
  public PassResult run(ModelGraph graph, WeightResolver weights) {
    GraphEditor editor = new GraphEditor(graph);
    List<Fold> folds = new ArrayList<>();
    List<Skip> skips = new ArrayList<>();
    for (Body body : graph.servingBodies()) {
      for (NodeDef n : body.nodes()) {
        if (!BN_OPS.contains(n.getOp()) || !graph.isLive(body, n.getName())) {
          continue;
        }
        Object o = match(graph, body, n, weights);
        if (o instanceof String reason) {
          skips.add(new Skip(n.getName(), reason, body.functionName(), NAME));
          continue;
        }
        Plan p = (Plan) o;
        DataType t = Nodes.typeAttr(n, "T", DataType.DT_FLOAT);
        LinearFold.rewrite(editor.edit(body), p.target(), p.scale(), p.shift(), n, t, List.of(),
            graph.protectedNodes(body));
        folds.add(new Fold(n.getName(), p.target().conv().getName(), p.pattern(), body.functionName(), NAME,
            p.note()));
      }
    }
    return new PassResult(editor.changed() ? editor.build() : null, folds, skips);
  }

  /** A {@link Plan}, or the skip reason as a String. */
  private Object match(ModelGraph graph, Body body, NodeDef bn, WeightResolver weights) {
    boolean globalNorm = bn.getOp().equals("BatchNormWithGlobalNormalization");
    if (!globalNorm && Nodes.boolAttr(bn, "is_training", true)) {
      return "BatchNorm is in training mode (is_training is true or absent)";
    }
    String yArg = OpOutputs.firstOutputArg(bn.getOp());
    for (Body.Use u : graph.liveDataUses(body, bn.getName())) {
      if (!u.ref().isFirstOutput(yArg)) {
        return "output '" + u.ref() + "' (not y) is read by " + u.readerName();
      }
    }
    List<TensorRef> in = Body.dataInputs(bn);
    if (in.size() < 5) {
      return "BatchNorm has " + in.size() + " data inputs, expected 5";
    }
    LinearFold.Found found = LinearFold.find(graph, body, in.get(0), bn, weights);
    if (found.target() == null) {
      return found.reason();
    }
    LinearFold.Target t = found.target();
    boolean bnFirst = !globalNorm && Nodes.stringAttr(bn, "data_format", "NHWC").startsWith("NC");
    if (bnFirst != t.channelsFirst()) {
      return "data formats disagree: " + t.conv().getOp() + " '" + t.conv().getName() + "' is "
          + (t.channelsFirst() ? "channels-first" : "channels-last") + ", the BatchNorm is "
          + (bnFirst ? "channels-first" : "channels-last");
    }
    // inputs: FusedBatchNorm (x, scale, offset, mean, variance); BNGN (t, m, v, beta, gamma)
    String[] names = {"scale (gamma)", "offset (beta)", "mean", "variance"};
    int[] slot = globalNorm ? new int[] {4, 3, 1, 2} : new int[] {1, 2, 3, 4};
    double[][] params = new double[4][];
    for (int i = 0; i < 4; i++) {
      WeightResolver.Resolved r = weights.resolve(body, in.get(slot[i]));
      if (!r.known()) {
        return "BatchNorm " + names[i] + " unknown: " + r.reason();
      }
      params[i] = r.value().values();
      if (params[i].length != t.channels()) {
        return "BatchNorm " + names[i] + " has " + params[i].length + " values, " + t.conv().getName() + " has "
            + t.channels() + " output channels";
      }
    }
    double eps = globalNorm ? Nodes.floatAttr(bn, "variance_epsilon", 0f) : Nodes.floatAttr(bn, "epsilon", 1e-4f);
    double[] gamma = params[0];
    if (globalNorm && !Nodes.boolAttr(bn, "scale_after_normalization", false)) {
      gamma = new double[t.channels()];
      Arrays.fill(gamma, 1.0);
    }
    double[] s = ChannelMath.bnScale(gamma, params[3], eps);
    double[] shift = ChannelMath.bnShift(params[1], params[2], s);
    return new Plan(t, s, shift, t.pattern() + "+" + bn.getOp(), LinearFold.sharedKernelNote(body, t));
  }
}
