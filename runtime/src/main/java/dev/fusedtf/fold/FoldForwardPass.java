package dev.fusedtf.fold;

import dev.fusedtf.graph.Body;
import dev.fusedtf.graph.BodyEditor;
import dev.fusedtf.graph.GraphEditor;
import dev.fusedtf.graph.ModelGraph;
import dev.fusedtf.graph.Nodes;
import dev.fusedtf.graph.OpOutputs;
import dev.fusedtf.graph.TensorRef;
import dev.fusedtf.weights.ConstantEvaluator;
import dev.fusedtf.weights.DenseTensor;
import dev.fusedtf.weights.TensorProtos;
import dev.fusedtf.weights.WeightResolver;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code FoldForwardPass} folds a BatchNorm (or an affine chain) into the conv that reads it, for
 * pre-activation nets where no conv precedes the BN:
 *
 * <pre>
 *   conv(x * s + t, W) + b  =  conv(x, W * s[in]) + (b + sum over taps and in of t[in] * W)
 * </pre>
 *
 * <p>This is exact only where the conv never sees zero padding: {@code VALID} padding, or a kernel of spatial
 * size 1 (a 1x1 conv, or MatMul). Elsewhere the fold is skipped with that reason. The BN's only reader must be
 * the conv, as its data input. The conv keeps working under its name: when no BiasAdd follows it, the conv is
 * renamed and a BiasAdd with its old name adds the constant term.
 */
public final class FoldForwardPass implements Pass {
  /** The pass name used in reports and to disable it. */
  public static final String NAME = "fold-forward";

  @Override
  public String name() {
    return NAME;
  }

  /** A foldable affine node: its input, per-channel scale and shift (null = identity). */
  private record Affine(NodeDef node, TensorRef x, DenseTensor scale, DenseTensor shift, List<NodeDef> chain,
      String kind) {}

  @Override
  public PassResult run(ModelGraph graph, WeightResolver weights) {
    GraphEditor editor = new GraphEditor(graph);
    List<Fold> folds = new ArrayList<>();
    List<Skip> skips = new ArrayList<>();
    ConstantEvaluator eval = new ConstantEvaluator(weights);
    for (Body body : graph.servingBodies()) {
      Set<String> keep = graph.protectedNodes(body);
      List<String> touched = new ArrayList<>();
      for (NodeDef n : body.nodes()) {
        if (!graph.isLive(body, n.getName()) || touched.contains(n.getName())) {
          continue;
        }
        Affine a = affine(graph, body, n, weights, eval);
        if (a == null) {
          continue;
        }
        List<Body.Use> uses = graph.liveDataUses(body, n.getName());
        if (uses.size() != 1 || uses.get(0).consumer() == null
            || a.chain().stream().anyMatch(c -> graph.isProtected(body, c.getName()))) {
          continue; // the folded-away nodes must have no other reader, signatures included
        }
        NodeDef reader = uses.get(0).consumer();
        ChannelOp kind = ChannelOp.of(reader.getOp());
        if (kind == null || uses.get(0).inputIndex() != 0 || touched.contains(reader.getName())) {
          continue;
        }
        if (kind != ChannelOp.CONV2D && kind != ChannelOp.DEPTHWISE && kind != ChannelOp.MATMUL) {
          continue;
        }
        String why = tryFold(graph, body, editor, a, reader, kind, weights, keep);
        if (why != null) {
          skips.add(new Skip(n.getName(), "not folded forward into " + reader.getName() + ": " + why,
              body.functionName(), NAME));
          continue;
        }
        touched.add(reader.getName());
        a.chain().forEach(c -> touched.add(c.getName()));
        folds.add(new Fold(n.getName(), reader.getName(), a.kind() + "->" + reader.getOp() + " (forward)",
            body.functionName(), NAME, null));
      }
    }
    return new PassResult(editor.changed() ? editor.build() : null, folds, skips);
  }

