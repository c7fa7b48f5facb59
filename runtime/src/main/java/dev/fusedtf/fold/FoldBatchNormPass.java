package dev.fusedtf.fold;

import dev.fusedtf.graph.Body;
import dev.fusedtf.graph.BodyEditor;
import dev.fusedtf.graph.GraphEditor;
import dev.fusedtf.graph.ModelGraph;
import dev.fusedtf.graph.Nodes;
import dev.fusedtf.graph.OpOutputs;
import dev.fusedtf.graph.TensorRef;
import dev.fusedtf.weights.DenseTensor;
import dev.fusedtf.weights.TensorProtos;
import dev.fusedtf.weights.WeightResolver;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code FoldBatchNormPass} folds an inference-mode {@code FusedBatchNorm}/{@code V2}/{@code V3} into the
 * {@code Conv2D}, {@code DepthwiseConv2dNative}, {@code Conv3D}, {@code Conv2DBackpropInput} or {@code MatMul}
 * before it, with an optional {@code BiasAdd} between:
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
 * than a supported conv (+BiasAdd) before the BN; the conv or bias output read by another node or fetched by a
 * signature; data formats that disagree; unknown or unsupported weight values; channel counts that disagree.
 */
public final class FoldBatchNormPass implements Pass {
  /** The pass name used in reports and to disable it. */
  public static final String NAME = "fold-batchnorm";

