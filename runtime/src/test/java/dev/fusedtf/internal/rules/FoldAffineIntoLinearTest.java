package dev.fusedtf.internal.rules;

import static dev.fusedtf.internal.rules.RuleProtos.BETA;
import static dev.fusedtf.internal.rules.RuleProtos.DECOMPOSED_STATS;
import static dev.fusedtf.internal.rules.RuleProtos.EPS;
import static dev.fusedtf.internal.rules.RuleProtos.GAMMA;
import static dev.fusedtf.internal.rules.RuleProtos.MEAN;
import static dev.fusedtf.internal.rules.RuleProtos.VAR;
import static dev.fusedtf.internal.rules.RuleProtos.assertClose;
import static dev.fusedtf.internal.rules.RuleProtos.concat;
import static dev.fusedtf.internal.rules.RuleProtos.decomposedBn;
import static dev.fusedtf.internal.rules.RuleProtos.assertSettled;
import static dev.fusedtf.internal.rules.RuleProtos.assertSkip;
import static dev.fusedtf.internal.rules.RuleProtos.b;
import static dev.fusedtf.internal.rules.RuleProtos.bnScale;
import static dev.fusedtf.internal.rules.RuleProtos.callGraph;
import static dev.fusedtf.internal.rules.RuleProtos.constant;
import static dev.fusedtf.internal.rules.RuleProtos.conv2d;
import static dev.fusedtf.internal.rules.RuleProtos.foldedBias;
import static dev.fusedtf.internal.rules.RuleProtos.graph;
import static dev.fusedtf.internal.rules.RuleProtos.hasOp;
import static dev.fusedtf.internal.rules.RuleProtos.match;
import static dev.fusedtf.internal.rules.RuleProtos.matMul;
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
import dev.fusedtf.report.Rewrite;
import dev.fusedtf.report.SkipCode;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** Decomposed BatchNorms, Scales and bias adds written as arithmetic, folded into the linear op before them. */
class FoldAffineIntoLinearTest {
  private static final Rule RULE = new FoldAffineIntoLinear();
  private static final double[] BIAS = {0.5, -0.25, 1};
  private static final double[] W = seq(6, -0.5, 0.3); // [in=2, out=3]

  /** Keras Dense + BatchNormalization: BiasAdd(MatMul(x, w), bb), then the decomposed BN on {@code x}. */
  private static GraphDef denseBn(String bnInput) {
    return graph(concat(decomposedBn(bnInput), b(placeholder("x")), b(constant("w", W, 2, 3)),
        matMul("mm", "x", "w", false), b(constant("bb", BIAS, 3)), op("bias", "BiasAdd", "mm", "bb"),
        op("out", "Relu", "bn/add_1")));
  }

