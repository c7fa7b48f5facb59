package dev.fusedtf.internal.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.report.Rewrite;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/** Control flow on constant predicates, on pure protos: TF2 If in function bodies, TF1 Switch/Merge deadness. */
class ControlFlowRulesTest {
  private static final AttrValue F32 = Nodes.type(DataType.DT_FLOAT);

  private static NodeDef constant(String name, double[] v, long... shape) {
    return Nodes.constant(name, TensorCodec.encode(new DenseTensor(shape, v, DataType.DT_FLOAT)), "");
  }

  private static NodeDef boolConst(String name, boolean b) {
    return Nodes.constant(name, TensorProto.newBuilder().setDtype(DataType.DT_BOOL)
        .setTensorShape(TensorShapeProto.getDefaultInstance()).addBoolVal(b).build(), "");
  }

  private static AttrValue types(DataType... t) {
    AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
    for (DataType d : t) {
      l.addType(d);
    }
    return AttrValue.newBuilder().setList(l).build();
  }

  /** A branch: y = FusedBatchNormV3(Conv2D(x, k), gamma, beta, mean, var) with every weight an argument. */
  private static FunctionDef convBnBranch(String name) {
    OpDef.Builder sig = OpDef.newBuilder().setName(name);
    for (String a : List.of("x", "k", "g", "b", "m", "v")) {
      sig.addInputArg(OpDef.ArgDef.newBuilder().setName(a).setType(DataType.DT_FLOAT));
    }
    sig.addOutputArg(OpDef.ArgDef.newBuilder().setName("y").setType(DataType.DT_FLOAT));
    return FunctionDef.newBuilder().setSignature(sig)
        .addNodeDef(NodeDef.newBuilder().setName("conv").setOp("Conv2D").addInput("x").addInput("k").putAttr("T", F32)
            .putAttr("strides", AttrValue.newBuilder().setList(AttrValue.ListValue.newBuilder().addI(1).addI(1).addI(1)
                .addI(1)).build()).putAttr("padding", Nodes.string("SAME")))
        .addNodeDef(NodeDef.newBuilder().setName("bn").setOp("FusedBatchNormV3").addInput("conv:output:0").addInput("g")
            .addInput("b").addInput("m").addInput("v").putAttr("T", F32).putAttr("U", F32)
            .putAttr("epsilon", AttrValue.newBuilder().setF(1e-3f).build())
            .putAttr("is_training", AttrValue.newBuilder().setB(false).build()))
        .putRet("y", "bn:y:0").build();
  }

  private static FunctionDef identityBranch(String name) {
    OpDef.Builder sig = OpDef.newBuilder().setName(name);
    for (String a : List.of("x", "k", "g", "b", "m", "v")) {
      sig.addInputArg(OpDef.ArgDef.newBuilder().setName(a).setType(DataType.DT_FLOAT));
    }
    sig.addOutputArg(OpDef.ArgDef.newBuilder().setName("y").setType(DataType.DT_FLOAT));
    return FunctionDef.newBuilder().setSignature(sig)
        .addNodeDef(NodeDef.newBuilder().setName("id").setOp("Identity").addInput("x").putAttr("T", F32))
        .putRet("y", "id:output:0").build();
  }

