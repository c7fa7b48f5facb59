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
import static dev.fusedtf.internal.rules.RuleProtos.foldedBias;
import static dev.fusedtf.internal.rules.RuleProtos.fusedBn;
import static dev.fusedtf.internal.rules.RuleProtos.graph;
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
import static dev.fusedtf.internal.rules.RuleProtos.without;
import static dev.fusedtf.internal.rules.RuleProtos.intConst;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.report.Fold;
import dev.fusedtf.report.SkipCode;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** FusedBatchNorm folded backward into the Conv2D / depthwise / MatMul before it, on pure protos. */
class FoldBatchNormIntoLinearTest {
  private static final Rule RULE = new FoldBatchNormIntoLinear();
  private static final double[] BIAS = {0.5, -0.25, 1};
  private static final double[] KERNEL = seq(24, -1, 0.1); // [2, 2, 2, 3] HWIO

  private static NodeDef.Builder[] bnParams(int channels) {
    return new NodeDef.Builder[] {
        b(constant("g", java.util.Arrays.copyOf(GAMMA, channels), channels)),
        b(constant("beta", java.util.Arrays.copyOf(BETA, channels), channels)),
        b(constant("m", java.util.Arrays.copyOf(MEAN, channels), channels)),
        b(constant("v", java.util.Arrays.copyOf(VAR, channels), channels))};
  }

  /** x -> Conv2D(k) -> BiasAdd(bb) -> FusedBatchNormV3 -> Relu(out). */
  private static GraphDef convBiasBn(NodeDef.Builder bn) {
    NodeDef.Builder[] p = bnParams(3);
    return graph(b(placeholder("x")), b(constant("k", KERNEL, 2, 2, 2, 3)), conv2d("c", "x", "k", "SAME"),
        b(constant("bb", BIAS, 3)), op("bias", "BiasAdd", "c", "bb"), p[0], p[1], p[2], p[3], bn,
        op("out", "Relu", "bn"));
  }

  private static NodeDef.Builder bn(String input) {
    return fusedBn("bn", input, "g", "beta", "m", "v", EPS);
  }

