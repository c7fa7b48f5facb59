package dev.fusedtf.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.FusedModel;
import dev.fusedtf.report.Served;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The MLPerf Tiny keyword-spotting SavedModel from shared/models, scored by Spark; skipped when absent. */
@Tag("slow")
class KwsModelTest {
  @Test
  void kwsScoresEqualSingleRowCallsAndTheModelIsFolded() throws Exception {
    Path dir = TestSpark.sharedModel("tf2-keras-kws-dscnn-bias-bn");
    float[][] data = TestSpark.data(90, 49 * 10, 3);
    float[][] expected;
    try (FusedModel m = FusedModel.load(dir)) {
      expected = TestSpark.singleRow(m, data, 49, 10, 1);
    }
    FusedScorer s = FusedScorer.builder(dir.toString()).inputColumn("features").outputColumn("keyword")
        .batchSize(32).build();
    TestSpark.assertScores(expected, TestSpark.scores(s.transform(TestSpark.floats(data, 2)), "keyword"), 1e-5);
    try (ExecutorModels.ModelLease l = ExecutorModels.acquire(dir.toString(), s.modelOptions())) {
      assertEquals(Served.FUSED, l.model().served());
      assertEquals(9, l.model().report().folds().size(), l.model().report().toText());
    }
    assertEquals(12, expected[0].length);
    TestSpark.assertNoLeaseLeft();
    assertTrue(ExecutorModels.stats().loadCount() >= 1);
  }
}
