package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.BodyEditor;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.internal.weights.WeightResolver;
import dev.fusedtf.report.Fold;
import dev.fusedtf.report.SkipCode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * Folds a BatchNorm (fused or decomposed) or a Scale into the conv or matmul that reads it, for pre-activation nets
 * where nothing linear precedes the BatchNorm:
 *
 * <pre>
 *   conv(x * s + t, W) + b  =  conv(x, W * s[in]) + (b + sum over taps and in of t[in] * W)
 * </pre>
 *
 * <p>This is exact only where the conv never reads zero padding: {@code VALID} padding, a 1x1 kernel, or MatMul.
 * Elsewhere the fold is skipped ({@link SkipCode#PADDING}). The conv keeps its name: when no BiasAdd follows it,
 * the conv is renamed and a BiasAdd under its old name adds the constant term.
 */
final class FoldBatchNormForward implements Rule {
  static final String NAME = "fold-forward";

  private static final Set<String> TARGETS;

  static {
    Set<String> t = new HashSet<>(BatchNormParams.OPS);
    t.addAll(AffineChain.OPS);
    TARGETS = Set.copyOf(t);
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<String> targetOps() {
    return TARGETS;
  }

  /** The affine map to fold: its data input, per-channel (or broadcast) scale and shift, its nodes. */
  private record Affine(TensorRef x, DenseTensor scale, DenseTensor shift, List<NodeDef> nodes, String label) {}

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef n) {
    Affine a = affine(ctx, body, n);
    if (a == null) {
      return Match.none();
    }
    NodeDef reader = ctx.soleReader(body, n);
    KernelLayout.Op kind = reader == null ? null : KernelLayout.Op.of(reader.getOp());
    if (kind != KernelLayout.Op.CONV2D && kind != KernelLayout.Op.DEPTHWISE && kind != KernelLayout.Op.MATMUL) {
      return Match.none(); // not read by exactly one conv: the backward rule's skip stands
    }
    if (!Body.dataInputs(reader).get(0).node().equals(n.getName())) {
      return Match.none(); // it is the kernel, not the data, of the reader
    }
    if (a.nodes().stream().anyMatch(c -> ctx.isProtected(body, c.getName()))) {
      return skip(n, reader, SkipCode.FETCHED, "the BatchNorm is fetched or fed directly by a signature");
    }
    if (kind == KernelLayout.Op.MATMUL && Nodes.boolAttr(reader, "transpose_a", false)) {
      return skip(n, reader, SkipCode.UNSUPPORTED, "MatMul transposes its input");
    }
    if (kind != KernelLayout.Op.MATMUL && kind.channelsFirst(reader)) {
      return skip(n, reader, SkipCode.LAYOUT_MISMATCH, "the conv is channels-first");
    }
    TensorRef kernelRef = Body.dataInputs(reader).get(1);
    WeightResolver.Resolved k = ctx.weights().resolve(body, kernelRef);
    if (!k.known() || !TensorCodec.isSupported(k.value().dtype())) {
      return skip(n, reader, k.known() ? SkipCode.UNSUPPORTED_DTYPE : SkipCode.NOT_CONSTANT,
          k.known() ? "kernel dtype " + k.value().dtype() + " is not folded (float32 and float64 only)"
              : "kernel unknown" + (k.reason() != null ? ": " + k.reason() : ""));
    }
    DenseTensor w = k.value();
    KernelLayout layout = KernelLayout.of(reader, w);
    if (layout == null) {
      return skip(n, reader, SkipCode.SHAPE_MISMATCH, "kernel has unexpected shape " + Arrays.toString(w.shape()));
    }
    if (kind != KernelLayout.Op.MATMUL && !noPadding(reader, layout)) {
      return skip(n, reader, SkipCode.PADDING, Nodes.stringAttr(reader, "padding", "VALID") + " padding with a "
          + w.dim(0) + "x" + w.dim(1) + " kernel: the zero padding would not see the BatchNorm's shift, so the fold "
          + "would not be exact");
    }
    int rank = kind == KernelLayout.Op.MATMUL ? 2 : 4;
    double[] s = PerChannel.values(a.scale(), layout.inChannels(), false, 1, rank);
    double[] t = PerChannel.values(a.shift(), layout.inChannels(), false, 0, rank);
    if (s == null || t == null) {
      return skip(n, reader, SkipCode.SHAPE_MISMATCH, "scale/shift do not match the " + layout.inChannels()
          + " input channels");
    }
    List<Body.Use> convUses = ctx.liveUses(body, reader.getName());
    NodeDef bias = convUses.size() == 1 && convUses.get(0).consumer() != null
        && convUses.get(0).consumer().getOp().equals("BiasAdd") ? convUses.get(0).consumer() : null;
    double[] oldBias = null;
    if (bias != null) {
      WeightResolver.Resolved b = ctx.weights().resolve(body, Body.dataInputs(bias).get(1));
      oldBias = b.known() && b.value().size() == layout.outChannels() ? b.value().values() : null;
      if (oldBias == null || ctx.isProtected(body, reader.getName())) {
        bias = null;
        oldBias = null;
      }
    }
    if (bias == null && ctx.isProtected(body, reader.getName())) {
      return skip(n, reader, SkipCode.FETCHED, "the conv is fetched or fed directly by a signature and no BiasAdd "
          + "follows it to take the constant term");
    }
    ChannelMath.Forward fw = ChannelMath.scaleInputs(w, layout, s, t);
    Set<String> touched = new HashSet<>();
    a.nodes().forEach(c -> touched.add(c.getName()));
    touched.add(reader.getName());
    if (bias != null) {
      touched.add(bias.getName());
    }
    NodeDef biasNode = bias;
    double[] bias0 = oldBias;
    Set<String> keep = ctx.graph().protectedNodes(body);
    String checkNode = bias != null ? bias.getName() : reader.getName();
    Fold fold = new Fold(n.getName(), reader.getName(), a.label() + "->" + reader.getOp() + " (forward)",
        body.functionName(), NAME, null);
    return new Plan(touched, new Plan.FoldChange(fold, checkNode),
        ed -> apply(ed, a, reader, kernelRef, fw, biasNode, bias0, keep));
  }

  private static boolean noPadding(NodeDef conv, KernelLayout layout) {
    String padding = Nodes.stringAttr(conv, "padding", "VALID");
    long[] explicit = Nodes.intsAttr(conv, "explicit_paddings");
    return padding.equals("VALID") || (padding.equals("SAME") && layout.taps() == 1)
        || (padding.equals("EXPLICIT") && explicit != null && Arrays.stream(explicit).allMatch(p -> p == 0));
  }

  private static Skipped skip(NodeDef n, NodeDef reader, SkipCode code, String why) {
    return new Skipped(n.getName(), code, "not folded forward into " + reader.getName() + ": " + why);
  }

  private static Affine affine(RuleContext ctx, Body body, NodeDef n) {
    if (BatchNormParams.OPS.contains(n.getOp())) {
      if (n.getOp().equals("BatchNormWithGlobalNormalization")) {
        return null;
      }
      BatchNormParams.Read r = BatchNormParams.read(ctx, body, n);
      if (r.params() == null || r.params().channelsFirst()) {
        return null; // a skip the backward rule reports; channels-first input is left to the layout rule
      }
      BatchNormParams p = r.params();
      return new Affine(p.x(), new DenseTensor(new long[] {p.scale().length}, p.scale(), DataType.DT_FLOAT),
          new DenseTensor(new long[] {p.shift().length}, p.shift(), DataType.DT_FLOAT), List.of(n), n.getOp());
    }
    AffineChain.Found f = AffineChain.match(ctx, body, n);
    if (!f.isChain() || !f.chain().kind().isFold()) {
      return null;
    }
    AffineChain c = f.chain();
    return new Affine(c.x(), c.scale(), c.shift(), c.nodes(), c.label());
  }

  private static void apply(BodyEditor ed, Affine a, NodeDef conv, TensorRef kernelRef, ChannelMath.Forward fw,
      NodeDef bias, double[] oldBias, Set<String> keep) {
    Body body = ed.original();
    DataType dt = Nodes.typeAttr(conv, "T", DataType.DT_FLOAT);
    String kName = ed.uniqueName(conv.getName() + "/forward_kernel");
    ed.add(Nodes.constant(kName, TensorCodec.encode(fw.kernel()), conv.getDevice()), conv.getName());
    NodeDef.Builder cb = conv.toBuilder().clearInput();
    List<String> ins = new ArrayList<>(conv.getInputList());
    ins.set(0, ed.currentRef(a.x()));
    ins.set(1, OpOutputs.firstOutputRef(body, kName, "Const"));
    cb.addAllInput(ins).removeAttr("_output_shapes");
    List<TensorRef> orphans = new ArrayList<>(List.of(kernelRef));
    for (NodeDef c : a.nodes()) {
      orphans.addAll(Body.dataInputs(c));
    }
    int cout = fw.outputShift().length;
    if (bias != null) {
      double[] nb = oldBias.clone();
      for (int o = 0; o < cout; o++) {
        nb[o] += fw.outputShift()[o];
      }
      String bName = ed.uniqueName(bias.getName() + "/forward_bias");
      ed.add(Nodes.constant(bName, TensorCodec.encode(new DenseTensor(new long[] {cout}, nb, dt)), bias.getDevice()),
          bias.getName());
      orphans.add(Body.dataInputs(bias).get(1));
      ed.replace(cb.build());
      List<String> bins = new ArrayList<>(ed.node(bias.getName()).getInputList());
      bins.set(1, OpOutputs.firstOutputRef(body, bName, "Const"));
      ed.replace(ed.node(bias.getName()).toBuilder().clearInput().addAllInput(bins).build());
    } else {
      String convName = conv.getName();
      String renamed = ed.uniqueName(convName + "/forward_folded");
      String bName = ed.uniqueName(convName + "/forward_bias");
      ed.add(Nodes.constant(bName, TensorCodec.encode(new DenseTensor(new long[] {cout}, fw.outputShift(), dt)),
          conv.getDevice()), convName);
      ed.add(cb.setName(renamed).build(), convName);
      ed.replace(NodeDef.newBuilder().setName(convName).setOp("BiasAdd").setDevice(conv.getDevice())
          .addInput(OpOutputs.firstOutputRef(body, renamed, conv.getOp()))
          .addInput(OpOutputs.firstOutputRef(body, bName, "Const"))
          .putAttr("T", Nodes.type(dt)).putAttr("data_format", Nodes.string("NHWC")).build());
      ed.redirectFirstOutput(convName, OpOutputs.firstOutputArg(conv.getOp()),
          OpOutputs.firstOutputRef(body, convName, "BiasAdd"));
    }
    for (NodeDef c : a.nodes()) {
      ed.remove(c.getName());
    }
    for (TensorRef r : orphans) {
      ed.removeIfUnused(r.node(), keep);
    }
  }
}
