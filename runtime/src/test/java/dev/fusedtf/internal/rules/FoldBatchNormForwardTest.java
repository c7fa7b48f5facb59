package dev.fusedtf.internal.rules;

import static dev.fusedtf.internal.rules.RuleProtos.EPS;
import static dev.fusedtf.internal.rules.RuleProtos.GAMMA;
import static dev.fusedtf.internal.rules.RuleProtos.BETA;
import static dev.fusedtf.internal.rules.RuleProtos.MEAN;
import static dev.fusedtf.internal.rules.RuleProtos.VAR;
import static dev.fusedtf.internal.rules.RuleProtos.assertClose;
import static dev.fusedtf.internal.rules.RuleProtos.assertSettled;
import static dev.fusedtf.internal.rules.RuleProtos.assertSkip;
import static dev.fusedtf.internal.rules.RuleProtos.b;
import static dev.fusedtf.internal.rules.RuleProtos.bnScale;
import static dev.fusedtf.internal.rules.RuleProtos.bool;
import static dev.fusedtf.internal.rules.RuleProtos.callGraph;
import static dev.fusedtf.internal.rules.RuleProtos.constant;
import static dev.fusedtf.internal.rules.RuleProtos.conv2d;
import static dev.fusedtf.internal.rules.RuleProtos.depthwise;
import static dev.fusedtf.internal.rules.RuleProtos.fusedBn;
import static dev.fusedtf.internal.rules.RuleProtos.graph;
import static dev.fusedtf.internal.rules.RuleProtos.ints;
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
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.report.Fold;
import dev.fusedtf.report.SkipCode;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** A BatchNorm folded forward into the conv / matmul that reads it (pre-activation nets), on pure protos. */
class FoldBatchNormForwardTest {
  private static final Rule RULE = new FoldBatchNormForward();
  private static final double[] BIAS = {0.5, -0.25};

  private static double[] s() {
    return bnScale(GAMMA, VAR, EPS);
  }

  private static double[] t() {
    double[] s = s();
    double[] t = new double[3];
    for (int c = 0; c < 3; c++) {
      t[c] = BETA[c] - MEAN[c] * s[c];
    }
    return t;
  }

  /** r = Relu(x); bn = FusedBatchNormV3(r); c = Conv2D(bn, k[2, 2, 3, 2]) {padding}; [bias = BiasAdd(c)]; out. */
  private static GraphDef bnConv(String padding, boolean withBias) {
    GraphDef g = graph(b(placeholder("x")), op("r", "Relu", "x"), b(constant("g", GAMMA, 3)),
        b(constant("beta", BETA, 3)), b(constant("m", MEAN, 3)), b(constant("v", VAR, 3)),
        fusedBn("bn", "r", "g", "beta", "m", "v", EPS), b(constant("k", seq(24, -1, 0.1), 2, 2, 3, 2)),
        conv2d("c", "bn", "k", padding));
    return withBias ? with(g, b(constant("bb", BIAS, 2)), op("bias", "BiasAdd", "c", "bb"), op("out", "Relu", "bias"))
        : with(g, op("out", "Relu", "c"));
  }

  /** Expected forward kernel W * s[in] of a [H, W, in, out] kernel, and the constant term per output channel. */
  private static double[][] forward(double[] w, int in, int out, double[] bias) {
    double[] s = s();
    double[] t = t();
    double[] nw = new double[w.length];
    double[] extra = bias == null ? new double[out] : bias.clone();
    for (int i = 0; i < w.length; i++) {
      int ci = (i / out) % in;
      int co = i % out;
      nw[i] = w[i] * s[ci];
      extra[co] += t[ci] * w[i];
    }
    return new double[][] {nw, extra};
  }

