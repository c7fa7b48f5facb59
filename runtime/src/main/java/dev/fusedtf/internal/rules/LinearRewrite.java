package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.BodyEditor;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code LinearRewrite} is the edit every backward fold shares: {@code affine(linear(x))} becomes
 * {@code BiasAdd(linear'(x), b')}, with {@code linear'} reading {@code W * s} (a new Const, so another reader of
 * the kernel keeps the original) and {@code b' = b * s + t}. The BiasAdd takes the name of the last node of the
 * affine map, so its readers and the signatures still resolve.
 */
final class LinearRewrite {
  private LinearRewrite() {}

  /**
   * @param t the linear target
   * @param s per-channel scale
   * @param shift per-channel shift
   * @param replaced the last node of the affine map (the BatchNorm), whose name the BiasAdd takes
   * @param outType the dtype of the result
   * @param alsoRemove other nodes of the affine map that go
   * @param keep nodes that must stay even when unused (fetched or fed ones)
   */
  static void apply(BodyEditor ed, LinearTarget t, double[] s, double[] shift, NodeDef replaced, DataType outType,
      List<NodeDef> alsoRemove, Set<String> keep) {
    Body body = ed.original();
    DenseTensor kernel = ChannelMath.scaleOutputs(t.kernel(), t.layout(), s);
    DenseTensor bias = new DenseTensor(new long[] {s.length}, ChannelMath.foldBias(t.biasValues(), s, shift), outType);
    String kernelName = ed.uniqueName(t.conv().getName() + "/folded_kernel");
    ed.add(Nodes.constant(kernelName, TensorCodec.encode(kernel), t.conv().getDevice()), t.conv().getName());
    String biasName = ed.uniqueName(replaced.getName() + "/folded_bias");
    ed.add(Nodes.constant(biasName, TensorCodec.encode(bias), replaced.getDevice()), replaced.getName());

    NodeDef conv = ed.node(t.conv().getName());
    NodeDef.Builder cb = conv.toBuilder().clearInput();
    int dataIdx = 0;
    for (String in : conv.getInputList()) {
      if (!in.startsWith("^") && dataIdx++ == t.layout().op().kernelInput()) {
        cb.addInput(OpOutputs.firstOutputRef(body, kernelName, "Const"));
      } else {
        cb.addInput(in);
      }
    }
    cb.removeAttr("_output_shapes");
    ed.replace(cb.build());

    List<NodeDef> gone = new ArrayList<>(alsoRemove);
    gone.addAll(t.between());
    NodeDef.Builder nb = NodeDef.newBuilder()
        .setName(replaced.getName())
        .setOp("BiasAdd")
        .setDevice(replaced.getDevice())
        .addInput(OpOutputs.firstOutputRef(body, t.tail().getName(), ed.node(t.tail().getName()).getOp()))
        .addInput(OpOutputs.firstOutputRef(body, biasName, "Const"))
        .putAttr("T", Nodes.type(outType))
        .putAttr("data_format", Nodes.string(t.channelsFirst() ? "NCHW" : "NHWC"));
    Set<String> controls = new LinkedHashSet<>(Body.controlInputs(replaced));
    for (NodeDef g : gone) {
      controls.addAll(Body.controlInputs(g));
    }
    nb.addAllInput(controls);
    List<TensorRef> orphans = new ArrayList<>(Body.dataInputs(replaced));
    orphans.add(t.kernelRef());
    for (NodeDef g : gone) {
      orphans.addAll(Body.dataInputs(g));
    }
    ed.replace(nb.build());
    ed.redirectFirstOutput(replaced.getName(), OpOutputs.firstOutputArg(replaced.getOp()),
        OpOutputs.firstOutputRef(body, replaced.getName(), "BiasAdd"));
    for (NodeDef g : gone) {
      if (!g.getName().equals(replaced.getName())) {
        ed.remove(g.getName());
      }
    }
    for (TensorRef r : orphans) {
      ed.removeIfUnused(r.node(), keep);
    }
  }
}
