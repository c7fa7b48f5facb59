package dev.fusedtf.internal.rules;

import static dev.fusedtf.internal.rules.RuleProtos.BETA;
import static dev.fusedtf.internal.rules.RuleProtos.DECOMPOSED_STATS;
import static dev.fusedtf.internal.rules.RuleProtos.EPS;
import static dev.fusedtf.internal.rules.RuleProtos.GAMMA;
import static dev.fusedtf.internal.rules.RuleProtos.MEAN;
import static dev.fusedtf.internal.rules.RuleProtos.VAR;
import static dev.fusedtf.internal.rules.RuleProtos.assertClose;
import static dev.fusedtf.internal.rules.RuleProtos.assertSettled;
import static dev.fusedtf.internal.rules.RuleProtos.b;
import static dev.fusedtf.internal.rules.RuleProtos.bnScale;
import static dev.fusedtf.internal.rules.RuleProtos.boolConst;
import static dev.fusedtf.internal.rules.RuleProtos.callGraph;
import static dev.fusedtf.internal.rules.RuleProtos.concat;
import static dev.fusedtf.internal.rules.RuleProtos.constant;
import static dev.fusedtf.internal.rules.RuleProtos.conv2d;
import static dev.fusedtf.internal.rules.RuleProtos.decomposedBn;
import static dev.fusedtf.internal.rules.RuleProtos.graph;
import static dev.fusedtf.internal.rules.RuleProtos.intConst;
import static dev.fusedtf.internal.rules.RuleProtos.match;
import static dev.fusedtf.internal.rules.RuleProtos.node;
import static dev.fusedtf.internal.rules.RuleProtos.nodeOf;
import static dev.fusedtf.internal.rules.RuleProtos.op;
import static dev.fusedtf.internal.rules.RuleProtos.placeholder;
import static dev.fusedtf.internal.rules.RuleProtos.run;
import static dev.fusedtf.internal.rules.RuleProtos.seq;
import static dev.fusedtf.internal.rules.RuleProtos.value;
import static dev.fusedtf.internal.rules.RuleProtos.with;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.report.Fold;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** A decomposed BatchNorm with nothing linear to fold into, reduced to one Mul and one AddV2 of constants. */
class PrecomputeBatchNormStatisticsTest {
  private static final Rule RULE = new PrecomputeBatchNormStatistics();

  /** x -> Relu(r) -> decomposed BN -> Relu(out). */
  private static GraphDef afterRelu() {
    return graph(concat(decomposedBn("r"), b(placeholder("x")), op("r", "Relu", "x"), op("out", "Relu", "bn/add_1")));
  }

  private static double[] shift(double[] s) {
    double[] t = new double[s.length];
    for (int c = 0; c < s.length; c++) {
      t[c] = BETA[c] - MEAN[c] * s[c];
    }
    return t;
  }

