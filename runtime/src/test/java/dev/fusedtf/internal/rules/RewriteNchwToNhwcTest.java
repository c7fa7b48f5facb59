package dev.fusedtf.internal.rules;

import static dev.fusedtf.internal.rules.RuleProtos.EPS;
import static dev.fusedtf.internal.rules.RuleProtos.assertSettled;
import static dev.fusedtf.internal.rules.RuleProtos.b;
import static dev.fusedtf.internal.rules.RuleProtos.callGraph;
import static dev.fusedtf.internal.rules.RuleProtos.constant;
import static dev.fusedtf.internal.rules.RuleProtos.conv2d;
import static dev.fusedtf.internal.rules.RuleProtos.fusedBn;
import static dev.fusedtf.internal.rules.RuleProtos.graph;
import static dev.fusedtf.internal.rules.RuleProtos.intConst;
import static dev.fusedtf.internal.rules.RuleProtos.ints;
import static dev.fusedtf.internal.rules.RuleProtos.match;
import static dev.fusedtf.internal.rules.RuleProtos.nodeOf;
import static dev.fusedtf.internal.rules.RuleProtos.op;
import static dev.fusedtf.internal.rules.RuleProtos.placeholder;
import static dev.fusedtf.internal.rules.RuleProtos.run;
import static dev.fusedtf.internal.rules.RuleProtos.runAll;
import static dev.fusedtf.internal.rules.RuleProtos.scalar;
import static dev.fusedtf.internal.rules.RuleProtos.seq;
import static dev.fusedtf.internal.rules.RuleProtos.value;
import static dev.fusedtf.internal.rules.RuleProtos.with;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.report.Rewrite;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** Channels-first conv chains run channels-last, with Transposes where the chain is entered and left. */
class RewriteNchwToNhwcTest {
  private static final Rule RULE = new RewriteNchwToNhwc();
  private static final String NCHW_TO_NHWC = "fusedtf/nchw_to_nhwc_perm";
  private static final String NHWC_TO_NCHW = "fusedtf/nhwc_to_nchw_perm";

  private static NodeDef.Builder nchw(NodeDef.Builder n) {
    return n.putAttr("data_format", Nodes.string("NCHW"));
  }

  /** c = Conv2D(x) {NCHW, strides [1,1,2,2]}; bias = BiasAdd(c) {NCHW}; r = Relu(bias); out = Mean(r, [2, 3]). */
  private static GraphDef chain() {
    return graph(b(placeholder("x")), b(constant("k", seq(18, 1, 1), 1, 1, 3, 6)),
        nchw(conv2d("c", "x", "k", "VALID")).putAttr("strides", ints(1, 1, 2, 2)),
        b(constant("bb", seq(6, 0, 1), 6)), nchw(op("bias", "BiasAdd", "c", "bb")), op("r", "Relu", "bias"),
        b(intConst("axes", 2, 3)), op("out", "Mean", "r", "axes"));
  }

  @Test
  void chainRunsChannelsLastBetweenTwoTransposes() {
    Pipeline.Result r = run(RULE, chain(), List.of("out"));
    GraphDef g = r.graph();
    NodeDef in = nodeOf(g, "x/to_nhwc");
    assertEquals("Transpose", in.getOp());
    assertEquals(List.of("x", NCHW_TO_NHWC), in.getInputList());
    assertArrayEquals(new double[] {0, 2, 3, 1}, value(nodeOf(g, NCHW_TO_NHWC)).values());
    assertArrayEquals(new double[] {0, 3, 1, 2}, value(nodeOf(g, NHWC_TO_NCHW)).values());

    NodeDef c = nodeOf(g, "c");
    assertEquals("NHWC", Nodes.stringAttr(c, "data_format", "?"));
    assertArrayEquals(new long[] {1, 2, 2, 1}, Nodes.intsAttr(c, "strides"), "strides permuted");
    assertEquals(List.of("x/to_nhwc", "k"), c.getInputList(), "the kernel (HWIO) is not transposed");
    assertEquals("NHWC", Nodes.stringAttr(nodeOf(g, "bias"), "data_format", "?"));
    assertEquals(List.of("c", "bb"), nodeOf(g, "bias").getInputList());

    assertEquals(List.of("bias"), nodeOf(g, "r/nhwc").getInputList(), "the Relu runs NHWC under a new name");
    NodeDef back = nodeOf(g, "r");
    assertEquals("Transpose", back.getOp());
    assertEquals(List.of("r/nhwc", NHWC_TO_NCHW), back.getInputList());
    assertEquals("r", nodeOf(g, "out").getInput(0), "the Mean over [2, 3] still reads NCHW");

    Rewrite w = r.rewrites().get(0);
    assertEquals(Rewrite.Kind.LAYOUT, w.kind());
    assertEquals(List.of("c", "bias", "r"), w.nodes());
    assertEquals("nchw-to-nhwc", w.rule());
    assertTrue(r.folds().isEmpty());
    assertSettled(List.of(RULE), r, List.of("out"));
  }

  @Test
  void notOnGpu() {
    Pipeline.Result r = new Pipeline(List.of(RULE), List.of()).run(chain(), List.of("out"), Set.of(),
        VariableStore.none(), false);
    assertFalse(r.changed());
    assertEquals(chain(), r.graph());
  }