  @Test
  void decomposedBatchNormAfterDenseFoldsPerColumn() {
    Pipeline.Result r = run(RULE, denseBn("bias"), List.of("out"));
    GraphDef g = r.graph();
    double[] s = bnScale(GAMMA, VAR, EPS);
    double[] w = new double[6];
    for (int i = 0; i < 6; i++) {
      w[i] = W[i] * s[i % 3];
    }
    assertEquals("mm/folded_kernel", nodeOf(g, "mm").getInput(1));
    assertClose(w, value(nodeOf(g, "mm/folded_kernel")).values());
    NodeDef end = nodeOf(g, "bn/add_1");
    assertEquals("BiasAdd", end.getOp());
    assertEquals(List.of("mm", "bn/add_1/folded_bias"), end.getInputList());
    assertClose(foldedBias(BIAS, MEAN, BETA, s), value(nodeOf(g, "bn/add_1/folded_bias")).values());
    assertEquals("bn/add_1", nodeOf(g, "out").getInput(0));
    for (String gone : DECOMPOSED_STATS) {
      assertTrue(node(g, gone).isEmpty(), gone + " should be gone");
    }
    for (String gone : List.of("bn/mul_1", "bias", "bb", "w")) {
      assertTrue(node(g, gone).isEmpty(), gone + " should be gone");
    }
    assertEquals(List.of(new Fold("bn/add_1", "mm", "MatMul+BiasAdd+DecomposedBatchNorm", null, "fold-affine", null)),
        r.foldEntries());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  private static final double[] K = seq(12, -1, 0.2); // [2, 2, 1, 3] HWIO
  private static final double[] S = {2, -1, 0.5};
  private static final double[] T = {1, 0, -3};

  /** Caffe Scale: Mul(Conv2D(x, k), s) then {@code addOp}(.., t). */
  private static GraphDef convScale(String addOp) {
    return graph(b(placeholder("x")), b(constant("k", K, 2, 2, 1, 3)), conv2d("c", "x", "k", "VALID"),
        b(constant("s", S, 3)), op("mul", "Mul", "c", "s"), b(constant("t", T, 3)), op("add", addOp, "mul", "t"),
        op("out", "Relu", "add"));
  }

  @Test
  void scaleChainFoldsIntoConvKernelAndBecomesItsBias() {
    Pipeline.Result r = run(RULE, convScale("AddV2"), List.of("out"));
    double[] w = new double[K.length];
    for (int i = 0; i < w.length; i++) {
      w[i] = K[i] * S[i % 3];
    }
    assertClose(w, value(nodeOf(r.graph(), "c/folded_kernel")).values());
    assertClose(T, value(nodeOf(r.graph(), "add/folded_bias")).values());
    assertEquals("Conv2D+Scale(Mul+AddV2)", r.foldEntries().get(0).pattern());
    assertTrue(node(r.graph(), "mul").isEmpty());
  }

  @Test
  void subtractedShiftIsNegated() {
    Pipeline.Result r = run(RULE, convScale("Sub"), List.of("out"));
    assertClose(new double[] {-1, 0, 3}, value(nodeOf(r.graph(), "add/folded_bias")).values());
    assertEquals("Conv2D+Scale(Mul+Sub)", r.foldEntries().get(0).pattern());
  }

  @Test
  void biasAddedWithAddV2BecomesABiasAddRewriteNotAFold() {
    GraphDef g = graph(b(placeholder("x")), b(constant("k", K, 2, 2, 1, 3)), conv2d("c", "x", "k", "VALID"),
        b(constant("t", T, 3)), op("add", "AddV2", "c", "t"), op("out", "Relu", "add"));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    assertTrue(r.folds().isEmpty());
    assertEquals(1, r.rewrites().size());
    assertEquals(Rewrite.Kind.BIAS_INTO_LINEAR, r.rewrites().get(0).kind());
    assertEquals("BiasAdd", nodeOf(r.graph(), "add").getOp());
    assertClose(T, value(nodeOf(r.graph(), "add/folded_bias")).values());
    assertClose(K, value(nodeOf(r.graph(), "c/folded_kernel")).values());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void biasAddRightAfterTheConvIsAlreadyTheFoldedForm() {
    GraphDef g = graph(b(placeholder("x")), b(constant("k", K, 2, 2, 1, 3)), conv2d("c", "x", "k", "VALID"),
        b(constant("t", T, 3)), op("add", "BiasAdd", "c", "t"), op("out", "Relu", "add"));
    assertSame(Match.none(), match(RULE, g, List.of("out"), "add"));
  }

  @Test
  void decomposedBatchNormAfterAnActivationIsSkippedButAPlainScaleIsLeftSilently() {
    GraphDef afterRelu = with(denseBn("r"), op("r", "Relu", "bias"));
    assertSkip(match(RULE, afterRelu, List.of("out"), "bn/add_1"), SkipCode.ACTIVATION_BETWEEN,
        "decomposed BatchNorm not folded backward");
    GraphDef scaleAfterRelu = with(convScale("AddV2"), op("r", "Relu", "c"), op("mul", "Mul", "r", "s"));
    assertSame(Match.none(), match(RULE, scaleAfterRelu, List.of("out"), "add"));
  }

  @Test
  void trainingSwitchAndBatchStatisticsAreSkippedWithTheirCodes() {
    // the mean chosen at run time between batch moments and the moving mean by a bool placeholder the signature feeds
    GraphDef switchedMoments = with(denseBn("bias"),
        NodeDef.newBuilder().setName("training").setOp("Placeholder").putAttr("dtype", Nodes.type(DataType.DT_BOOL)),
        b(constant("moving_mean", MEAN, 3)), b(RuleProtos.intConst("axes", 0)), op("moments", "Mean", "bias", "axes"),
        op("mean", "Select", "training", "moments", "moving_mean"));
    assertSkip(match(RULE, switchedMoments, List.of("out"), Set.of("training"), "bn/add_1"), SkipCode.TRAINING_SWITCH,
        "training");
    // batch moments without a switch: tf.nn.moments over axis 0
    GraphDef moments = with(denseBn("bias"), b(RuleProtos.intConst("axes", 0)), op("mean", "Mean", "bias", "axes"));
    assertSkip(match(RULE, moments, List.of("out"), "bn/add_1"), SkipCode.BATCH_STATISTICS, "current batch");
  }

  @Test
  void fetchedMiddleNodeEndsTheChainThereAndTheFoldStopsAtIt() {
    // bn/mul_1 is fetched: the chain ending at bn/add_1 is only the add (nothing linear before it) ...
    List<String> fetch = List.of("out", "bn/mul_1");
    assertSkip(match(RULE, denseBn("bias"), fetch, "bn/add_1"), SkipCode.NO_LINEAR_OP, "'bn/mul_1'");
    // ... while the multiply folds into the MatMul under its own name, so the fetched tensor keeps its value
    Pipeline.Result r = run(RULE, denseBn("bias"), fetch);
    double[] s = bnScale(GAMMA, VAR, EPS);
    double[] b = new double[3];
    for (int c = 0; c < 3; c++) {
      b[c] = BIAS[c] * s[c];
    }
    NodeDef mul1 = nodeOf(r.graph(), "bn/mul_1");
    assertEquals("BiasAdd", mul1.getOp());
    assertClose(b, value(nodeOf(r.graph(), mul1.getInput(1))).values());
    assertEquals("bn/mul_1", r.foldEntries().get(0).bn());
    assertEquals("bn/mul_1", nodeOf(r.graph(), "bn/add_1").getInput(0));
  }

  @Test
  void linearOutputReadByAnotherNodeIsSkipped() {
    GraphDef twoReaders = with(denseBn("bias"), op("other", "Relu", "mm"));
    assertSkip(match(RULE, twoReaders, List.of("out", "other"), "bn/add_1"), SkipCode.MULTI_CONSUMER, "other");
  }

  @Test
  void scaleThatDoesNotMatchTheChannelsIsASkip() {
    GraphDef g = with(convScale("AddV2"), b(constant("s", new double[] {1, 2, 3, 4}, 4)),
        b(constant("t", new double[] {0, 0, 0, 0}, 4)));
    assertSkip(match(RULE, g, List.of("out"), "add"), SkipCode.SHAPE_MISMATCH, "3 channels");
  }

  @Test
  void scaleChainFoldsInsideAFunctionBodyWithWeightsAsArguments() {
    List<String> args = List.of("x", "k", "s", "t");
    FunctionDef fn = RuleProtos.function("fn", args, "add:z:0", conv2d("c", "x", "k", "VALID"),
        op("mul", "Mul", "c:output:0", "s"), op("add", "AddV2", "mul:z:0", "t"));
    GraphDef g = callGraph(fn, args, b(placeholder("x")), b(constant("k", K, 2, 2, 1, 3)), b(constant("s", S, 3)),
        b(constant("t", T, 3)));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    assertEquals(1, r.folds().size(), r.skips().toString());
    assertEquals("fn", r.foldEntries().get(0).function());
    FunctionDef out = RuleProtos.function(r.graph(), "fn");
    assertEquals("add:output:0", out.getRetMap().get("y"));
    assertEquals("BiasAdd", nodeOf(out, "add").getOp());
    assertTrue(out.getNodeDefList().stream().noneMatch(n -> n.getName().equals("mul")));
    double[] w = new double[K.length];
    for (int i = 0; i < w.length; i++) {
      w[i] = K[i] * S[i % 3];
    }
    assertClose(w, value(nodeOf(out, "c/folded_kernel")).values());
    assertClose(T, value(nodeOf(out, "add/folded_bias")).values());
    assertTrue(hasOp(r.graph(), "StatefulPartitionedCall"));
    assertSettled(List.of(RULE), r, List.of("out"));
  }
}
