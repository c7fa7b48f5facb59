package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.ConstantEvaluator;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.internal.weights.WeightResolver;
import dev.fusedtf.report.SkipCode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code LinearTarget} is the linear op (conv, depthwise, matmul, transposed conv) whose output a per-channel
 * affine map reads, with what sits between them and can be absorbed too: a {@code Squeeze} (Keras Conv1D), bias adds
 * ({@code BiasAdd}, or {@code Add}/{@code AddV2}/{@code Sub} of a constant) and {@code Identity} nodes. {@link #find}
 * checks every guard (each node read only by the next, none fetched, weights known, shapes consistent).
 *
 * @param conv the linear op
 * @param layout its kernel's layout
 * @param kernelRef the kernel input
 * @param kernel the kernel's value
 * @param squeeze the Squeeze after the conv, or null
 * @param between bias adds and Identity nodes between the linear op (or Squeeze) and the reader, nearest first
 * @param biasValues the sum of the bias adds per output channel, or null when there are none
 * @param channelsFirst whether the output has channels on axis 1
 */
record LinearTarget(NodeDef conv, KernelLayout layout, TensorRef kernelRef, DenseTensor kernel, NodeDef squeeze,
    List<NodeDef> between, double[] biasValues, boolean channelsFirst) {

  private static final Set<String> BIAS_OPS = Set.of("BiasAdd", "Add", "AddV2", "Sub");
  private static final Set<String> ACTIVATIONS = Set.of("Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh",
      "Softplus", "Softsign", "Gelu", "MaxPool", "AvgPool", "Maximum", "Minimum", "Swish", "Softmax", "Exp", "Square");

  /** The outcome of {@link #find}: a target, or why there is none. */
  record Found(LinearTarget target, SkipCode code, String reason) {
    static Found no(SkipCode code, String reason) {
      return new Found(null, code, reason);
    }
  }

  /** Pattern prefix, e.g. {@code Conv2D+BiasAdd}. */
  String pattern() {
    StringBuilder sb = new StringBuilder(conv.getOp());
    if (squeeze != null) {
      sb.append("+Squeeze");
    }
    for (int i = between.size() - 1; i >= 0; i--) {
      sb.append('+').append(between.get(i).getOp());
    }
    return sb.toString();
  }

  /** Rank of the tensor an affine map after the target applies to (a Squeeze removes dimensions). */
  int outputRank() {
    return layout.op().outputRank() - (squeeze != null ? Nodes.intsAttr(squeeze, "squeeze_dims").length : 0);
  }

  /** The node whose output 0 the folded BiasAdd reads: the Squeeze after the conv, or the conv. */
  NodeDef tail() {
    return squeeze != null ? squeeze : conv;
  }

  /** Output channels. */
  int channels() {
    return layout.outChannels();
  }

  /** Names of the nodes the fold changes or removes. */
  List<String> nodeNames() {
    List<String> out = new ArrayList<>();
    out.add(conv.getName());
    if (squeeze != null) {
      out.add(squeeze.getName());
    }
    between.forEach(n -> out.add(n.getName()));
    return out;
  }

  /** A note when the kernel is read elsewhere too (the fold then writes a copy; the original stays). */
  String sharedKernelNote(Body body) {
    Optional<NodeDef> k = body.producer(kernelRef);
    if (k.isPresent() && body.dataUses(k.get().getName()).size() > 1) {
      return "kernel '" + kernelRef + "' is also read by another node: folded into a copy";
    }
    return null;
  }

  /**
   * Finds what produces {@code x}, read only by {@code reader}, and whether an affine map after it can fold into its
   * weights.
   */
  static Found find(RuleContext ctx, Body body, TensorRef x, NodeDef reader) {
    Optional<NodeDef> p = firstOutputProducer(body, x);
    if (p.isEmpty()) {
      return Found.no(SkipCode.NO_LINEAR_OP, body.producer(x).isPresent()
          ? "input '" + x + "' is not the first output of its node, so not the output of a conv or matmul"
          : "input '" + x + "' is an argument of the function, not the output of a node in this body");
    }
    NodeDef expected = reader;
    NodeDef node = p.get();
    List<NodeDef> between = new ArrayList<>();
    List<DenseTensor> biasParts = new ArrayList<>();
    List<NodeDef> biasOf = new ArrayList<>();
    while (node.getOp().equals("Identity") || BIAS_OPS.contains(node.getOp())) {
      TensorRef next;
      if (node.getOp().equals("Identity")) {
        next = Body.dataInputs(node).get(0);
      } else {
        Bias b = bias(ctx, body, node);
        if (b == null) {
          break; // an add of two data tensors (a residual): not a bias
        }
        next = b.x();
        biasParts.add(b.value());
        biasOf.add(node);
      }
      Found guard = sole(ctx, body, node, expected);
      if (guard != null) {
        return guard;
      }
      between.add(node);
      expected = node;
      Optional<NodeDef> q = firstOutputProducer(body, next);
      if (q.isEmpty()) {
        return Found.no(SkipCode.NO_LINEAR_OP, node.getOp() + " '" + node.getName() + "' reads an argument, not a "
            + "linear op");
      }
      node = q.get();
    }
    NodeDef squeeze = null;
    if (node.getOp().equals("Squeeze")) {
      long[] dims = Nodes.intsAttr(node, "squeeze_dims");
      Optional<NodeDef> c = firstOutputProducer(body, Body.dataInputs(node).get(0));
      if (dims == null || dims.length == 0 || Arrays.stream(dims).anyMatch(d -> d != 1 && d != 2 && d != -2 && d != -3)
          || c.isEmpty() || !(c.get().getOp().equals("Conv2D") || c.get().getOp().equals("DepthwiseConv2dNative"))
          || KernelLayout.Op.of(c.get().getOp()).channelsFirst(c.get())) {
        return Found.no(SkipCode.NO_LINEAR_OP, "Squeeze '" + node.getName() + "' does not squeeze the spatial axis of "
            + "a channels-last Conv2D or DepthwiseConv2dNative");
      }
      Found guard = sole(ctx, body, node, expected);
      if (guard != null) {
        return guard;
      }
      squeeze = node;
      expected = node;
      node = c.get();
    }
    NodeDef conv = node;
    KernelLayout.Op kind = KernelLayout.Op.of(conv.getOp());
    if (kind == null) {
      return describeNonLinear(body, conv, between);
    }
    Found guard = sole(ctx, body, conv, expected);
    if (guard != null) {
      return guard;
    }
    boolean channelsFirst = kind.channelsFirst(conv);
    for (NodeDef b : biasOf) {
      if (b.getOp().equals("BiasAdd") && Nodes.stringAttr(b, "data_format", "NHWC").startsWith("NC") != channelsFirst) {
        return Found.no(SkipCode.LAYOUT_MISMATCH, "data format of BiasAdd '" + b.getName() + "' disagrees with "
            + conv.getOp() + " '" + conv.getName() + "'");
      }
    }
    TensorRef kernelRef = Body.dataInputs(conv).get(kind.kernelInput());
    WeightResolver.Resolved k = ctx.weights().resolve(body, kernelRef);
    if (!k.known()) {
      boolean shared = k.reason() != null && k.reason().contains("different call sites");
      return Found.no(shared ? SkipCode.SHARED_WEIGHTS : SkipCode.NOT_CONSTANT,
          "kernel of " + conv.getOp() + " '" + conv.getName() + "' unknown: " + k.reason());
    }
    if (!TensorCodec.isSupported(k.value().dtype())) {
      return Found.no(SkipCode.UNSUPPORTED_DTYPE, "kernel dtype " + k.value().dtype() + " is not float or double");
    }
    KernelLayout layout = KernelLayout.of(conv, k.value());
    if (layout == null) {
      return Found.no(SkipCode.SHAPE_MISMATCH, "kernel of " + conv.getName() + " has unexpected shape "
          + Arrays.toString(k.value().shape()));
    }
    int rank = kind.outputRank() - (squeeze != null ? Nodes.intsAttr(squeeze, "squeeze_dims").length : 0);
    double[] biasValues = null;
    for (int i = 0; i < biasParts.size(); i++) {
      NodeDef b = biasOf.get(i);
      DenseTensor part = biasParts.get(i);
      double[] v = b.getOp().equals("BiasAdd")
          ? (part.size() == layout.outChannels() ? part.values() : null)
          : PerChannel.values(part, layout.outChannels(), channelsFirst, 0, rank);
      if (v == null) {
        return Found.no(SkipCode.SHAPE_MISMATCH, "bias of " + b.getOp() + " '" + b.getName() + "' does not broadcast "
            + "per channel over the " + layout.outChannels() + " channels of " + conv.getName());
      }
      if (biasValues == null) {
        biasValues = new double[layout.outChannels()];
      }
      for (int c = 0; c < v.length; c++) {
        biasValues[c] += v[c];
      }
    }
    return new Found(new LinearTarget(conv, layout, kernelRef, k.value(), squeeze, List.copyOf(between), biasValues,
        channelsFirst), null, null);
  }

  /** A bias add: its data input and its constant (negated for {@code x - c}); null when it is not one. */
  private record Bias(TensorRef x, DenseTensor value) {}

  private static Bias bias(RuleContext ctx, Body body, NodeDef n) {
    List<TensorRef> in = Body.dataInputs(n);
    if (in.size() != 2) {
      return null;
    }
    ConstantEvaluator.Result b = ctx.eval().evaluate(body, in.get(1));
    if (b.known() && TensorCodec.isSupported(b.value().dtype()) && !ctx.eval().evaluate(body, in.get(0)).known()) {
      DenseTensor v = b.value();
      if (n.getOp().equals("Sub")) {
        double[] neg = v.values().clone();
        for (int i = 0; i < neg.length; i++) {
          neg[i] = -neg[i];
        }
        v = v.withValues(neg);
      }
      return new Bias(in.get(0), v);
    }
    if (n.getOp().equals("Add") || n.getOp().equals("AddV2")) {
      ConstantEvaluator.Result a = ctx.eval().evaluate(body, in.get(0));
      if (a.known() && TensorCodec.isSupported(a.value().dtype()) && !b.known()) {
        return new Bias(in.get(1), a.value());
      }
    }
    return null;
  }

  private static Found sole(RuleContext ctx, Body body, NodeDef node, NodeDef expected) {
    if (ctx.isProtected(body, node.getName())) {
      return Found.no(SkipCode.FETCHED, node.getOp() + " '" + node.getName() + "' is fetched or fed directly by a "
          + "signature");
    }
    List<String> others = new ArrayList<>();
    for (Body.Use u : ctx.liveUses(body, node.getName())) {
      if (u.consumer() == null || !u.consumer().getName().equals(expected.getName())) {
        others.add(u.readerName());
      }
    }
    if (!others.isEmpty()) {
      return Found.no(SkipCode.MULTI_CONSUMER, "output of " + node.getOp() + " '" + node.getName()
          + "' is also read by " + String.join(", ", others));
    }
    return null;
  }

  static Optional<NodeDef> firstOutputProducer(Body body, TensorRef ref) {
    Optional<NodeDef> n = body.producer(ref);
    if (n.isEmpty() || !ref.isFirstOutput(OpOutputs.firstOutputArg(n.get().getOp()))) {
      return Optional.empty();
    }
    return n;
  }

  private static String article(String op) {
    return !op.isEmpty() && "AEIOU".indexOf(op.charAt(0)) >= 0 ? "an" : "a";
  }

  private static Found describeNonLinear(Body body, NodeDef n, List<NodeDef> between) {
    if (ACTIVATIONS.contains(n.getOp())) {
      List<TensorRef> in = Body.dataInputs(n);
      String before = in.isEmpty() ? "?" : body.producer(in.get(0))
          .map(x -> x.getOp() + " '" + x.getName() + "'").orElse("an argument");
      return Found.no(SkipCode.ACTIVATION_BETWEEN, article(n.getOp()) + " " + n.getOp() + " ('" + n.getName() + "') sits between " + before
          + " and the BatchNorm: a BatchNorm cannot fold backward through " + n.getOp());
    }
    String via = between.isEmpty() ? "" : " (through " + between.get(between.size() - 1).getOp() + " '"
        + between.get(between.size() - 1).getName() + "')";
    return Found.no(SkipCode.NO_LINEAR_OP, "input is " + n.getOp() + " '" + n.getName() + "'" + via
        + ", not a Conv2D, DepthwiseConv2dNative, Conv3D, Conv2DBackpropInput or MatMul");
  }
}
