package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.BodyEditor;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.report.Fold;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * Reduces a decomposed BatchNorm that has nothing linear to fold into (it follows an activation and feeds one) to
 * one multiply and one add of precomputed per-channel constants: {@code Rsqrt(var + eps) * gamma} and
 * {@code beta - mean * scale} are no longer computed on every call, and the training switch that chose the
 * statistics is gone. The BatchNorm is removed from the serving path (a fold into its own multiply); its last node
 * keeps its name.
 */
final class PrecomputeBatchNormStatistics implements Rule {
  static final String NAME = "precompute-batchnorm";

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
    if (!f.isChain() || f.chain().kind() != AffineChain.Kind.BATCH_NORM) {
      return Match.none();
    }
    AffineChain c = f.chain();
    if (c.nodes().stream().anyMatch(n -> !n.equals(end) && ctx.isProtected(body, n.getName()))) {
      return Match.none();
    }
    LinearTarget.Found before = LinearTarget.find(ctx, body, c.x(), c.nodes().get(0));
    if (before.target() != null) {
      return Match.none(); // the backward rule folds it into the linear op
    }
    Set<String> touched = new HashSet<>(c.nodeNames());
    Set<String> keep = ctx.graph().protectedNodes(body);
    String mulName = c.nodes().stream().filter(n -> n.getOp().equals("Mul") && !n.equals(end)).map(NodeDef::getName)
        .findFirst().orElse(end.getName() + "/scale");
    Fold fold = new Fold(end.getName(), mulName, "DecomposedBatchNorm->Mul+AddV2 (statistics precomputed; "
        + before.reason() + ")", body.functionName(), NAME, null);
    return new Plan(touched, new Plan.FoldChange(fold, end.getName()), ed -> apply(ed, c, mulName, keep));
  }

  private static void apply(BodyEditor ed, AffineChain c, String mulName, Set<String> keep) {
    Body body = ed.original();
    NodeDef end = c.end();
    DataType dt = Nodes.typeAttr(end, "T", DataType.DT_FLOAT);
    String xRef = ed.currentRef(c.x());
    List<TensorRef> orphans = new ArrayList<>();
    List<String> controls = new ArrayList<>();
    for (NodeDef n : c.nodes()) {
      orphans.addAll(Body.dataInputs(n));
      for (String ctl : Body.controlInputs(n)) {
        if (!controls.contains(ctl)) {
          controls.add(ctl);
        }
      }
    }
    for (NodeDef n : c.nodes()) {
      if (!n.getName().equals(end.getName()) && !n.getName().equals(mulName)) {
        ed.remove(n.getName());
      }
    }
    String sName = ed.uniqueName(mulName + "/folded_scale");
    ed.add(Nodes.constant(sName, TensorCodec.encode(typed(scale(c), dt)), end.getDevice()), end.getName());
    NodeDef mul = NodeDef.newBuilder().setName(mulName).setOp("Mul").setDevice(end.getDevice())
        .addInput(xRef).addInput(OpOutputs.firstOutputRef(body, sName, "Const"))
        .putAttr("T", Nodes.type(dt)).build();
    if (ed.node(mulName) != null) {
      ed.replace(mul);
    } else {
      ed.add(mul, end.getName());
    }
    String tName = ed.uniqueName(end.getName() + "/folded_shift");
    ed.add(Nodes.constant(tName, TensorCodec.encode(typed(shift(c), dt)), end.getDevice()), end.getName());
    ed.replace(NodeDef.newBuilder().setName(end.getName()).setOp("AddV2").setDevice(end.getDevice())
        .addInput(OpOutputs.firstOutputRef(body, mulName, "Mul"))
        .addInput(OpOutputs.firstOutputRef(body, tName, "Const"))
        .addAllInput(controls).putAttr("T", Nodes.type(dt)).build());
    ed.redirectFirstOutput(end.getName(), OpOutputs.firstOutputArg(end.getOp()),
        OpOutputs.firstOutputRef(body, end.getName(), "AddV2"));
    for (TensorRef r : orphans) {
      ed.removeIfUnused(r.node(), keep);
    }
  }

  private static DenseTensor scale(AffineChain c) {
    return c.scale() != null ? c.scale() : new DenseTensor(new long[0], new double[] {1}, DataType.DT_FLOAT);
  }

  private static DenseTensor shift(AffineChain c) {
    return c.shift() != null ? c.shift() : new DenseTensor(new long[0], new double[] {0}, DataType.DT_FLOAT);
  }

  private static DenseTensor typed(DenseTensor t, DataType dt) {
    return new DenseTensor(t.shape(), t.values(), dt);
  }
}
