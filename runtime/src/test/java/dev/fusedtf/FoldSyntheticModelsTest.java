package dev.fusedtf;

import static dev.fusedtf.testing.ModelAssertions.assertSameOutputs;
import static dev.fusedtf.testing.ModelAssertions.countOps;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.report.Fold;
import dev.fusedtf.report.CheckResult;
import dev.fusedtf.report.Rewrite;
import dev.fusedtf.report.Skip;
import dev.fusedtf.report.SkipCode;
import dev.fusedtf.testing.ModelAssertions;
import dev.fusedtf.testsupport.NetBuilder;
import dev.fusedtf.testsupport.NetBuilder.Style;
import java.nio.file.Path;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Java-built SavedModels in both layouts (TF1 top level with VariableV2; TF2/Keras function bodies with resource
 * variables): every positive pattern folds, BatchNorm ops leave the fused graph, outputs equal the original's;
 * every negative stays unfolded with the expected reason.
 */
@Tag("cpu-sensitive")
class FoldSyntheticModelsTest {
  @TempDir Path tmp;

  private Path build(Style style, Function<NetBuilder, String> net) {
    NetBuilder b = new NetBuilder(style, 7);
    String x = b.input("x", -1, 8, 8, 3);
    String out = net.apply(withInput(b, x));
    b.output("y", out);
    return b.write(tmp.resolve(style.name().toLowerCase()));
  }

  private static NetBuilder withInput(NetBuilder b, String x) {
    lastInput = x;
    return b;
  }

  private static String lastInput;