  static final Set<String> BN_OPS = Set.of("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3");
  private static final Set<String> ACTIVATIONS = Set.of(
      "Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "MaxPool", "AvgPool");

  @Override
  public String name() {
    return NAME;
  }

  /** What a matched, safe fold needs to rewrite. */
  private record Plan(NodeDef bn, NodeDef bias, NodeDef conv, TensorRef kernelRef, DenseTensor kernel,
      ChannelMath.KernelLayout layout, double[] biasValues, double[] gamma, double[] beta, double[] mean,
      double[] variance, double epsilon, boolean channelsFirst, String pattern, String note) {}

  /** Either a plan or the reason there is none. */
  private record Outcome(Plan plan, String reason) {
    static Outcome skip(String reason) {
      return new Outcome(null, reason);
    }
  }

  @Override
  public PassResult run(ModelGraph graph, WeightResolver weights) {
    GraphEditor editor = new GraphEditor(graph);
    List<Fold> folds = new ArrayList<>();
    List<Skip> skips = new ArrayList<>();
    for (Body body : graph.servingBodies()) {
      for (NodeDef n : body.nodes()) {
        if (!BN_OPS.contains(n.getOp())) {
          continue;
        }
        Outcome o = match(graph, body, n, weights);
        if (o.plan() == null) {
          skips.add(new Skip(n.getName(), o.reason(), body.functionName(), NAME));
          continue;
        }
        rewrite(editor.edit(body), o.plan(), body.isFunction() ? Set.of() : graph.fetchNodes());
        folds.add(new Fold(n.getName(), o.plan().conv().getName(), o.plan().pattern(), body.functionName(), NAME,
            o.plan().note()));
      }
    }
    return new PassResult(editor.changed() ? editor.build() : null, folds, skips);
  }

  private Outcome match(ModelGraph graph, Body body, NodeDef bn, WeightResolver weights) {
    if (!Nodes.boolAttr(bn, "is_training", true)) {
      // inference mode: fall through
    } else {
      return Outcome.skip("BatchNorm is in training mode (is_training is true or absent)");
    }
    String yArg = OpOutputs.firstOutputArg(bn.getOp());
    for (Body.Use u : body.dataUses(bn.getName())) {
      if (!u.ref().isFirstOutput(yArg)) {
        return Outcome.skip("output '" + u.ref() + "' (not y) is read by " + u.readerName());
      }
    }
    List<TensorRef> bnIn = Body.dataInputs(bn);
    if (bnIn.size() < 5) {
      return Outcome.skip("BatchNorm has " + bnIn.size() + " data inputs, expected 5");
    }
    Optional<NodeDef> p = producerOfFirstOutput(body, bnIn.get(0));
    if (p.isEmpty()) {
      return Outcome.skip("input '" + bnIn.get(0) + "' is not output 0 of a node in this body");
    }
    NodeDef bias = null;
    NodeDef conv = p.get();
    if (conv.getOp().equals("BiasAdd")) {
      bias = conv;
      Optional<NodeDef> c = producerOfFirstOutput(body, Body.dataInputs(bias).get(0));
      if (c.isEmpty()) {
        return Outcome.skip("BiasAdd '" + bias.getName() + "' does not read output 0 of a node in this body");
      }
      conv = c.get();
    }
    ChannelOp kind = ChannelOp.of(conv.getOp());
    if (kind == null) {
      return Outcome.skip(describeNonConv(body, bias != null ? bias : conv, bias != null));
    }
    // single-consumer and fetch guards
    String guard = soleReader(graph, body, conv, bias != null ? bias : bn);
    if (guard == null && bias != null) {
      guard = soleReader(graph, body, bias, bn);
    }
    if (guard != null) {
      return Outcome.skip(guard);
    }
    // data formats
    boolean bnFirst = Nodes.stringAttr(bn, "data_format", "NHWC").startsWith("NC");
    boolean convFirst = kind.channelsFirst(conv);
    if (bnFirst != convFirst) {
      return Outcome.skip("data formats disagree: " + conv.getOp() + " '" + conv.getName() + "' is "
          + (convFirst ? "channels-first" : "channels-last") + ", BatchNorm is " + (bnFirst ? "channels-first" : "channels-last"));
    }
    if (bias != null && Nodes.stringAttr(bias, "data_format", "NHWC").startsWith("NC") != convFirst) {
      return Outcome.skip("data format of BiasAdd '" + bias.getName() + "' disagrees with " + conv.getName());
    }
    // weights
    TensorRef kernelRef = Body.dataInputs(conv).get(kind.kernelInput());
    WeightResolver.Resolved kernel = weights.resolve(body, kernelRef);
    if (!kernel.known()) {
      return Outcome.skip("kernel of " + conv.getName() + " unknown: " + kernel.reason());
    }
    if (!TensorProtos.isSupported(kernel.value().dtype())) {
      return Outcome.skip("kernel dtype " + kernel.value().dtype() + " not supported");
    }
    ChannelMath.KernelLayout layout = kind.layout(conv, kernel.value());
    if (layout == null) {
      return Outcome.skip("kernel of " + conv.getName() + " has unexpected shape " + Arrays.toString(kernel.value().shape()));
    }
    double[] biasValues = null;
    if (bias != null) {
      WeightResolver.Resolved b = weights.resolve(body, Body.dataInputs(bias).get(1));
      if (!b.known()) {
        return Outcome.skip("bias of " + bias.getName() + " unknown: " + b.reason());
      }
      biasValues = b.value().values();
    }
    String[] paramNames = {"scale (gamma)", "offset (beta)", "mean", "variance"};
    double[][] params = new double[4][];
    for (int i = 0; i < 4; i++) {
      WeightResolver.Resolved r = weights.resolve(body, bnIn.get(i + 1));
      if (!r.known()) {
        return Outcome.skip("BatchNorm " + paramNames[i] + " unknown: " + r.reason());
      }
      params[i] = r.value().values();
    }
    int c = layout.channels();
    for (int i = 0; i < 4; i++) {
      if (params[i].length != c) {
        return Outcome.skip("BatchNorm " + paramNames[i] + " has " + params[i].length + " values, "
            + conv.getName() + " has " + c + " output channels");
      }
    }
    if (biasValues != null && biasValues.length != c) {
      return Outcome.skip("bias has " + biasValues.length + " values, " + conv.getName() + " has " + c + " channels");
    }
    String note = null;
    Optional<NodeDef> kernelNode = body.producer(kernelRef);
    if (kernelNode.isPresent() && body.dataUses(kernelNode.get().getName()).size() > 1) {
      note = "kernel '" + kernelRef + "' is also read by another node: folded into a copy";
    } else if (body.isFunction() && body.argumentIndex(kernelRef.node()) >= 0) {
      note = null;
    }
    String pattern = conv.getOp() + (bias != null ? "+BiasAdd+" : "+") + bn.getOp();
    double eps = Nodes.floatAttr(bn, "epsilon", 1e-4f);
    return new Outcome(new Plan(bn, bias, conv, kernelRef, kernel.value(), layout, biasValues,
        params[0], params[1], params[2], params[3], eps, bnFirst, pattern, note), null);
  }

  private void rewrite(BodyEditor ed, Plan p, Set<String> keep) {
    Body body = ed.original();
    double[] s = ChannelMath.bnScale(p.gamma(), p.variance(), p.epsilon());
    double[] t = ChannelMath.bnShift(p.beta(), p.mean(), s);
    DenseTensor kernel = ChannelMath.scaleKernel(p.kernel(), p.layout(), s);
    DataType outType = Nodes.typeAttr(p.bn(), "T", DataType.DT_FLOAT);
    DenseTensor bias = new DenseTensor(new long[] {s.length}, ChannelMath.foldBias(p.biasValues(), s, t), outType);

    String kernelName = ed.uniqueName(p.conv().getName() + "/folded_kernel");
    ed.add(Nodes.constant(kernelName, TensorProtos.encode(kernel), p.conv().getDevice()), p.conv().getName());
    String biasName = ed.uniqueName(p.bn().getName() + "/folded_bias");
    ed.add(Nodes.constant(biasName, TensorProtos.encode(bias), p.bn().getDevice()), p.bn().getName());

    // conv reads the folded kernel
    NodeDef conv = ed.node(p.conv().getName());
    int kernelSlot = ChannelOp.of(conv.getOp()).kernelInput();
    NodeDef.Builder cb = conv.toBuilder().clearInput();
    int dataIdx = 0;
    for (String in : conv.getInputList()) {
      if (!in.startsWith("^") && dataIdx++ == kernelSlot) {
        cb.addInput(OpOutputs.firstOutputRef(body, kernelName, "Const"));
      } else {
        cb.addInput(in);
      }
    }
    cb.removeAttr("_output_shapes");
    ed.replace(cb.build());

    // the BatchNorm becomes a BiasAdd of the same name
    NodeDef.Builder nb = NodeDef.newBuilder()
        .setName(p.bn().getName())
        .setOp("BiasAdd")
        .setDevice(p.bn().getDevice())
        .addInput(OpOutputs.firstOutputRef(body, conv.getName(), conv.getOp()))
        .addInput(OpOutputs.firstOutputRef(body, biasName, "Const"))
        .putAttr("T", Nodes.type(outType))
        .putAttr("data_format", Nodes.string(p.channelsFirst() ? "NCHW" : "NHWC"));
    List<String> controls = new ArrayList<>(Body.controlInputs(p.bn()));
    if (p.bias() != null) {
      for (String ctl : Body.controlInputs(p.bias())) {
        if (!controls.contains(ctl)) {
          controls.add(ctl);
        }
      }
    }
    nb.addAllInput(controls);
    ed.replace(nb.build());
    ed.redirectFirstOutput(p.bn().getName(), OpOutputs.firstOutputArg(p.bn().getOp()),
        OpOutputs.firstOutputRef(body, p.bn().getName(), "BiasAdd"));

    List<TensorRef> orphans = new ArrayList<>(Body.dataInputs(p.bn()).subList(1, 5));
    orphans.add(p.kernelRef());
    if (p.bias() != null) {
      orphans.add(Body.dataInputs(p.bias()).get(1));
      ed.remove(p.bias().getName());
    }
    for (TensorRef r : orphans) {
      ed.removeIfUnused(r.node(), keep);
    }
  }

  private static Optional<NodeDef> producerOfFirstOutput(Body body, TensorRef ref) {
    Optional<NodeDef> n = body.producer(ref);
    if (n.isEmpty() || !ref.isFirstOutput(OpOutputs.firstOutputArg(n.get().getOp()))) {
      return Optional.empty();
    }
    return n;
  }

  /** Null when {@code node}'s only reader is {@code expected} and no signature fetches it; else the reason. */
  private static String soleReader(ModelGraph graph, Body body, NodeDef node, NodeDef expected) {
    if (!body.isFunction() && graph.fetchNodes().contains(node.getName())) {
      return node.getOp() + " '" + node.getName() + "' is fetched directly by a signature";
    }
    List<Body.Use> uses = body.dataUses(node.getName());
    List<String> others = new ArrayList<>();
    for (Body.Use u : uses) {
      if (u.consumer() == null || !u.consumer().getName().equals(expected.getName())) {
        others.add(u.readerName());
      }
    }
    if (!others.isEmpty()) {
      return "output of " + node.getOp() + " '" + node.getName() + "' is also read by " + String.join(", ", others);
    }
    return null;
  }

  private static String describeNonConv(Body body, NodeDef n, boolean afterBias) {
    if (afterBias) {
      return "BiasAdd '" + n.getName() + "' follows " + body.producer(Body.dataInputs(n).get(0)).map(NodeDef::getOp).orElse("an argument")
          + ", not a Conv2D/DepthwiseConv2dNative/Conv3D/Conv2DBackpropInput/MatMul";
    }
    if (ACTIVATIONS.contains(n.getOp())) {
      String before = Body.dataInputs(n).isEmpty() ? "?" : body.producer(Body.dataInputs(n).get(0))
          .map(x -> x.getOp() + " '" + x.getName() + "'").orElse("an argument");
      return "a " + n.getOp() + " ('" + n.getName() + "') sits between " + before
          + " and the BatchNorm: a BN cannot fold backward through " + n.getOp();
    }
    return "input is " + n.getOp() + " '" + n.getName()
        + "', not a Conv2D/DepthwiseConv2dNative/Conv3D/Conv2DBackpropInput/MatMul (optionally + BiasAdd)";
  }
}
