package dev.fusedtf.fold;

import dev.fusedtf.graph.Body;
import dev.fusedtf.graph.BodyEditor;
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
 * The {@code LinearFold} is what every backward fold shares: finding the linear op (conv / depthwise / matmul,
 * optionally followed by BiasAdd, with Identity nodes allowed between) that produces a tensor, checking it is
 * safe to change, and rewriting {@code affine(linear(x))} as {@code BiasAdd(linear'(x), b')}.
 */
final class LinearFold {
  private LinearFold() {}

  /** The op that will absorb a per-channel affine map, with its weights. */
  record Target(NodeDef conv, NodeDef squeeze, NodeDef bias, ChannelOp kind, TensorRef kernelRef,
      DenseTensor kernel, ChannelMath.KernelLayout layout, double[] biasValues, boolean channelsFirst,
      List<NodeDef> identities) {
    /** Pattern prefix, e.g. {@code Conv2D+BiasAdd}. */
    String pattern() {
      return conv.getOp() + (squeeze != null ? "+Squeeze" : "") + (bias != null ? "+BiasAdd" : "")
          + (identities.isEmpty() ? "" : "+Identity");
    }

    /** Rank of the tensor the affine map applies to (a Squeeze after the conv removes dimensions). */
    int outputRank() {
      return kind.outputRank() - (squeeze != null ? Nodes.intsAttr(squeeze, "squeeze_dims").length : 0);
    }

    /** The node whose output 0 the folded BiasAdd reads: the Squeeze after the conv, or the conv. */
    NodeDef tail() {
      return squeeze != null ? squeeze : conv;
    }

    int channels() {
      return layout.channels();
    }
  }

  /** A target, or the reason there is none. */
  record Found(Target target, String reason) {}

  /**
   * Finds what produces {@code x} (read only by {@code reader}) and whether an affine map after it can fold into
   * its weights.
   */
  static Found find(ModelGraph graph, Body body, TensorRef x, NodeDef reader, WeightResolver weights) {
    Optional<NodeDef> p = producerOfFirstOutput(body, x);
    if (p.isEmpty()) {
      return new Found(null, "input '" + x + "' is not output 0 of a node in this body");
    }
    NodeDef expectedReader = reader;
    List<NodeDef> identities = new ArrayList<>();
    NodeDef node = p.get();
    while (node.getOp().equals("Identity")) {
      String guard = soleReader(graph, body, node, expectedReader);
      if (guard != null) {
        return new Found(null, guard);
      }
      identities.add(node);
      expectedReader = node;
      Optional<NodeDef> next = producerOfFirstOutput(body, Body.dataInputs(node).get(0));
      if (next.isEmpty()) {
        return new Found(null, "Identity '" + node.getName() + "' does not read a node in this body");
      }
      node = next.get();
    }
    NodeDef bias = null;
    NodeDef conv = node;
    if (conv.getOp().equals("BiasAdd")) {
      bias = conv;
      Optional<NodeDef> c = producerOfFirstOutput(body, Body.dataInputs(bias).get(0));
      if (c.isEmpty()) {
        return new Found(null, "BiasAdd '" + bias.getName() + "' does not read output 0 of a node in this body");
      }
      conv = c.get();
    }
    NodeDef squeeze = null;
    if (conv.getOp().equals("Squeeze")) {
      // Keras Conv1D: ExpandDims -> Conv2D -> Squeeze(axis 1) [-> BiasAdd]: channels stay on the last axis
      squeeze = conv;
      long[] dims = Nodes.intsAttr(squeeze, "squeeze_dims");
      if (dims == null || dims.length == 0
          || java.util.Arrays.stream(dims).anyMatch(d -> d != 1 && d != 2 && d != -2 && d != -3)) {
        return new Found(null, "Squeeze '" + squeeze.getName() + "' before the BatchNorm removes other than spatial axes");
      }
      Optional<NodeDef> c = producerOfFirstOutput(body, Body.dataInputs(squeeze).get(0));
      if (c.isEmpty() || !(c.get().getOp().equals("Conv2D") || c.get().getOp().equals("DepthwiseConv2dNative"))
          || ChannelOp.of(c.get().getOp()).channelsFirst(c.get())) {
        return new Found(null, "Squeeze '" + squeeze.getName() + "' does not follow a channels-last Conv2D or "
            + "DepthwiseConv2dNative");
      }
      conv = c.get();
    }
    ChannelOp kind = ChannelOp.of(conv.getOp());
    if (kind == null) {
      return new Found(null, describeNonLinear(body, bias != null ? bias : conv, bias != null));
    }
    NodeDef tail = squeeze != null ? squeeze : conv;
    String guard = soleReader(graph, body, bias != null ? bias : tail, expectedReader);
    if (guard == null && bias != null) {
      guard = soleReader(graph, body, tail, bias);
    }
    if (guard == null && squeeze != null) {
      guard = soleReader(graph, body, conv, squeeze);
    }
    if (guard != null) {
      return new Found(null, guard);
    }
    boolean channelsFirst = kind.channelsFirst(conv);
    if (bias != null && Nodes.stringAttr(bias, "data_format", "NHWC").startsWith("NC") != channelsFirst) {
      return new Found(null, "data format of BiasAdd '" + bias.getName() + "' disagrees with " + conv.getName());
    }
    TensorRef kernelRef = Body.dataInputs(conv).get(kind.kernelInput());
    WeightResolver.Resolved kernel = weights.resolve(body, kernelRef);
    if (!kernel.known()) {
      return new Found(null, "kernel of " + conv.getName() + " unknown: " + kernel.reason());
    }
    if (!TensorProtos.isSupported(kernel.value().dtype())) {
      return new Found(null, "kernel dtype " + kernel.value().dtype() + " not supported");
    }
    ChannelMath.KernelLayout layout = kind.layout(conv, kernel.value());
    if (layout == null) {
      return new Found(null, "kernel of " + conv.getName() + " has unexpected shape "
          + Arrays.toString(kernel.value().shape()));
    }
    double[] biasValues = null;
    if (bias != null) {
      WeightResolver.Resolved b = weights.resolve(body, Body.dataInputs(bias).get(1));
      if (!b.known()) {
        return new Found(null, "bias of " + bias.getName() + " unknown: " + b.reason());
      }
      biasValues = b.value().values();
      if (biasValues.length != layout.channels()) {
        return new Found(null, "bias has " + biasValues.length + " values, " + conv.getName() + " has "
            + layout.channels() + " channels");
      }
    }
    return new Found(new Target(conv, squeeze, bias, kind, kernelRef, kernel.value(), layout, biasValues,
        channelsFirst, identities), null);
  }

