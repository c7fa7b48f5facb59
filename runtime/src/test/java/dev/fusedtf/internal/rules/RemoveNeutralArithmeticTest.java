package dev.fusedtf.internal.rules;

import static dev.fusedtf.internal.rules.RuleProtos.assertSettled;
import static dev.fusedtf.internal.rules.RuleProtos.b;
import static dev.fusedtf.internal.rules.RuleProtos.callGraph;
import static dev.fusedtf.internal.rules.RuleProtos.constant;
import static dev.fusedtf.internal.rules.RuleProtos.graph;
import static dev.fusedtf.internal.rules.RuleProtos.match;
import static dev.fusedtf.internal.rules.RuleProtos.node;
import static dev.fusedtf.internal.rules.RuleProtos.nodeOf;
import static dev.fusedtf.internal.rules.RuleProtos.op;
import static dev.fusedtf.internal.rules.RuleProtos.placeholder;
import static dev.fusedtf.internal.rules.RuleProtos.run;
import static dev.fusedtf.internal.rules.RuleProtos.scalar;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
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

/** x * 1, x / 1, x + 0, x - 0 with a scalar constant removed; everything that is not exactly that stays. */
class RemoveNeutralArithmeticTest {
  private static final Rule RULE = new RemoveNeutralArithmetic();

  /** out = Relu(op(a, b)) over x = Placeholder and c = Const(value, shape). */
  private static GraphDef binary(String opName, String a, String b, double value, long... shape) {
    double[] v = new double[shape.length == 0 ? 1 : (int) java.util.Arrays.stream(shape).reduce(1, (p, q) -> p * q)];
    java.util.Arrays.fill(v, value);
    return graph(b(placeholder("x")), b(constant("c", v, shape)), op("n", opName, a, b), op("out", "Relu", "n"));
  }

  @Test
  void multiplyByScalarOneBecomesAnIdentityOfTheData() {
    Pipeline.Result r = run(RULE, binary("Mul", "c", "x", 1), List.of("out"));
    NodeDef n = nodeOf(r.graph(), "n");
    assertEquals("Identity", n.getOp());
    assertEquals(List.of("x"), n.getInputList());
    assertTrue(node(r.graph(), "c").isEmpty(), "the constant goes");
    assertEquals("n", nodeOf(r.graph(), "out").getInput(0));
    Rewrite w = r.rewrites().get(0);
    assertEquals(Rewrite.Kind.PRUNE, w.kind());
    assertEquals("remove-neutral-arithmetic", w.rule());
    assertEquals(List.of("n"), w.nodes());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void neutralOperandOnTheRightOfEveryOpIsRemoved() {
    for (String[] c : new String[][] {{"RealDiv", "1"}, {"AddV2", "0"}, {"Add", "0"}, {"Sub", "0"}, {"Mul", "1"}}) {
      Match m = match(RULE, binary(c[0], "x", "c", Double.parseDouble(c[1])), List.of("out"), "n");
      assertInstanceOf(Plan.class, m, c[0]);
    }
  }

  @Test
  void whatIsNotExactlyNeutralStays() {
    assertSame(Match.none(), match(RULE, binary("Sub", "c", "x", 0), List.of("out"), "n"), "0 - x negates");
    assertSame(Match.none(), match(RULE, binary("RealDiv", "c", "x", 1), List.of("out"), "n"), "1 / x inverts");
    assertSame(Match.none(), match(RULE, binary("Mul", "x", "c", 2), List.of("out"), "n"), "x * 2");
    assertSame(Match.none(), match(RULE, binary("AddV2", "x", "c", 0, 1), List.of("out"), "n"),
        "a [1]-shaped zero broadcasts a scalar x to rank 1");
    assertSame(Match.none(), match(RULE, binary("Mul", "x", "c", 1), List.of("out", "n"), "n"), "fetched");
    GraphDef ints = graph(b(placeholder("x")), b(scalar("c", 1)),
        op("n", "Mul", "x", "c").putAttr("T", Nodes.type(DataType.DT_INT32)), op("out", "Identity", "n"));
    assertSame(Match.none(), match(RULE, ints, List.of("out"), "n"), "only float arithmetic");
    GraphDef bothConstant = graph(b(scalar("x", 3)), b(scalar("c", 1)), op("n", "Mul", "x", "c"),
        op("out", "Identity", "n"));
    assertSame(Match.none(), match(RULE, bothConstant, List.of("out"), "n"), "constant folding is not this rule");
  }

  @Test
  void removedInsideAFunctionBodyWithTheConstantAnArgument() {
    List<String> args = List.of("x", "one");
    FunctionDef fn = RuleProtos.function("fn", args, "n:z:0", op("n", "Mul", "x", "one"));
    GraphDef g = callGraph(fn, args, b(placeholder("x")), b(scalar("one", 1)));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    FunctionDef out = RuleProtos.function(r.graph(), "fn");
    assertEquals("Identity", nodeOf(out, "n").getOp());
    assertEquals(List.of("x"), nodeOf(out, "n").getInputList());
    assertEquals("n:output:0", out.getRetMap().get("y"));
    assertEquals("fn", r.rewrites().get(0).function());
  }
}
