package dev.fusedtf;

import static dev.fusedtf.testing.ModelAssertions.assertSameOutputs;
import static dev.fusedtf.testing.ModelAssertions.countOps;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.report.Fold;
import dev.fusedtf.report.Skip;
import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.testsupport.SharedModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;

/** The real Keras SavedModels of ../shared/models (TF 2.3, 2.10, 2.15). */
@Tag("cpu-sensitive")
class SharedTf2ModelsTest {

  /** FusedBatchNorm* nodes left in the top level and the functions the signatures reach. */
  static int batchNormsOnServingPath(MetaGraphDef meta) {
    ModelGraph g = new ModelGraph(meta.getGraphDef(), dev.fusedtf.internal.source.ServingRoots.signatureNodes(meta, true));
    int n = 0;
    for (Body b : g.servingBodies()) {
      for (NodeDef node : b.nodes()) {
        n += node.getOp().startsWith("FusedBatchNorm") ? 1 : 0;
      }
    }
    return n;
  }

  @Test
  void kwsDsCnnFoldsNineWithBiasBeforeEachBn() {
    Path dir = SharedModels.model("tf2-keras-kws-dscnn-bias-bn");
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(9, m.report().folds().size(), m.report().toText());
      assertTrue(m.isFused(), m.report().toText());
      assertEquals(5, m.report().folds().stream().filter(f -> f.pattern().equals("Conv2D+BiasAdd+FusedBatchNormV3")).count());
      assertEquals(4, m.report().folds().stream()
          .filter(f -> f.pattern().equals("DepthwiseConv2dNative+BiasAdd+FusedBatchNormV3")).count());
      assertEquals(0, batchNormsOnServingPath(m.metaGraphDef()));
      assertTrue(m.report().nodesAfter() < m.report().nodesBefore());
      assertEquals(9, m.check().folds().stream().filter(f -> f.compared() && f.passed()).count(), m.report().toText());
      assertTrue(m.report().rounds() <= 2, m.report().toText());
      assertEquals(0, countOps(m.metaGraphDef().getGraphDef(), "VarHandleOp", "ReadVariableOp"),
          "lean: no variable handles or reads left");
      assertSameOutputs(dir, m, 1e-6, 1e-4, 1, 8);
    }
  }

  @Test
  void eegnetFoldsConvDepthwiseMultiplierTwoAndSeparable() {
    Path dir = SharedModels.model("tf2-keras-eegnet-dwconv-bn");
    try (FusedModel m = FusedModel.load(dir)) {
      List<Fold> folds = m.report().folds();
      assertEquals(3, folds.size(), m.report().toText());
      assertTrue(folds.stream().anyMatch(f -> f.pattern().equals("DepthwiseConv2dNative+FusedBatchNormV3")));
      assertTrue(folds.stream().anyMatch(f -> f.into().contains("separable_conv2d")), m.report().toText());
      assertEquals(0, batchNormsOnServingPath(m.metaGraphDef()));
      assertSameOutputs(dir, m, 1e-6, 1e-4, 1, 8);
    }
  }

  @Test
  void mnistReluBeforeBnFoldsNothingAndSaysWhy() {
    Path dir = SharedModels.model("tf2-keras-mnist-conv-relu-bn");
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(0, m.report().folds().size());
      assertEquals(3, m.report().skipped().size());
      for (Skip s : m.report().skipped()) {
        assertEquals(dev.fusedtf.report.SkipCode.ACTIVATION_BETWEEN, s.code(), s.reason());
      }
      assertSameOutputs(dir, m, 0, 0, 1, 8);
    }
  }
}