  private FusedModel foldAndCheck(Path dir, int expectedFolds) {
    FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().strict(true).build());
    assertEquals(expectedFolds, m.report().folds().size(), m.report().toText());
    assertTrue(m.isFused(), m.report().toText());
    assertEquals(0, countOps(m.metaGraphDef().getGraphDef(), "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"),
        "no BatchNorm op left");
    assertSameOutputs(dir, m, 1e-5, 1e-4, 1, 4);
    return m;
  }

  /**
   * A channels-first model: without oneDNN (AVX2 CPUs) the original cannot run at all, so the check compares against
   * the original rewritten channels-last only, and says so; with oneDNN it compares against the original itself. The
   * suite runs under both settings, so both paths are exercised somewhere.
   */
  private FusedModel foldAndCheckAnyCpu(Path dir, int expectedFolds) {
    FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().strict(true).build());
    assertEquals(expectedFolds, m.report().folds().size(), m.report().toText());
    assertTrue(m.isFused(), m.report().toText());
    assertTrue(m.check().passed(), m.report().toText());
    if (ModelAssertions.originalRuns(dir)) {
      assertEquals(CheckResult.REFERENCE_ORIGINAL, m.check().reference(), m.report().toText());
      assertSameOutputs(dir, m, 1e-5, 1e-4, 1, 3);
    } else {
      assertEquals(CheckResult.REFERENCE_LAYOUT, m.check().reference(), m.report().toText());
      assertTrue(m.check().originalError().contains("NHWC"), m.check().originalError());
      assertTrue(m.report().toText().contains("original cannot run on this machine"), m.report().toText());
    }
    return m;
  }

  private static long layoutRewrites(FusedModel m) {
    return m.report().rewrites().stream().filter(r -> r.kind() == Rewrite.Kind.LAYOUT).count();
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void convBn(Style style) {
    Path dir = build(style, b -> b.relu(b.batchNorm(b.conv2d(lastInput, "conv", 3, 3, 3, 8, 1, "SAME", false, false), "bn", 8), "relu"));
    try (FusedModel m = foldAndCheck(dir, 1)) {
      Fold f = m.report().folds().get(0);
      assertEquals("Conv2D+FusedBatchNormV3", f.pattern());
      assertEquals(style == Style.TF2 ? "__inference_model_fn_100" : null, f.function());
      assertTrue(m.report().nodesAfter() < m.report().nodesBefore());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void convBiasBn(Style style) {
    Path dir = build(style, b -> b.batchNorm(b.conv2d(lastInput, "conv", 3, 3, 3, 8, 2, "VALID", true, false), "bn", 8,
        false, false, 1e-5f, "FusedBatchNorm"));
    try (FusedModel m = foldAndCheck(dir, 1)) {
      assertEquals("Conv2D+BiasAdd+FusedBatchNorm", m.report().folds().get(0).pattern());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void depthwiseMultiplierTwoBn(Style style) {
    Path dir = build(style, b -> b.relu6(b.batchNorm(b.depthwise(lastInput, "dw", 3, 3, 2, true), "bn", 6), "relu6"));
    try (FusedModel m = foldAndCheck(dir, 1)) {
      assertEquals("DepthwiseConv2dNative+BiasAdd+FusedBatchNormV3", m.report().folds().get(0).pattern());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void twoBlocksWithResidualAdd(Style style) {
    Path dir = build(style, b -> {
      String a = b.relu(b.batchNorm(b.conv2d(lastInput, "c1", 3, 3, 3, 8, 1, "SAME", true, false), "bn1", 8), "r1");
      String c = b.batchNorm(b.conv2d(a, "c2", 3, 3, 8, 8, 1, "SAME", true, false), "bn2", 8);
      return b.mean(b.relu(b.add(a, c, "add"), "r2"), "pool", 1, 2);
    });
    try (FusedModel m = foldAndCheck(dir, 2)) {
      assertEquals(0, m.report().skipped().size());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void trainingModeIsNotFolded(Style style) {
    Path dir = build(style, b -> b.batchNorm(b.conv2d(lastInput, "conv", 1, 1, 3, 4, 1, "SAME", false, false), "bn", 4,
        true, false, 1e-3f, "FusedBatchNormV3"));
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(0, m.report().folds().size());
      Skip s = m.report().skipped().get(0);
      assertEquals(SkipCode.TRAINING_MODE, s.code(), s.reason());
      assertEquals(dev.fusedtf.report.Served.ORIGINAL, m.report().served());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void reluBetweenConvAndBnIsNotFolded(Style style) {
    Path dir = build(style, b -> b.batchNorm(b.relu(b.conv2d(lastInput, "conv", 3, 3, 3, 4, 1, "SAME", true, false), "relu"),
        "bn", 4));
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(0, m.report().folds().size());
      assertEquals(SkipCode.ACTIVATION_BETWEEN, m.report().skipped().get(0).code(), m.report().toText());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void convReadByTwoNodesIsNotFolded(Style style) {
    Path dir = build(style, b -> {
      String conv = b.conv2d(lastInput, "conv", 3, 3, 3, 4, 1, "SAME", false, false);
      return b.add(b.batchNorm(conv, "bn", 4), conv, "add");
    });
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(0, m.report().folds().size());
      assertEquals(SkipCode.MULTI_CONSUMER, m.report().skipped().get(0).code(), m.report().toText());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void sharedKernelIsFoldedIntoACopy(Style style) {
    Path dir = build(style, b -> {
      String k = b.variable("shared/kernel", b.randomNormal(0.3, 3, 3, 3, 4));
      String c1 = b.conv2dWith(lastInput, "conv1", k, 1, "SAME", false);
      String k2 = style == Style.TF2 ? b.read("shared/kernel") : k;
      String c2 = b.conv2dWith(lastInput, "conv2", k2, 1, "SAME", false);
      return b.add(b.batchNorm(c1, "bn", 4), c2, "add");
    });
    try (FusedModel m = foldAndCheck(dir, 1)) {
      // conv2 still reads the original kernel: outputs equal proves the shared weights were not changed in place
      assertEquals("conv1", m.report().folds().get(0).into());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void nchwConvBiasBn(Style style) {
    NetBuilder b = new NetBuilder(style, 11);
    String x = b.input("x", -1, 3, 6, 6);
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", true, true), "bn", 4, false, true,
        1e-3f, "FusedBatchNormV3"), "relu"));
    Path dir = b.write(tmp.resolve("nchw"));
    try (FusedModel m = foldAndCheckAnyCpu(dir, 1)) {
      assertEquals("Conv2D+BiasAdd+FusedBatchNormV3", m.report().folds().get(0).pattern());
      assertEquals(1, layoutRewrites(m), m.report().toText());
      String graph = m.metaGraphDef().getGraphDef().toString();
      assertTrue(!graph.contains("NCHW"), "no channels-first op left");
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void nchwChainWithResidualAddRunsChannelsLast(Style style) {
    NetBuilder b = new NetBuilder(style, 13);
    String x = b.input("x", -1, 4, 6, 6);
    String a = b.relu(b.conv2d(x, "c1", 3, 3, 4, 4, 1, "SAME", true, true), "r1");
    String c = b.conv2d(a, "c2", 1, 1, 4, 4, 1, "SAME", false, true);
    b.output("y", b.relu(b.add(a, c, "add"), "r2"));
    b.output("mid", a);
    Path dir = b.write(tmp.resolve("nchw2"));
    try (FusedModel m = foldAndCheckAnyCpu(dir, 0)) {
      assertEquals(1, layoutRewrites(m), m.report().toText());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void fetchedConvIsNotFolded(Style style) {
    NetBuilder b = new NetBuilder(style, 5);
    String x = b.input("x", -1, 4, 4, 2);
    String conv = b.conv2d(x, "conv", 1, 1, 2, 3, 1, "SAME", false, false);
    b.output("y", b.batchNorm(conv, "bn", 3));
    b.output("features", conv);
    Path dir = b.write(tmp.resolve("fetched"));
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(0, m.report().folds().size(), m.report().toText());
      SkipCode code = m.report().skipped().get(0).code();
      assertTrue(code == SkipCode.FETCHED || code == SkipCode.MULTI_CONSUMER, m.report().toText());
      assertTrue(m.report().rounds() <= 2, "settles: " + m.report().rounds() + " rounds");
    }
  }
}