  private static Affine affine(ModelGraph graph, Body body, NodeDef n, WeightResolver weights, ConstantEvaluator eval) {
    if (FoldBatchNormPass.BN_OPS.contains(n.getOp()) && !n.getOp().equals("BatchNormWithGlobalNormalization")) {
      if (Nodes.boolAttr(n, "is_training", true)) {
        return null;
      }
      for (Body.Use u : graph.liveDataUses(body, n.getName())) {
        if (!u.ref().isFirstOutput(OpOutputs.firstOutputArg(n.getOp()))) {
          return null;
        }
      }
      List<TensorRef> in = Body.dataInputs(n);
      double[][] p = new double[4][];
      for (int i = 0; i < 4; i++) {
        WeightResolver.Resolved r = weights.resolve(body, in.get(i + 1));
        if (!r.known()) {
          return null;
        }
        p[i] = r.value().values();
      }
      double[] s = ChannelMath.bnScale(p[0], p[3], Nodes.floatAttr(n, "epsilon", 1e-4f));
      double[] t = ChannelMath.bnShift(p[1], p[2], s);
      boolean nchw = Nodes.stringAttr(n, "data_format", "NHWC").startsWith("NC");
      if (nchw) {
        return null; // channels-first input to a conv: left to the layout pass
      }
      return new Affine(n, in.get(0), new DenseTensor(new long[] {s.length}, s, DataType.DT_FLOAT),
          new DenseTensor(new long[] {t.length}, t, DataType.DT_FLOAT), List.of(n), n.getOp());
    }
    if (!n.getOp().equals("Add") && !n.getOp().equals("AddV2") && !n.getOp().equals("Mul")
        && !n.getOp().equals("Sub") && !n.getOp().equals("BiasAdd")) {
      return null;
    }
    FoldAffinePass.Chain c = FoldAffinePass.match(graph, body, n, eval);
    if (c == null || c.why() != null || c.x() == null) {
      return null;
    }
    List<NodeDef> chain = c.mul() != null ? List.of(c.mul(), n) : List.of(n);
    return new Affine(n, c.x(), c.scale(), c.shift(), chain, c.mul() != null ? "Scale" : n.getOp());
  }

