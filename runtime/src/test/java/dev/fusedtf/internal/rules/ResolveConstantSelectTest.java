package dev.fusedtf.internal.rules;

import static dev.fusedtf.internal.rules.RuleProtos.assertSettled;
import static dev.fusedtf.internal.rules.RuleProtos.b;
import static dev.fusedtf.internal.rules.RuleProtos.boolConst;
import static dev.fusedtf.internal.rules.RuleProtos.callGraph;
import static dev.fusedtf.internal.rules.RuleProtos.graph;
import static dev.fusedtf.internal.rules.RuleProtos.intConst;
import static dev.fusedtf.internal.rules.RuleProtos.match;
import static dev.fusedtf.internal.rules.RuleProtos.node;
import static dev.fusedtf.internal.rules.RuleProtos.nodeOf;
import static dev.fusedtf.internal.rules.RuleProtos.op;
import static dev.fusedtf.internal.rules.RuleProtos.placeholder;
import static dev.fusedtf.internal.rules.RuleProtos.run;
import static dev.fusedtf.internal.rules.RuleProtos.scalar;
import static dev.fusedtf.internal.rules.RuleProtos.with;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.report.Rewrite;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;

/** Select/SelectV2 on a constant condition resolved to an Identity of the branch it picks. */
class ResolveConstantSelectTest {
  private static final Rule RULE = new ResolveConstantSelect();

  private static NodeDef.Builder flag(String name, String dflt) {
    return NodeDef.newBuilder().setName(name).setOp("PlaceholderWithDefault").addInput(dflt)
        .putAttr("dtype", Nodes.type(DataType.DT_BOOL));
  }

  /** The tf.layers training switch: mean = Select(cond, Mean(x, [0]) (batch), moving). */
  private static GraphDef trainingSwitch(NodeDef.Builder... cond) {
    GraphDef g = graph(b(placeholder("x")), b(intConst("axes", 0)), op("batch", "Mean", "x", "axes"),
        b(RuleProtos.constant("moving", new double[] {1, 2, 3}, 3)), op("sel", "Select", "cond", "batch", "moving"),
        op("out", "Mul", "x", "sel"));
    return with(g, cond);
  }

  @Test
  void selectOnFalseBecomesAnIdentityOfItsElseBranchAndTheBatchMomentsGo() {
    Pipeline.Result r = run(RULE, trainingSwitch(b(boolConst("cond", false))), List.of("out"));
    NodeDef sel = nodeOf(r.graph(), "sel");
    assertEquals("Identity", sel.getOp());
    assertEquals(List.of("moving"), sel.getInputList());
    for (String gone : List.of("batch", "axes", "cond")) {
      assertTrue(node(r.graph(), gone).isEmpty(), gone + " should be gone");
    }
    Rewrite w = r.rewrites().get(0);
    assertEquals(Rewrite.Kind.CONTROL_FLOW, w.kind());
    assertEquals(List.of("sel"), w.nodes());
    assertTrue(w.detail().contains("else"), w.detail());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void selectOnTrueKeepsTheThenBranch() {
    Pipeline.Result r = run(RULE, trainingSwitch(b(boolConst("cond", true))), List.of("out"));
    assertEquals(List.of("batch"), nodeOf(r.graph(), "sel").getInputList());
    assertTrue(node(r.graph(), "moving").isEmpty());
  }

  @Test
  void defaultOfAnUnfedPlaceholderIsAConstantButAFedOneIsTheCallers() {
    GraphDef g = trainingSwitch(b(boolConst("dflt", false)), flag("cond", "dflt"));
    assertEquals(1, run(RULE, g, List.of("out")).rewrites().size());
    assertSame(Match.none(), match(RULE, g, List.of("out"), Set.of("cond"), "sel"));
  }

  @Test
  void elementWiseOrUnknownConditionOrFetchedSelectStays() {
    NodeDef.Builder perElement = b(RuleProtos.boolConst("cond", false)).putAttr("value",
        org.tensorflow.proto.AttrValue.newBuilder().setTensor(TensorProto.newBuilder().setDtype(DataType.DT_BOOL)
            .setTensorShape(TensorCodec.shapeProto(new long[] {3})).addBoolVal(false).addBoolVal(true)
            .addBoolVal(false)).build());
    assertSame(Match.none(), match(RULE, trainingSwitch(perElement), List.of("out"), "sel"));
    NodeDef.Builder unknown = NodeDef.newBuilder().setName("cond").setOp("Placeholder")
        .putAttr("dtype", Nodes.type(DataType.DT_BOOL));
    assertSame(Match.none(), match(RULE, trainingSwitch(unknown), List.of("out"), Set.of("cond"), "sel"));
    assertSame(Match.none(), match(RULE, trainingSwitch(b(boolConst("cond", false))), List.of("out", "sel"), "sel"));
  }

  /**
   * SelectV2 broadcasts its condition with both branches, so a [1, 1] condition over scalar branches yields a
   * [1, 1] tensor. The rule's own contract asks for a scalar condition; an Identity of a branch would be rank 0.
   */
  @Test
  void sizeOneConditionOfHigherRankIsNotTreatedAsAScalar() {
    NodeDef.Builder cond11 = b(boolConst("cond", false)).putAttr("value",
        org.tensorflow.proto.AttrValue.newBuilder().setTensor(TensorProto.newBuilder().setDtype(DataType.DT_BOOL)
            .setTensorShape(TensorCodec.shapeProto(new long[] {1, 1})).addBoolVal(false)).build());
    GraphDef g = graph(b(scalar("a", 1)), b(placeholder("x")), cond11, op("sel", "SelectV2", "cond", "a", "x"),
        op("out", "Identity", "sel"));
    assertSame(Match.none(), match(RULE, g, List.of("out"), "sel"));
  }

  @Test
  void resolvedInsideAFunctionBodyOnAConstantOfTheBody() {
    List<String> args = List.of("x", "moving");
    FunctionDef fn = RuleProtos.function("fn", args, "sel:output:0", b(boolConst("cond", false)),
        op("sel", "SelectV2", "cond:output:0", "x", "moving"));
    GraphDef g = callGraph(fn, args, b(placeholder("x")), b(RuleProtos.constant("moving", new double[] {1, 2, 3}, 3)));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    FunctionDef out = RuleProtos.function(r.graph(), "fn");
    assertEquals("Identity", nodeOf(out, "sel").getOp());
    assertEquals(List.of("moving"), nodeOf(out, "sel").getInputList());
    assertTrue(out.getNodeDefList().stream().noneMatch(n -> n.getName().equals("cond")), "the condition goes");
    assertEquals("fn", r.rewrites().get(0).function());
  }

  @Test
  void conditionPassedAsAFunctionArgumentIsNotFollowedToItsCallSite() {
    List<String> args = List.of("x", "cond", "moving");
    FunctionDef fn = RuleProtos.function("fn", args, "sel:output:0", op("sel", "SelectV2", "cond", "x", "moving"));
    GraphDef g = callGraph(fn, args, b(placeholder("x")), b(boolConst("cond", false)),
        b(RuleProtos.constant("moving", new double[] {1, 2, 3}, 3)));
    assertTrue(run(RULE, g, List.of("out")).rewrites().isEmpty(), "today's limit: flags are read in their own body");
  }
}