  @Test
  void convBiasBatchNormFoldsKernelAndBiasPerOutputChannel() {
    Pipeline.Result r = run(RULE, convBiasBn(bn("bias")), List.of("out"));
    GraphDef g = r.graph();

    double[] s = bnScale(GAMMA, VAR, EPS);
    double[] w = new double[KERNEL.length];
    for (int i = 0; i < w.length; i++) {
      w[i] = KERNEL[i] * s[i % 3]; // HWIO: output channel is the last axis
    }
    NodeDef conv = nodeOf(g, "c");
    assertEquals("c/folded_kernel", conv.getInput(1));
    assertClose(w, value(nodeOf(g, "c/folded_kernel")).values());
    assertArrayEquals(new long[] {2, 2, 2, 3}, value(nodeOf(g, "c/folded_kernel")).shape());

    NodeDef bn = nodeOf(g, "bn");
    assertEquals("BiasAdd", bn.getOp(), "the BatchNorm's name now holds a BiasAdd");
    assertEquals(List.of("c", "bn/folded_bias"), bn.getInputList());
    assertClose(foldedBias(BIAS, MEAN, BETA, s), value(nodeOf(g, "bn/folded_bias")).values());
    assertEquals("bn", nodeOf(g, "out").getInput(0), "the consumer still reads 'bn'");

    for (String gone : List.of("bias", "bb", "k", "g", "beta", "m", "v")) {
      assertTrue(node(g, gone).isEmpty(), gone + " should be gone");
    }
    assertEquals(List.of(new Fold("bn", "c", "Conv2D+BiasAdd+FusedBatchNormV3", null, "fold-batchnorm", null)),
        r.foldEntries());
    assertEquals("bn", r.folds().get(0).checkNode());
    assertTrue(r.skips().isEmpty(), r.skips().toString());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void depthwiseKernelScalesChannelInTimesMultiplierPlusM() {
    double[] kernel = seq(2 * 2 * 2 * 2, 0.5, 0.25); // [H=2, W=2, in=2, mult=2] -> 4 channels
    double[] gamma = {1, 2, -3, 0.5};
    double[] var = {1, 4, 0.25, 2};
    double[] zero = new double[4];
    GraphDef g = graph(b(placeholder("x")), b(constant("k", kernel, 2, 2, 2, 2)), depthwise("d", "x", "k", "VALID"),
        b(constant("g", gamma, 4)), b(constant("beta", zero, 4)), b(constant("m", zero, 4)), b(constant("v", var, 4)),
        fusedBn("bn", "d", "g", "beta", "m", "v", EPS), op("out", "Relu", "bn"));
    Pipeline.Result r = run(RULE, g, List.of("out"));

    double[] s = bnScale(gamma, var, EPS);
    double[] w = new double[kernel.length];
    for (int h = 0; h < 2; h++) {
      for (int x = 0; x < 2; x++) {
        for (int c = 0; c < 2; c++) {
          for (int m = 0; m < 2; m++) {
            int i = ((h * 2 + x) * 2 + c) * 2 + m;
            w[i] = kernel[i] * s[c * 2 + m];
          }
        }
      }
    }
    assertClose(w, value(nodeOf(r.graph(), "d/folded_kernel")).values());
    assertEquals("DepthwiseConv2dNative+FusedBatchNormV3", r.foldEntries().get(0).pattern());
    assertClose(new double[4], value(nodeOf(r.graph(), "bn/folded_bias")).values());
  }

  @Test
  void matMulFoldsPerColumnWithAndWithoutTransposeB() {
    double[] w = seq(6, -0.5, 0.3);
    double[] s = bnScale(GAMMA, VAR, EPS);
    for (boolean transposeB : new boolean[] {false, true}) {
      long[] shape = transposeB ? new long[] {3, 2} : new long[] {2, 3}; // [out, in] or [in, out]
      GraphDef g = graph(b(placeholder("x")), b(constant("w", w, shape)), matMul("mm", "x", "w", transposeB),
          bnParams(3)[0], bnParams(3)[1], bnParams(3)[2], bnParams(3)[3],
          fusedBn("bn", "mm", "g", "beta", "m", "v", EPS), op("out", "Identity", "bn"));
      Pipeline.Result r = run(RULE, g, List.of("out"));
      double[] expected = new double[6];
      for (int i = 0; i < 6; i++) {
        expected[i] = w[i] * s[transposeB ? i / 2 : i % 3];
      }
      assertClose(expected, value(nodeOf(r.graph(), "mm/folded_kernel")).values());
      assertClose(foldedBias(null, MEAN, BETA, s), value(nodeOf(r.graph(), "bn/folded_bias")).values());
      assertEquals("MatMul+FusedBatchNormV3", r.foldEntries().get(0).pattern());
    }
  }

  @Test
  void batchNormInTrainingModeOrWithoutTheAttributeIsSkipped() {
    GraphDef training = convBiasBn(bn("bias").putAttr("is_training", bool(true)));
    assertSkip(match(RULE, training, List.of("out"), "bn"), SkipCode.TRAINING_MODE, "training mode");
    GraphDef absent = convBiasBn(bn("bias").removeAttr("is_training"));
    assertSkip(match(RULE, absent, List.of("out"), "bn"), SkipCode.TRAINING_MODE, "is_training is true or absent");
  }

  @Test
  void batchMeanOutputReadIsSkipped() {
    GraphDef g = with(convBiasBn(bn("bias")), op("stat", "Identity", "bn:1"));
    assertSkip(match(RULE, g, List.of("out", "stat"), "bn"), SkipCode.OUTPUT_READ, "bn:1");
  }

  @Test
  void batchStatisticsAreSkipped() {
    // mean computed from the batch (tf.nn.moments): Mean over axes [0, 1, 2]
    GraphDef g = with(convBiasBn(bn("bias")), b(intConst("axes", 0, 1, 2)),
        op("m", "Mean", "x", "axes").putAttr("Tidx", Nodes.type(DataType.DT_INT32)));
    assertSkip(match(RULE, g, List.of("out"), "bn"), SkipCode.BATCH_STATISTICS, "mean");
  }

  @Test
  void nonConstantKernelOrStatisticIsSkipped() {
    GraphDef kernelFed = with(convBiasBn(bn("bias")), b(placeholder("k")));
    assertSkip(match(RULE, kernelFed, List.of("out"), Set.of("k"), "bn"), SkipCode.NOT_CONSTANT, "kernel of Conv2D 'c'");
    GraphDef meanFed = with(convBiasBn(bn("bias")), b(placeholder("m")));
    assertSkip(match(RULE, meanFed, List.of("out"), Set.of("m"), "bn"), SkipCode.NOT_CONSTANT, "mean");
  }

  @Test
  void convReadByAnotherNodeOrFetchedIsSkipped() {
    GraphDef twoReaders = with(convBiasBn(bn("bias")), op("other", "Relu", "c"));
    assertSkip(match(RULE, twoReaders, List.of("out", "other"), "bn"), SkipCode.MULTI_CONSUMER, "other");
    assertSkip(match(RULE, convBiasBn(bn("bias")), List.of("out", "c"), "bn"), SkipCode.FETCHED, "'c'");
  }

  @Test
  void sharedKernelFoldsIntoACopyAndTheOtherReaderKeepsTheOriginal() {
    GraphDef g = with(convBiasBn(bn("bias")), conv2d("c2", "x", "k", "SAME"));
    Pipeline.Result r = run(RULE, g, List.of("out", "c2"));
    assertEquals(1, r.folds().size(), r.skips().toString());
    assertTrue(r.foldEntries().get(0).note().contains("also read by another node"), r.foldEntries().toString());
    assertClose(KERNEL, value(nodeOf(r.graph(), "k")).values());
    assertEquals("k", nodeOf(r.graph(), "c2").getInput(1));
    assertEquals("c/folded_kernel", nodeOf(r.graph(), "c").getInput(1));
  }

  @Test
  void activationBetweenLayoutMismatchAndChannelMismatchAreSkipped() {
    GraphDef relu = with(convBiasBn(bn("r")), op("r", "Relu", "bias"));
    assertSkip(match(RULE, relu, List.of("out"), "bn"), SkipCode.ACTIVATION_BETWEEN, "Relu");

    GraphDef nchw = without(with(convBiasBn(bn("c")),
        conv2d("c", "x", "k", "SAME").putAttr("data_format", Nodes.string("NCHW"))), "bias", "bb");
    assertSkip(match(RULE, nchw, List.of("out"), "bn"), SkipCode.LAYOUT_MISMATCH, "channels-first");

    GraphDef fourChannels = graph(b(placeholder("x")), b(constant("k", KERNEL, 2, 2, 2, 3)),
        conv2d("c", "x", "k", "SAME"), b(constant("g", new double[4], 4)), b(constant("beta", new double[4], 4)),
        b(constant("m", new double[4], 4)), b(constant("v", new double[4], 4)), bn("c"), op("out", "Relu", "bn"));
    assertSkip(match(RULE, fourChannels, List.of("out"), "bn"), SkipCode.SHAPE_MISMATCH, "4 channels");
  }

  @Test
  void fetchedBatchNormStillFoldsUnderItsName() {
    Pipeline.Result r = run(RULE, convBiasBn(bn("bias")), List.of("out", "bn"));
    assertEquals(1, r.folds().size());
    assertEquals("BiasAdd", nodeOf(r.graph(), "bn").getOp());
  }

  /** TF2: the conv and the BN live in a function body, every weight an argument bound to a top-level Const. */
  private static final List<String> ARGS = List.of("x", "k", "g", "beta", "m", "v");

  private static FunctionDef convBnFunction() {
    return RuleProtos.function("fn", ARGS, "bn:y:0", conv2d("c", "x", "k", "SAME"),
        fusedBn("bn", "c:output:0", "g", "beta", "m", "v", EPS), op("r", "Relu", "bn:y:0"));
  }

  @Test
  void foldsInsideAFunctionBodyWithWeightsAsArguments() {
    NodeDef.Builder[] p = bnParams(3);
    GraphDef g = callGraph(convBnFunction(), ARGS, b(placeholder("x")), b(constant("k", KERNEL, 2, 2, 2, 3)),
        p[0], p[1], p[2], p[3]);
    Pipeline.Result r = run(RULE, g, List.of("out"));
    assertEquals(1, r.folds().size(), r.skips().toString());
    assertEquals("fn", r.foldEntries().get(0).function());
    FunctionDef fn = RuleProtos.function(r.graph(), "fn");
    assertEquals("bn:output:0", fn.getRetMap().get("y"), "the return now reads the BiasAdd");
    assertEquals("bn:output:0", nodeOf(fn, "r").getInput(0));
    assertEquals("c/folded_kernel:output:0", nodeOf(fn, "c").getInput(1));
    double[] s = bnScale(GAMMA, VAR, EPS);
    double[] w = new double[KERNEL.length];
    for (int i = 0; i < w.length; i++) {
      w[i] = KERNEL[i] * s[i % 3];
    }
    assertClose(w, value(nodeOf(fn, "c/folded_kernel")).values());
    assertClose(foldedBias(null, MEAN, BETA, s), value(nodeOf(fn, "bn/folded_bias")).values());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void functionCalledWithDifferentKernelsIsSkippedAsSharedWeights() {
    NodeDef.Builder[] p = bnParams(3);
    GraphDef g = callGraph(convBnFunction(), ARGS, b(placeholder("x")), b(constant("k", KERNEL, 2, 2, 2, 3)),
        b(constant("k2", seq(24, 0, 1), 2, 2, 2, 3)), p[0], p[1], p[2], p[3]);
    g = with(g, nodeOf(g, "call").toBuilder().setName("call2").setInput(1, "k2"), op("out2", "Identity", "call2"));
    Pipeline.Result r = run(RULE, g, List.of("out", "out2"));
    assertTrue(r.folds().isEmpty());
    assertEquals(1, r.skips().size(), r.skips().toString());
    assertEquals(SkipCode.SHARED_WEIGHTS, r.skips().get(0).code(), r.skips().get(0).reason());
    assertEquals("fn", r.skips().get(0).function());
    assertNull(node(r.graph(), "c/folded_kernel").orElse(null));
  }
}