  /** A note when the kernel is read elsewhere too (the fold then writes a copy; the original stays). */
  static String sharedKernelNote(Body body, Target t) {
    Optional<NodeDef> k = body.producer(t.kernelRef());
    if (k.isPresent() && body.dataUses(k.get().getName()).size() > 1) {
      return "kernel '" + t.kernelRef() + "' is also read by another node: folded into a copy";
    }
    return null;
  }

  /**
   * Rewrites {@code replaced} (the last node of the affine chain) as {@code BiasAdd(conv'(x), b')} with
   * {@code conv'} reading {@code W * s} and {@code b' = b * s + t}; removes the old BiasAdd, the Identity nodes
   * and {@code alsoRemove}, then whatever was left without readers.
   */
  static void rewrite(BodyEditor ed, Target t, double[] s, double[] shift, NodeDef replaced, DataType outType,
      List<NodeDef> alsoRemove, Set<String> keep) {
    Body body = ed.original();
    DenseTensor kernel = ChannelMath.scaleKernel(t.kernel(), t.layout(), s);
    DenseTensor bias = new DenseTensor(new long[] {s.length}, ChannelMath.foldBias(t.biasValues(), s, shift), outType);
    String kernelName = ed.uniqueName(t.conv().getName() + "/folded_kernel");
    ed.add(Nodes.constant(kernelName, TensorProtos.encode(kernel), t.conv().getDevice()), t.conv().getName());
    String biasName = ed.uniqueName(replaced.getName() + "/folded_bias");
    ed.add(Nodes.constant(biasName, TensorProtos.encode(bias), replaced.getDevice()), replaced.getName());

    NodeDef conv = ed.node(t.conv().getName());
    NodeDef.Builder cb = conv.toBuilder().clearInput();
    int dataIdx = 0;
    for (String in : conv.getInputList()) {
      if (!in.startsWith("^") && dataIdx++ == t.kind().kernelInput()) {
        cb.addInput(OpOutputs.firstOutputRef(body, kernelName, "Const"));
      } else {
        cb.addInput(in);
      }
    }
    cb.removeAttr("_output_shapes");
    ed.replace(cb.build());

    List<NodeDef> gone = new ArrayList<>(alsoRemove);
    gone.addAll(t.identities());
    if (t.bias() != null) {
      gone.add(t.bias());
    }
    NodeDef.Builder nb = NodeDef.newBuilder()
        .setName(replaced.getName())
        .setOp("BiasAdd")
        .setDevice(replaced.getDevice())
        .addInput(OpOutputs.firstOutputRef(body, t.tail().getName(), ed.node(t.tail().getName()).getOp()))
        .addInput(OpOutputs.firstOutputRef(body, biasName, "Const"))
        .putAttr("T", Nodes.type(outType))
        .putAttr("data_format", Nodes.string(t.channelsFirst() ? "NCHW" : "NHWC"));
    List<String> controls = new ArrayList<>(Body.controlInputs(replaced));
    for (NodeDef g : gone) {
      for (String c : Body.controlInputs(g)) {
        if (!controls.contains(c)) {
          controls.add(c);
        }
      }
    }
    nb.addAllInput(controls);
    List<TensorRef> orphans = new ArrayList<>(Body.dataInputs(replaced));
    orphans.add(t.kernelRef());
    if (t.bias() != null) {
      orphans.add(Body.dataInputs(t.bias()).get(1));
    }
    for (NodeDef g : alsoRemove) {
      orphans.addAll(Body.dataInputs(g));
    }
    ed.replace(nb.build());
    ed.redirectFirstOutput(replaced.getName(), OpOutputs.firstOutputArg(replaced.getOp()),
        OpOutputs.firstOutputRef(body, replaced.getName(), "BiasAdd"));
    for (NodeDef g : gone) {
      ed.remove(g.getName());
    }
    for (TensorRef r : orphans) {
      ed.removeIfUnused(r.node(), keep);
    }
  }

