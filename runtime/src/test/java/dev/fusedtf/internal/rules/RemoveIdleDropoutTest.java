package dev.fusedtf.internal.rules;

import static dev.fusedtf.internal.rules.RuleProtos.assertSettled;
import static dev.fusedtf.internal.rules.RuleProtos.b;
import static dev.fusedtf.internal.rules.RuleProtos.callGraph;
import static dev.fusedtf.internal.rules.RuleProtos.constant;
import static dev.fusedtf.internal.rules.RuleProtos.graph;
import static dev.fusedtf.internal.rules.RuleProtos.hasOp;
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
import dev.fusedtf.report.Rewrite;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** A dropout whose mask is provably all ones (keep_prob 1, rate 0) removed exactly. */
class RemoveIdleDropoutTest {
  private static final Rule RULE = new RemoveIdleDropout();

  private static NodeDef.Builder randomUniform(String name, String shape) {
    return NodeDef.newBuilder().setName(name).setOp("RandomUniform").addInput(shape)
        .putAttr("dtype", Nodes.type(DataType.DT_FLOAT)).putAttr("T", Nodes.type(DataType.DT_INT32));
  }

  /** TF1 tf.nn.dropout: mul = RealDiv(h, kp) * Floor(kp + RandomUniform(Shape(h))). */
  private static GraphDef tf1Dropout(double keepProb) {
    return graph(b(placeholder("x")), op("h", "Relu", "x"), b(scalar("kp", keepProb)),
        op("shape", "Shape", "h").putAttr("out_type", Nodes.type(DataType.DT_INT32)), randomUniform("ru", "shape"),
        op("add", "Add", "kp", "ru"), op("floor", "Floor", "add"), op("div", "RealDiv", "h", "kp"),
        op("mul", "Mul", "div", "floor"), op("out", "Identity", "mul"));
  }

  @Test
  void tf1DropoutWithKeepProbOneBecomesAnIdentityAndTheRandomOpGoes() {
    Pipeline.Result r = run(RULE, tf1Dropout(1), List.of("out"));
    NodeDef mul = nodeOf(r.graph(), "mul");
    assertEquals("Identity", mul.getOp());
    assertEquals(List.of("div"), mul.getInputList());
    for (String gone : List.of("floor", "add", "ru", "shape")) {
      assertTrue(node(r.graph(), gone).isEmpty(), gone + " should be gone");
    }
    assertTrue(node(r.graph(), "kp").isPresent(), "still read by the RealDiv");
    assertEquals(1, r.rewrites().size());
    Rewrite w = r.rewrites().get(0);
    assertEquals(Rewrite.Kind.DROPOUT, w.kind());
    assertEquals(List.of("mul", "ru"), w.nodes());
    assertEquals("remove-dropout", w.rule());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void tf2DropoutWithRateZeroIsRemovedToo() {
    // tf.nn.dropout (TF 1.13+): x * (1 / (1 - rate)) * Cast(RandomUniform(Shape(x)) >= rate)
    GraphDef g = graph(b(placeholder("x")), b(scalar("rate", 0)), b(scalar("scale", 1)),
        op("shape", "Shape", "x").putAttr("out_type", Nodes.type(DataType.DT_INT32)), randomUniform("ru", "shape"),
        op("ge", "GreaterEqual", "ru", "rate"),
        op("cast", "Cast", "ge").putAttr("SrcT", Nodes.type(DataType.DT_BOOL)).putAttr("DstT", Nodes.type(DataType.DT_FLOAT)),
        op("scaled", "Mul", "x", "scale"), op("mul", "Mul", "scaled", "cast"), op("out", "Identity", "mul"));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    assertEquals(List.of("scaled"), nodeOf(r.graph(), "mul").getInputList());
    assertTrue(!hasOp(r.graph(), "RandomUniform") && !hasOp(r.graph(), "GreaterEqual"), r.graph().toString());
  }

  @Test
  void aDropoutThatDropsSomethingOrUsesANoiseShapeOrIsFetchedStays() {
    assertSame(Match.none(), match(RULE, tf1Dropout(0.5), List.of("out"), "mul"), "keep_prob 0.5 drops elements");
    GraphDef noiseShape = with(tf1Dropout(1), b(intConst("noise", 1, 3)), randomUniform("ru", "noise"));
    assertSame(Match.none(), match(RULE, noiseShape, List.of("out"), "mul"), "a noise shape broadcasts the mask");
    assertSame(Match.none(), match(RULE, tf1Dropout(1), List.of("out", "mul"), "mul"), "fetched");
  }

  @Test
  void removedInsideAFunctionBody() {
    List<String> args = List.of("x", "kp");
    FunctionDef fn = RuleProtos.function("fn", args, "mul:z:0",
        op("shape", "Shape", "x").putAttr("out_type", Nodes.type(DataType.DT_INT32)),
        randomUniform("ru", "shape:output:0"), op("add", "Add", "kp", "ru:output:0"), op("floor", "Floor", "add:z:0"),
        op("mul", "Mul", "x", "floor:y:0"));
    GraphDef g = callGraph(fn, args, b(placeholder("x")), b(constant("kp", new double[] {1})));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    assertEquals(1, r.rewrites().size());
    FunctionDef out = RuleProtos.function(r.graph(), "fn");
    assertEquals("mul:output:0", out.getRetMap().get("y"));
    assertEquals("Identity", nodeOf(out, "mul").getOp());
    assertTrue(out.getNodeDefList().stream().noneMatch(n -> n.getOp().equals("RandomUniform")), out.toString());
  }
}