  private static GraphDef ifGraph(String op, NodeDef cond) {
    DataType f = DataType.DT_FLOAT;
    return GraphDef.newBuilder()
        .addNode(NodeDef.newBuilder().setName("x").setOp("Placeholder").putAttr("dtype", F32))
        .addNode(cond)
        .addNode(constant("k", new double[] {0.5, -1, 2, 0.25}, 1, 1, 2, 2))
        .addNode(constant("g", new double[] {1.5, 0.5}, 2)).addNode(constant("b", new double[] {0.1, -0.2}, 2))
        .addNode(constant("m", new double[] {0.3, 0.7}, 2)).addNode(constant("v", new double[] {2, 0.5}, 2))
        .addNode(NodeDef.newBuilder().setName("if").setOp(op).addInput("cond").addInput("x").addInput("k")
            .addInput("g").addInput("b").addInput("m").addInput("v")
            .putAttr("Tcond", Nodes.type(DataType.DT_BOOL)).putAttr("Tin", types(f, f, f, f, f, f))
            .putAttr("Tout", types(f))
            .putAttr("then_branch", AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName("then_fn")).build())
            .putAttr("else_branch", AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName("else_fn")).build()))
        .addNode(NodeDef.newBuilder().setName("out").setOp("Identity").addInput("if").putAttr("T", F32))
        .setLibrary(FunctionDefLibrary.newBuilder().addFunction(convBnBranch("then_fn")).addFunction(identityBranch("else_fn")))
        .build();
  }

  private static Pipeline.Result run(GraphDef g, Set<String> fed) {
    return new Pipeline(Rules.defaults(), List.of()).run(g, List.of("out"), fed, VariableStore.none(), true);
  }

  @Test
  void anIfOnAConstantBecomesACallOfItsBranchAndTheBatchNormInsideFolds() {
    Pipeline.Result r = run(ifGraph("StatelessIf", boolConst("cond", true)), Set.of());
    NodeDef call = new ModelGraph(r.graph(), List.of("out")).topLevel().node("if").orElseThrow();
    assertEquals("PartitionedCall", call.getOp());
    assertEquals("then_fn", call.getAttrMap().get("f").getFunc().getName());
    assertEquals(6, call.getInputCount(), "the condition is no longer an input");
    assertTrue(r.rewrites().stream().anyMatch(w -> w.kind() == Rewrite.Kind.CONTROL_FLOW), r.rewrites().toString());
    assertEquals(1, r.folds().size(), "the BatchNorm in the branch taken folds: " + r.folds());
    assertEquals("then_fn", r.folds().get(0).fold().function());
    assertTrue(r.rounds() <= 3, "settles: " + r.rounds());
  }

  @Test
  void theElseBranchOfAStatefulIfIsAStatefulCallAndNothingFolds() {
    Pipeline.Result r = run(ifGraph("If", boolConst("cond", false)), Set.of());
    NodeDef call = new ModelGraph(r.graph(), List.of("out")).topLevel().node("if").orElseThrow();
    assertEquals("StatefulPartitionedCall", call.getOp());
    assertEquals("else_fn", call.getAttrMap().get("f").getFunc().getName());
    assertEquals(0, r.folds().size());
  }

  @Test
  void anIfOnAFedPlaceholderStays() {
    NodeDef flag = NodeDef.newBuilder().setName("cond").setOp("PlaceholderWithDefault").addInput("dflt")
        .putAttr("dtype", Nodes.type(DataType.DT_BOOL)).build();
    GraphDef g = ifGraph("StatelessIf", flag).toBuilder().addNode(boolConst("dflt", true)).build();
    Pipeline.Result unfed = run(g, Set.of());
    assertEquals("PartitionedCall", new ModelGraph(unfed.graph(), List.of("out")).topLevel().node("if").orElseThrow()
        .getOp(), "a default no signature overrides is a constant");
    Pipeline.Result fed = run(g, Set.of("cond"));
    assertEquals("StatelessIf", new ModelGraph(fed.graph(), List.of("out")).topLevel().node("if").orElseThrow()
        .getOp(), "a fed flag is the caller's");
  }

  /** TF1 tf.cond: Switch(x, pred) -> true: x * 2, false: x + 1 (a constant with a control edge from switch_t) -> Merge. */
  private static GraphDef tf1Cond(boolean pred) {
    AttrValue b = Nodes.type(DataType.DT_BOOL);
    return GraphDef.newBuilder()
        .addNode(NodeDef.newBuilder().setName("x").setOp("Placeholder").putAttr("dtype", F32))
        .addNode(boolConst("pred", pred))
        .addNode(NodeDef.newBuilder().setName("cond/Switch").setOp("Switch").addInput("pred").addInput("pred")
            .putAttr("T", b))
        .addNode(NodeDef.newBuilder().setName("cond/switch_t").setOp("Identity").addInput("cond/Switch:1")
            .putAttr("T", b))
        .addNode(NodeDef.newBuilder().setName("cond/sx").setOp("Switch").addInput("x").addInput("pred")
            .putAttr("T", F32))
        .addNode(constant("cond/two", new double[] {2}).toBuilder().addInput("^cond/switch_t"))
        .addNode(NodeDef.newBuilder().setName("cond/mul").setOp("Mul").addInput("cond/sx:1").addInput("cond/two")
            .putAttr("T", F32))
        .addNode(constant("cond/one", new double[] {1}))
        .addNode(NodeDef.newBuilder().setName("cond/add").setOp("AddV2").addInput("cond/sx").addInput("cond/one")
            .putAttr("T", F32))
        .addNode(NodeDef.newBuilder().setName("cond/Merge").setOp("Merge").addInput("cond/add").addInput("cond/mul")
            .putAttr("T", F32).putAttr("N", AttrValue.newBuilder().setI(2).build()))
        .addNode(NodeDef.newBuilder().setName("out").setOp("Identity").addInput("cond/Merge").putAttr("T", F32))
        .build();
  }

  @Test
  void aSwitchOnFalseKeepsTheFalseBranchAndRemovesTheTrueOneDeadThroughControlEdges() {
    Pipeline.Result r = run(tf1Cond(false), Set.of());
    ModelGraph g = new ModelGraph(r.graph(), List.of("out"));
    assertTrue(g.topLevel().node("cond/mul").isEmpty(), "the true branch is dead");
    assertTrue(g.topLevel().node("cond/two").isEmpty(), "dead through its control edge from switch_t");
    assertEquals("Identity", g.topLevel().node("cond/Merge").orElseThrow().getOp());
    assertEquals("cond/add", g.topLevel().node("cond/Merge").orElseThrow().getInput(0));
    assertTrue(r.graph().getNodeList().stream().noneMatch(n -> n.getOp().equals("Switch") || n.getOp().equals("Merge")),
        r.graph().toString());
  }

  @Test
  void aSwitchOnTrueKeepsTheTrueBranchReadThroughPortOne() {
    Pipeline.Result r = run(tf1Cond(true), Set.of());
    ModelGraph g = new ModelGraph(r.graph(), List.of("out"));
    assertTrue(g.topLevel().node("cond/add").isEmpty(), "the false branch is dead");
    NodeDef mul = g.topLevel().node("cond/mul").orElseThrow();
    assertEquals("cond/sx", mul.getInput(0), "port 1 of the resolved Switch is now output 0 of its Identity");
    assertEquals("Identity", g.topLevel().node("cond/sx").orElseThrow().getOp());
  }
}