  @Test
  void scalarConstantJoinsButAPerChannelConstantThatBroadcastsNchwDoesNot() {
    GraphDef scalarAdd = with(chain(), b(scalar("one", 1)), op("add", "AddV2", "r", "one"),
        op("out", "Mean", "add", "axes"));
    Pipeline.Result r1 = run(RULE, scalarAdd, List.of("out"));
    assertEquals(List.of("r", "one"), nodeOf(r1.graph(), "add/nhwc").getInputList(), "r is NHWC inside the chain");
    assertEquals("Transpose", nodeOf(r1.graph(), "add").getOp());

    GraphDef perChannel = with(chain(), b(constant("t", seq(6, 1, 1), 6, 1, 1)), op("add", "AddV2", "r", "t"),
        op("out", "Mean", "add", "axes"));
    Pipeline.Result r2 = run(RULE, perChannel, List.of("out"));
    NodeDef add = nodeOf(r2.graph(), "add");
    assertEquals("AddV2", add.getOp(), "a [6, 1, 1] constant broadcasts over NCHW: the add stays outside");
    assertEquals(List.of("r", "t"), add.getInputList());
    assertEquals("Transpose", nodeOf(r2.graph(), "r").getOp());
  }

  @Test
  void fetchedConvOrABatchNormWhoseStatisticsAreReadStaysNchw() {
    assertSame(Match.none(), match(RULE, chain(), List.of("out", "c"), "c"));

    GraphDef bn = with(chain(), b(constant("g", seq(6, 1, 1), 6)), b(constant("z", new double[6], 6)),
        nchw(fusedBn("bn", "r", "g", "z", "z", "g", EPS)), op("stat", "Identity", "bn:1"),
        op("out", "Mean", "bn", "axes"));
    Pipeline.Result r = run(RULE, bn, List.of("out", "stat"));
    assertEquals("NCHW", Nodes.stringAttr(nodeOf(r.graph(), "bn"), "data_format", "?"));
    assertEquals("r", nodeOf(r.graph(), "bn").getInput(0), "reads the Transpose back to NCHW");
    assertEquals("Transpose", nodeOf(r.graph(), "r").getOp());
  }

  @Test
  void explicitPaddingsArePermutedWithTheDimensions() {
    GraphDef g = with(chain(), nchw(conv2d("c", "x", "k", "EXPLICIT"))
        .putAttr("explicit_paddings", ints(0, 0, 0, 0, 1, 2, 3, 4)));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    assertArrayEquals(new long[] {0, 0, 1, 2, 3, 4, 0, 0}, Nodes.intsAttr(nodeOf(r.graph(), "c"), "explicit_paddings"));
  }

  @Test
  void defaultPipelineThenFoldsTheNchwBatchNormAsNhwc() {
    // c = Conv2D {NCHW}; bn = FusedBatchNormV3(c) {NCHW, beta = mean = 0}; bias = BiasAdd(bn) {NCHW}; r; out
    double[] gamma = seq(6, 1, 1);
    GraphDef g = with(chain(), b(constant("g", gamma, 6)), b(constant("z", new double[6], 6)),
        nchw(fusedBn("bn", "c", "g", "z", "z", "g", EPS)), nchw(op("bias", "BiasAdd", "bn", "bb")));
    Pipeline.Result r = runAll(g, List.of("out"));
    assertEquals(1, r.rewrites().stream().filter(w -> w.kind() == Rewrite.Kind.LAYOUT).count(), r.rewrites().toString());
    assertEquals(1, r.folds().size(), r.skips().toString());
    assertEquals("Conv2D+FusedBatchNormV3", r.foldEntries().get(0).pattern());
    // the BN became a BiasAdd, and the BiasAdd after it then merged into it (a bias rewrite)
    assertTrue(RuleProtos.node(r.graph(), "bn").isEmpty());
    NodeDef bias = nodeOf(r.graph(), "bias");
    assertEquals("BiasAdd", bias.getOp());
    assertEquals("NHWC", Nodes.stringAttr(bias, "data_format", "?"));
    assertEquals("c", bias.getInput(0));
    double[] s = RuleProtos.bnScale(gamma, gamma, EPS); // variance = gamma here
    double[] w = new double[18];
    double[] k = seq(18, 1, 1);
    for (int i = 0; i < 18; i++) {
      w[i] = k[i] * s[i % 6];
    }
    RuleProtos.assertClose(w, value(nodeOf(r.graph(), nodeOf(r.graph(), "c").getInput(1))).values());
    RuleProtos.assertClose(seq(6, 0, 1), value(nodeOf(r.graph(), bias.getInput(1))).values());
    assertSettled(Rules.defaults(), r, List.of("out"));
  }

  @Test
  void rewritesInsideAFunctionBody() {
    List<String> args = List.of("x", "k");
    FunctionDef fn = RuleProtos.function("fn", args, "r:activations:0", nchw(conv2d("c", "x", "k", "VALID")),
        op("r", "Relu", "c:output:0"));
    GraphDef g = callGraph(fn, args, b(placeholder("x")), b(constant("k", seq(18, 1, 1), 1, 1, 3, 6)));
    Pipeline.Result r = run(RULE, g, List.of("out"));
    FunctionDef out = RuleProtos.function(r.graph(), "fn");
    assertEquals("NHWC", Nodes.stringAttr(nodeOf(out, "c"), "data_format", "?"));
    assertEquals("x/to_nhwc:y:0", nodeOf(out, "c").getInput(0));
    assertEquals("Transpose", nodeOf(out, "r").getOp());
    assertEquals("r:y:0", out.getRetMap().get("y"), "the return reads the Transpose back to NCHW");
    assertEquals("c:output:0", nodeOf(out, "r/nhwc").getInput(0));
    assertEquals("fn", r.rewrites().get(0).function());
  }
}