  static Optional<NodeDef> producerOfFirstOutput(Body body, TensorRef ref) {
    Optional<NodeDef> n = body.producer(ref);
    if (n.isEmpty() || !ref.isFirstOutput(OpOutputs.firstOutputArg(n.get().getOp()))) {
      return Optional.empty();
    }
    return n;
  }

  /** Null when {@code node}'s only reader is {@code expected} and no signature fetches it; else the reason. */
  static String soleReader(ModelGraph graph, Body body, NodeDef node, NodeDef expected) {
    if (graph.isProtected(body, node.getName())) {
      return node.getOp() + " '" + node.getName() + "' is fetched or fed directly by a signature";
    }
    List<String> others = new ArrayList<>();
    for (Body.Use u : graph.liveDataUses(body, node.getName())) {
      if (u.consumer() == null || !u.consumer().getName().equals(expected.getName())) {
        others.add(u.readerName());
      }
    }
    if (!others.isEmpty()) {
      return "output of " + node.getOp() + " '" + node.getName() + "' is also read by " + String.join(", ", others);
    }
    return null;
  }

  private static final Set<String> ACTIVATIONS = Set.of(
      "Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "MaxPool", "AvgPool", "Maximum");

  static String describeNonLinear(Body body, NodeDef n, boolean afterBias) {
    if (afterBias) {
      return "BiasAdd '" + n.getName() + "' follows "
          + body.producer(Body.dataInputs(n).get(0)).map(NodeDef::getOp).orElse("an argument")
          + ", not a Conv2D/DepthwiseConv2dNative/Conv3D/Conv2DBackpropInput/MatMul";
    }
    if (ACTIVATIONS.contains(n.getOp())) {
      List<TensorRef> in = Body.dataInputs(n);
      String before = in.isEmpty() ? "?" : body.producer(in.get(in.size() - 1))
          .map(x -> x.getOp() + " '" + x.getName() + "'").orElse("an argument");
      return "a " + n.getOp() + " ('" + n.getName() + "') sits between " + before
          + " and the BatchNorm: a BN cannot fold backward through " + n.getOp();
    }
    return "input is " + n.getOp() + " '" + n.getName()
        + "', not a Conv2D/DepthwiseConv2dNative/Conv3D/Conv2DBackpropInput/MatMul (optionally + BiasAdd)";
  }
}
