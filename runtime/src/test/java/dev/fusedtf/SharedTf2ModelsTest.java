package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.fold.Skip;
import dev.fusedtf.testing.SharedModels;
import org.junit.jupiter.api.Test;

class SharedTf2ModelsTest {

  @Test
  void kwsDsCnnFoldsNine() {
    try (FusedModel m = FusedModel.load(SharedModels.model("tf2-keras-kws-dscnn-bias-bn"))) {
      System.out.println(m.report().toText());
      assertEquals(9, m.report().folds().size(), m.report().toText());
      assertTrue(m.isFused(), m.report().toText());
      assertTrue(m.check().maxRelDiff() <= 1e-4, m.report().toText());
    }
  }

  @Test
  void eegnetFoldsThree() {
    try (FusedModel m = FusedModel.load(SharedModels.model("tf2-keras-eegnet-dwconv-bn"))) {
      System.out.println(m.report().toText());
      assertEquals(3, m.report().folds().size(), m.report().toText());
      assertTrue(m.isFused(), m.report().toText());
    }
  }

  @Test
  void mnistReluBeforeBnFoldsNothing() {
    try (FusedModel m = FusedModel.load(SharedModels.model("tf2-keras-mnist-conv-relu-bn"))) {
      System.out.println(m.report().toText());
      assertEquals(0, m.report().folds().size());
      assertEquals(3, m.report().skipped().size());
      for (Skip s : m.report().skipped()) {
        assertTrue(s.reason().contains("Relu"), s.reason());
      }
    }
  }
}
