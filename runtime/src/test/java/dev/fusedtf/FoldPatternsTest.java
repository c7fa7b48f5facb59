package dev.fusedtf;

import static dev.fusedtf.testing.ModelAssertions.assertSameOutputs;
import static dev.fusedtf.testing.ModelAssertions.countOps;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.report.Fold;
import dev.fusedtf.report.SkipCode;
import dev.fusedtf.testsupport.NetBuilder;
import dev.fusedtf.testsupport.NetBuilder.Style;
import dev.fusedtf.testsupport.SharedModels;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;

/** Every BatchNorm shape of issue 4, in both layouts, each checked against the unfused model. */
@Tag("cpu-sensitive")
class FoldPatternsTest {
  @TempDir Path tmp;

  private Path build(Style style, long[] inputShape, BiFunction<NetBuilder, String, String> net) {
    NetBuilder b = new NetBuilder(style, 21);
    String x = b.input("x", inputShape);
    b.output("y", net.apply(b, x));
    return b.write(tmp.resolve(style.name().toLowerCase() + System.nanoTime()));
  }

  private static FusedModel load(Path dir, int folds, int... batches) {
    FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().strict(true).build());
    assertEquals(folds, m.report().folds().size(), m.report().toText());
    assertSameOutputs(dir, m, 1e-5, 1e-4, batches.length == 0 ? new int[] {1, 4} : batches);
    return m;
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void denseWithDecomposedBnAndTrainingSelectFoldsIntoMatMul(Style style) {
    Path dir = build(style, new long[] {-1, 6}, (b, x) ->
        b.decomposedBatchNorm(b.dense(x, "dense", 6, 5, true, false), "bn", 5, false, 0));
    try (FusedModel m = load(dir, 1)) {
      Fold f = m.report().folds().get(0);
      assertEquals("MatMul+BiasAdd+DecomposedBatchNorm", f.pattern());
      assertEquals(0, countOps(m.metaGraphDef().getGraphDef(), "Rsqrt", "Select"), "statistics arithmetic gone");
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void convWithKerasUnfusedBnFoldsIntoConv(Style style) {
    Path dir = build(style, new long[] {-1, 6, 6, 3}, (b, x) ->
        b.relu(b.decomposedBatchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", true, false), "bn", 4, null), "r"));
    try (FusedModel m = load(dir, 1)) {
      assertEquals("Conv2D+BiasAdd+DecomposedBatchNorm", m.report().folds().get(0).pattern());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void bnAfterActivationIsPrecomputed(Style style) {
    Path dir = build(style, new long[] {-1, 6}, (b, x) ->
        b.decomposedBatchNorm(b.relu(b.dense(x, "dense", 6, 5, true, false), "relu"), "bn", 5, false, 0));
    try (FusedModel m = load(dir, 1)) {
      assertTrue(m.report().folds().get(0).pattern().contains("precomputed"), m.report().toText());
      assertEquals(0, countOps(m.metaGraphDef().getGraphDef(), "Rsqrt", "Select"));
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void trainingFlagTrueIsNeverFolded(Style style) {
    Path dir = build(style, new long[] {-1, 6}, (b, x) ->
        b.decomposedBatchNorm(b.dense(x, "dense", 6, 5, true, false), "bn", 5, true, 0));
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(0, m.report().folds().size(), m.report().toText());
      assertTrue(m.report().skipped().stream().anyMatch(s -> s.code() == SkipCode.BATCH_STATISTICS),
          m.report().toText());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void convBnScaleChainFoldsTwice(Style style) {
    Path dir = build(style, new long[] {-1, 6, 6, 3}, (b, x) ->
        b.relu(b.scale(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", false, false), "bn", 4), "scale", 4), "r"));
    try (FusedModel m = load(dir, 2)) {
      assertEquals("Conv2D+FusedBatchNormV3", m.report().folds().get(0).pattern());
      assertEquals("Conv2D+BiasAdd+Scale(Mul+AddV2)", m.report().folds().get(1).pattern());
      assertEquals(0, countOps(m.metaGraphDef().getGraphDef(), "Mul", "FusedBatchNormV3"));
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void addAsBiasAndIdentityBeforeBn(Style style) {
    Path dir = build(style, new long[] {-1, 6, 6, 3}, (b, x) -> {
      String c = b.addBias(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", false, false), "conv/add_bias", 4);
      return b.batchNorm(b.identity(c, "dropout/Identity"), "bn", 4);
    });
    try (FusedModel m = load(dir, 1)) {
      // one BatchNorm removed: the bias Add is absorbed with it, not reported as a fold of its own
      List<String> patterns = m.report().folds().stream().map(Fold::pattern).toList();
      assertEquals(List.of("Conv2D+AddV2+Identity+FusedBatchNormV3"), patterns);
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void conv3dAndTransposedConvFold(Style style) {
    Path dir = build(style, new long[] {-1, 4, 4, 4, 2}, (b, x) -> {
      String c = b.conv3d(x, "c3", 3, 2, 4, "SAME");
      return b.batchNorm5d(c, "bn", 4);
    });
    try (FusedModel m = load(dir, 1)) {
      assertEquals("Conv3D+FusedBatchNormV3", m.report().folds().get(0).pattern());
    }
    Path dir2 = build(style, new long[] {2, 4, 4, 3}, (b, x) ->
        b.batchNorm(b.conv2dTranspose(x, "up", 3, 3, 5, new long[] {2, 8, 8, 5}), "bn", 5));
    try (FusedModel m = load(dir2, 1, 2)) {
      assertEquals("Conv2DBackpropInput+FusedBatchNormV3", m.report().folds().get(0).pattern());
    }
  }

  @Test
  void tf1MlpWithSelectOnTrainingPlaceholderFoldsThree() {
    Path dir = SharedModels.model("tf1-savedmodel-pbtxt-mlp-bn");
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(3, m.report().folds().size(), m.report().toText());
      assertTrue(m.isFused(), m.report().toText());
      assertTrue(m.check().maxRelDiff() <= 1e-4);
      assertSameOutputs(dir, m, 1e-5, 1e-4, 1, 8);
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void bnBeforeOneByOneConvFoldsForward(Style style) {
    Path dir = build(style, new long[] {-1, 5, 5, 3}, (b, x) ->
        b.relu(b.conv2d(b.batchNorm(b.relu(x, "pre"), "bn", 3), "conv", 1, 1, 3, 4, 1, "SAME", false, false), "r"));
    try (FusedModel m = load(dir, 1)) {
      assertEquals("FusedBatchNormV3->Conv2D (forward)", m.report().folds().get(0).pattern());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void bnBeforeValidConvWithBiasFoldsForward(Style style) {
    Path dir = build(style, new long[] {-1, 6, 6, 3}, (b, x) ->
        b.conv2d(b.batchNorm(b.relu(x, "pre"), "bn", 3), "conv", 3, 3, 3, 4, 2, "VALID", true, false));
    try (FusedModel m = load(dir, 1)) {
      assertEquals("conv/Conv2D", m.report().folds().get(0).into());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void bnBeforeSamePaddedConvIsNotExactSoSkipped(Style style) {
    Path dir = build(style, new long[] {-1, 6, 6, 3}, (b, x) ->
        b.conv2d(b.batchNorm(b.relu(x, "pre"), "bn", 3), "conv", 3, 3, 3, 4, 1, "SAME", false, false));
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(0, m.report().folds().size(), m.report().toText());
      assertEquals(SkipCode.PADDING, m.report().skipped().get(0).code(), m.report().toText());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void decomposedBnBeforeDenseIsPrecomputedThenFoldedForward(Style style) {
    Path dir = build(style, new long[] {-1, 6}, (b, x) ->
        b.dense(b.decomposedBatchNorm(b.relu(x, "pre"), "bn", 6, false, 0), "dense", 6, 3, true, true));
    try (FusedModel m = load(dir, 1)) {
      assertEquals("DecomposedBatchNorm->MatMul (forward)", m.report().folds().get(0).pattern(), m.report().toText());
      assertEquals(0, countOps(m.metaGraphDef().getGraphDef(), "Mul", "Rsqrt"), m.report().toText());
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void kerasConv1dWithBiasAndBatchNormFolds(Style style) {
    Path dir = build(style, new long[] {-1, 12, 3}, (b, x) ->
        b.relu(b.decomposedBatchNorm(b.conv1d(x, "c1d", 3, 3, 5, true), "bn", 5, null), "r"));
    try (FusedModel m = load(dir, 1)) {
      assertEquals("Conv2D+Squeeze+BiasAdd+DecomposedBatchNorm", m.report().folds().get(0).pattern());
    }
  }
}