  private static String tryFold(ModelGraph graph, Body body, GraphEditor editor, Affine a, NodeDef conv,
      ChannelOp kind, WeightResolver weights, Set<String> keep) {
    if (kind == ChannelOp.MATMUL && (Nodes.boolAttr(conv, "transpose_a", false))) {
      return "MatMul transposes its input";
    }
    if (kind != ChannelOp.MATMUL && Nodes.stringAttr(conv, "data_format", "NHWC").startsWith("NC")) {
      return "channels-first conv";
    }
    TensorRef kernelRef = Body.dataInputs(conv).get(1);
    WeightResolver.Resolved k = weights.resolve(body, kernelRef);
    if (!k.known() || !TensorProtos.isSupported(k.value().dtype())) {
      return "kernel unknown" + (k.reason() != null ? ": " + k.reason() : "");
    }
    DenseTensor w = k.value();
    boolean transposeB = kind == ChannelOp.MATMUL && Nodes.boolAttr(conv, "transpose_b", false);
    int cin;
    int spatial;
    if (kind == ChannelOp.MATMUL) {
      if (w.rank() != 2) {
        return "weight is not a matrix";
      }
      cin = (int) (transposeB ? w.dim(1) : w.dim(0));
      spatial = 1;
    } else {
      if (w.rank() != 4) {
        return "kernel is not 4-D";
      }
      cin = (int) w.dim(2);
      spatial = (int) (w.dim(0) * w.dim(1));
      String padding = Nodes.stringAttr(conv, "padding", "VALID");
      long[] explicit = Nodes.intsAttr(conv, "explicit_paddings");
      boolean noPadding = padding.equals("VALID")
          || (padding.equals("SAME") && spatial == 1)
          || (padding.equals("EXPLICIT") && explicit != null && java.util.Arrays.stream(explicit).allMatch(p -> p == 0));
      if (!noPadding) {
        return padding + " padding with a " + w.dim(0) + "x" + w.dim(1)
            + " kernel: the zero padding would not see the BatchNorm's shift, so the fold would not be exact";
      }
    }
    int rank = kind == ChannelOp.MATMUL ? 2 : 4;
    double[] s = FoldAffinePass.perChannel(a.scale(), cin, false, 1, rank);
    double[] t = FoldAffinePass.perChannel(a.shift(), cin, false, 0, rank);
    if (s == null || t == null) {
      return "scale/shift do not match the " + cin + " input channels";
    }
    // W' = W * s[in]; extra[out] = sum t[in] * W
    double[] wv = w.values();
    double[] nw = new double[wv.length];
    int cout = kind == ChannelOp.MATMUL ? (int) (transposeB ? w.dim(0) : w.dim(1))
        : kind == ChannelOp.DEPTHWISE ? (int) (w.dim(2) * w.dim(3)) : (int) w.dim(3);
    double[] extra = new double[cout];
    for (int i = 0; i < wv.length; i++) {
      int in;
      int out;
      if (kind == ChannelOp.MATMUL) {
        in = transposeB ? i % cin : i / cout;
        out = transposeB ? i / cin : i % cout;
      } else if (kind == ChannelOp.DEPTHWISE) {
        int mult = (int) w.dim(3);
        in = (i / mult) % cin;
        out = i % (cin * mult);
      } else {
        in = (i / cout) % cin;
        out = i % cout;
      }
      nw[i] = wv[i] * s[in];
      extra[out] += t[in] * wv[i];
    }
    BodyEditor ed = editor.edit(body);
    DataType dt = Nodes.typeAttr(conv, "T", DataType.DT_FLOAT);
    String kName = ed.uniqueName(conv.getName() + "/forward_kernel");
    ed.add(Nodes.constant(kName, TensorProtos.encode(w.withValues(nw)), conv.getDevice()), conv.getName());
    // an existing BiasAdd right after the conv absorbs the constant term
    List<Body.Use> convUses = graph.liveDataUses(body, conv.getName());
    NodeDef bias = convUses.size() == 1 && convUses.get(0).consumer() != null
        && convUses.get(0).consumer().getOp().equals("BiasAdd") ? convUses.get(0).consumer() : null;
    double[] oldBias = null;
    if (bias != null) {
      WeightResolver.Resolved b = weights.resolve(body, Body.dataInputs(bias).get(1));
      oldBias = b.known() && b.value().size() == cout ? b.value().values() : null;
      if (oldBias == null) {
        bias = null;
      }
    }
    String convName = conv.getName();
    if (bias == null && graph.isProtected(body, convName)) {
      return "the conv is fetched or fed directly by a signature";
    }
    NodeDef.Builder cb = conv.toBuilder().clearInput();
    List<String> ins = new ArrayList<>(conv.getInputList());
    ins.set(0, ed.currentRef(a.x()));
    ins.set(1, OpOutputs.firstOutputRef(body, kName, "Const"));
    cb.addAllInput(ins).removeAttr("_output_shapes");
    List<TensorRef> orphans = new ArrayList<>(List.of(kernelRef));
    for (NodeDef c : a.chain()) {
      orphans.addAll(Body.dataInputs(c));
    }
    if (bias != null) {
      double[] nb = oldBias.clone();
      for (int o = 0; o < cout; o++) {
        nb[o] += extra[o];
      }
      String bName = ed.uniqueName(bias.getName() + "/forward_bias");
      ed.add(Nodes.constant(bName, TensorProtos.encode(new DenseTensor(new long[] {cout}, nb, dt)), bias.getDevice()),
          bias.getName());
      orphans.add(Body.dataInputs(bias).get(1));
      ed.replace(cb.build());
      List<String> bins = new ArrayList<>(ed.node(bias.getName()).getInputList());
      bins.set(1, OpOutputs.firstOutputRef(body, bName, "Const"));
      ed.replace(ed.node(bias.getName()).toBuilder().clearInput().addAllInput(bins).build());
    } else {
      String renamed = ed.uniqueName(convName + "/forward_folded");
      String bName = ed.uniqueName(convName + "/forward_bias");
      ed.add(Nodes.constant(bName, TensorProtos.encode(new DenseTensor(new long[] {cout}, extra, dt)), conv.getDevice()),
          convName);
      ed.add(cb.setName(renamed).build(), convName);
      ed.replace(NodeDef.newBuilder().setName(convName).setOp("BiasAdd").setDevice(conv.getDevice())
          .addInput(OpOutputs.firstOutputRef(body, renamed, conv.getOp()))
          .addInput(OpOutputs.firstOutputRef(body, bName, "Const"))
          .putAttr("T", Nodes.type(dt)).putAttr("data_format", Nodes.string("NHWC")).build());
      ed.redirectFirstOutput(convName, OpOutputs.firstOutputArg(conv.getOp()),
          OpOutputs.firstOutputRef(body, convName, "BiasAdd"));
    }
    for (NodeDef c : a.chain()) {
      ed.remove(c.getName());
    }
    for (TensorRef r : orphans) {
      ed.removeIfUnused(r.node(), keep);
    }
    return null;
  }
}