  @Test
  void statisticsArithmeticBecomesOneMulAndOneAddOfConstants() {
    Pipeline.Result r = run(RULE, afterRelu(), List.of("out"));
    GraphDef g = r.graph();
    double[] s = bnScale(GAMMA, VAR, EPS);
    NodeDef mul = nodeOf(g, "bn/mul_1");
    assertEquals("Mul", mul.getOp());
    assertEquals(List.of("r", "bn/mul_1/folded_scale"), mul.getInputList());
    assertClose(s, value(nodeOf(g, "bn/mul_1/folded_scale")).values());
    NodeDef add = nodeOf(g, "bn/add_1");
    assertEquals("AddV2", add.getOp());
    assertEquals(List.of("bn/mul_1", "bn/add_1/folded_shift"), add.getInputList());
    assertClose(shift(s), value(nodeOf(g, "bn/add_1/folded_shift")).values());
    assertEquals("bn/add_1", nodeOf(g, "out").getInput(0));
    for (String gone : DECOMPOSED_STATS) {
      assertTrue(node(g, gone).isEmpty(), gone + " should be gone");
    }
    assertEquals(1, r.folds().size());
    Fold f = r.foldEntries().get(0);
    assertEquals("bn/add_1", f.bn());
    assertEquals("bn/mul_1", f.into());
    assertEquals("precompute-batchnorm", f.rule());
    assertTrue(f.pattern().startsWith("DecomposedBatchNorm->Mul+AddV2 (statistics precomputed; "), f.pattern());
    assertTrue(f.pattern().contains("Relu"), "says why it could not fold: " + f.pattern());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void batchNormAfterALinearOpIsLeftToTheBackwardFold() {
    GraphDef g = with(afterRelu(), b(constant("k", seq(9, 1, 1), 1, 1, 3, 3)), conv2d("r", "x", "k", "VALID"));
    assertSame(Match.none(), match(RULE, g, List.of("out"), "bn/add_1"));
  }

  @Test
  void switchOnAnUnfedFlagIsPrecomputedAwayButAFedOneStays() {
    // tf.layers: mean = Select(training, batch_mean, moving_mean) with training = PlaceholderWithDefault(false)
    GraphDef g = with(afterRelu(), b(boolConst("false", false)),
        NodeDef.newBuilder().setName("training").setOp("PlaceholderWithDefault").addInput("false")
            .putAttr("dtype", Nodes.type(DataType.DT_BOOL)),
        b(intConst("axes", 0)), op("moments", "Mean", "r", "axes"), b(constant("moving_mean", MEAN, 3)),
        op("mean", "Select", "training", "moments", "moving_mean"));
    Pipeline.Result unfed = run(RULE, g, List.of("out"));
    assertEquals(1, unfed.folds().size());
    assertClose(shift(bnScale(GAMMA, VAR, EPS)), value(nodeOf(unfed.graph(), "bn/add_1/folded_shift")).values());
    for (String gone : List.of("mean", "moments", "moving_mean")) {
      assertTrue(node(unfed.graph(), gone).isEmpty(), gone + " should be gone");
    }
    Pipeline.Result fed = run(List.of(RULE), g, List.of("out"), Set.of("training"));
    assertTrue(fed.folds().isEmpty(), "a fed training flag is the caller's: " + fed.folds());
    assertEquals(g, fed.graph());
  }

  @Test
  void precomputesInsideAFunctionBodyWithStatisticsAsArguments() {
    List<String> args = List.of("x", "var", "eps", "gamma", "mean", "beta");
    FunctionDef fn = RuleProtos.function("fn", args, "bn/add_1:z:0", op("r", "Relu", "x"),
        op("bn/add", "AddV2", "var", "eps"), op("bn/Rsqrt", "Rsqrt", "bn/add:z:0"),
        op("bn/mul", "Mul", "bn/Rsqrt:y:0", "gamma"), op("bn/mul_1", "Mul", "r:activations:0", "bn/mul:z:0"),
        op("bn/mul_2", "Mul", "mean", "bn/mul:z:0"), op("bn/sub", "Sub", "beta", "bn/mul_2:z:0"),
        op("bn/add_1", "AddV2", "bn/mul_1:z:0", "bn/sub:z:0"));
    NodeDef.Builder[] stats = java.util.Arrays.copyOf(decomposedBn("unused"), 5); // the five constants
    GraphDef g = callGraph(fn, args, concat(stats, b(placeholder("x"))));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    assertEquals(1, r.folds().size(), r.skips().toString());
    assertEquals("fn", r.foldEntries().get(0).function());
    FunctionDef out = RuleProtos.function(r.graph(), "fn");
    assertEquals("bn/add_1:z:0", out.getRetMap().get("y"));
    assertEquals(List.of("r:activations:0", "bn/mul_1/folded_scale:output:0"), nodeOf(out, "bn/mul_1").getInputList());
    assertClose(shift(bnScale(GAMMA, VAR, EPS)), value(nodeOf(out, "bn/add_1/folded_shift")).values());
    assertTrue(out.getNodeDefList().stream().noneMatch(n -> n.getOp().equals("Rsqrt")), out.toString());
    assertSettled(List.of(RULE), r, List.of("out"));
  }
}