  @Test
  void batchNormBeforeAValidConvFoldsIntoItsKernelAndTheFollowingBias() {
    Pipeline.Result r = run(RULE, bnConv("VALID", true), List.of("out"));
    GraphDef g = r.graph();
    double[][] expected = forward(seq(24, -1, 0.1), 3, 2, BIAS);
    NodeDef conv = nodeOf(g, "c");
    assertEquals(List.of("r", "c/forward_kernel"), conv.getInputList(), "the conv reads the BatchNorm's input");
    assertClose(expected[0], value(nodeOf(g, "c/forward_kernel")).values());
    assertEquals("bias/forward_bias", nodeOf(g, "bias").getInput(1));
    assertClose(expected[1], value(nodeOf(g, "bias/forward_bias")).values());
    for (String gone : List.of("bn", "g", "beta", "m", "v", "k", "bb")) {
      assertTrue(node(g, gone).isEmpty(), gone + " should be gone");
    }
    assertEquals(List.of(new Fold("bn", "c", "FusedBatchNormV3->Conv2D (forward)", null, "fold-forward", null)),
        r.foldEntries());
    assertEquals("bias", r.folds().get(0).checkNode());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void withoutABiasAddTheConvIsRenamedAndABiasAddTakesItsName() {
    Pipeline.Result r = run(RULE, bnConv("VALID", false), List.of("out"));
    GraphDef g = r.graph();
    NodeDef c = nodeOf(g, "c");
    assertEquals("BiasAdd", c.getOp());
    assertEquals(List.of("c/forward_folded", "c/forward_bias"), c.getInputList());
    assertEquals("Conv2D", nodeOf(g, "c/forward_folded").getOp());
    assertClose(forward(seq(24, -1, 0.1), 3, 2, null)[1], value(nodeOf(g, "c/forward_bias")).values());
    assertEquals("c", nodeOf(g, "out").getInput(0));
    assertEquals("c", r.folds().get(0).checkNode());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void paddedConvWithALargerKernelIsSkippedButA1x1OrZeroExplicitPaddingFolds() {
    assertSkip(match(RULE, bnConv("SAME", true), List.of("out"), "bn"), SkipCode.PADDING, "SAME padding with a 2x2");
    GraphDef explicit = with(bnConv("EXPLICIT", true),
        conv2d("c", "bn", "k", "EXPLICIT").putAttr("explicit_paddings", ints(0, 0, 1, 1, 1, 1, 0, 0)));
    assertSkip(match(RULE, explicit, List.of("out"), "bn"), SkipCode.PADDING, "EXPLICIT");
    GraphDef zeroExplicit = with(explicit,
        conv2d("c", "bn", "k", "EXPLICIT").putAttr("explicit_paddings", ints(0, 0, 0, 0, 0, 0, 0, 0)));
    assertInstanceOf(Plan.class, match(RULE, zeroExplicit, List.of("out"), "bn"));
    GraphDef oneByOne = with(bnConv("SAME", true), b(constant("k", seq(6, 1, 1), 1, 1, 3, 2)));
    Pipeline.Result r = run(RULE, oneByOne, List.of("out"));
    assertClose(forward(seq(6, 1, 1), 3, 2, BIAS)[1], value(nodeOf(r.graph(), "bias/forward_bias")).values());
  }

  @Test
  void matMulWithTransposeBFoldsPerInputColumn() {
    double[] w = seq(6, -0.5, 0.3); // [out=2, in=3]
    GraphDef g = with(bnConv("VALID", true), b(constant("k", w, 2, 3)), matMul("c", "bn", "k", true));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    double[] s = s();
    double[] t = t();
    double[] nw = new double[6];
    double[] extra = BIAS.clone();
    for (int o = 0; o < 2; o++) {
      for (int i = 0; i < 3; i++) {
        nw[o * 3 + i] = w[o * 3 + i] * s[i];
        extra[o] += t[i] * w[o * 3 + i];
      }
    }
    assertClose(nw, value(nodeOf(r.graph(), "c/forward_kernel")).values());
    assertClose(extra, value(nodeOf(r.graph(), "bias/forward_bias")).values());
    assertEquals("FusedBatchNormV3->MatMul (forward)", r.foldEntries().get(0).pattern());
  }

  @Test
  void depthwiseFoldsPerInputChannelIntoEveryMultiplier() {
    double[] w = seq(2 * 2 * 3 * 2, 0.5, -0.1); // [2, 2, in=3, mult=2]: 6 outputs c*2+m
    GraphDef g = with(bnConv("VALID", false), b(constant("k", w, 2, 2, 3, 2)), depthwise("c", "bn", "k", "VALID"));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    double[] s = s();
    double[] t = t();
    double[] nw = new double[w.length];
    double[] extra = new double[6];
    for (int i = 0; i < w.length; i++) {
      int c = (i / 2) % 3;
      nw[i] = w[i] * s[c];
      extra[c * 2 + i % 2] += t[c] * w[i];
    }
    assertClose(nw, value(nodeOf(r.graph(), "c/forward_kernel")).values());
    assertClose(extra, value(nodeOf(r.graph(), "c/forward_bias")).values());
  }

  @Test
  void guardsAreTypedSkips() {
    GraphDef transposeA = with(bnConv("VALID", true), b(constant("k", seq(6, 1, 1), 3, 2)),
        matMul("c", "bn", "k", false).putAttr("transpose_a", bool(true)));
    assertSkip(match(RULE, transposeA, List.of("out"), "bn"), SkipCode.UNSUPPORTED, "transposes its input");
    GraphDef nchw = with(bnConv("VALID", true),
        conv2d("c", "bn", "k", "VALID").putAttr("data_format", Nodes.string("NCHW")));
    assertSkip(match(RULE, nchw, List.of("out"), "bn"), SkipCode.LAYOUT_MISMATCH, "channels-first");
    GraphDef fedKernel = with(bnConv("VALID", true), b(placeholder("k")));
    assertSkip(match(RULE, fedKernel, List.of("out"), Set.of("k"), "bn"), SkipCode.NOT_CONSTANT, "kernel unknown");
    GraphDef fourIn = with(bnConv("VALID", true), b(constant("k", seq(16, 1, 1), 2, 2, 4, 1)));
    assertSkip(match(RULE, fourIn, List.of("out"), "bn"), SkipCode.SHAPE_MISMATCH, "4 input channels");
    assertSkip(match(RULE, bnConv("VALID", true), List.of("out", "bn"), "bn"), SkipCode.FETCHED, "BatchNorm is fetched");
    assertSkip(match(RULE, bnConv("VALID", false), List.of("out", "c"), "bn"), SkipCode.FETCHED, "no BiasAdd");
  }

  @Test
  void batchNormReadByTwoConvsOrAsAKernelOrInTrainingModeIsNotMatched() {
    GraphDef twoConvs = with(bnConv("VALID", true), conv2d("c2", "bn", "k", "VALID"), op("out2", "Relu", "c2"));
    assertSame(Match.none(), match(RULE, twoConvs, List.of("out", "out2"), "bn"));
    GraphDef asKernel = with(bnConv("VALID", true), conv2d("c", "k", "bn", "VALID"));
    assertSame(Match.none(), match(RULE, asKernel, List.of("out"), "bn"));
    GraphDef training = with(bnConv("VALID", true),
        fusedBn("bn", "r", "g", "beta", "m", "v", EPS).putAttr("is_training", bool(true)));
    assertSame(Match.none(), match(RULE, training, List.of("out"), "bn"));
  }

  @Test
  void foldsForwardInsideAFunctionBody() {
    List<String> args = List.of("x", "g", "beta", "m", "v", "k", "bb");
    FunctionDef fn = RuleProtos.function("fn", args, "bias:output:0", op("r", "Relu", "x"),
        fusedBn("bn", "r:activations:0", "g", "beta", "m", "v", EPS), conv2d("c", "bn:y:0", "k", "VALID"),
        op("bias", "BiasAdd", "c:output:0", "bb"));
    GraphDef g = callGraph(fn, args, b(placeholder("x")), b(constant("g", GAMMA, 3)), b(constant("beta", BETA, 3)),
        b(constant("m", MEAN, 3)), b(constant("v", VAR, 3)), b(constant("k", seq(24, -1, 0.1), 2, 2, 3, 2)),
        b(constant("bb", BIAS, 2)));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    assertEquals(1, r.folds().size(), r.skips().toString());
    FunctionDef out = RuleProtos.function(r.graph(), "fn");
    NodeDef c = nodeOf(out, "c");
    assertEquals(List.of("r:activations:0", "c/forward_kernel:output:0"), c.getInputList());
    double[][] expected = forward(seq(24, -1, 0.1), 3, 2, BIAS);
    assertClose(expected[0], value(nodeOf(out, "c/forward_kernel")).values());
    assertClose(expected[1], value(nodeOf(out, "bias/forward_bias")).values());
    assertTrue(out.getNodeDefList().stream().noneMatch(n -> n.getName().equals("bn")));
    assertSettled(List.of(RULE), r, List.of("out"));
  }
}
