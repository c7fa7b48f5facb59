package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.report.FoldReport;
import dev.fusedtf.errors.FusedTfException;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.testsupport.NetBuilder;
import dev.fusedtf.testing.BreakFoldedBias;
import dev.fusedtf.testing.ModelAssertions;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;

/** A fold that breaks the model must never be served: the check catches it, the original is served. */
@Tag("cpu-sensitive")
class CheckFallbackTest {
  @TempDir Path tmp;
  Path dir;

  @BeforeEach
  void model() {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 3);
    String x = b.input("x", -1, 6, 6, 2);
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 2, 4, 1, "SAME", true, false), "bn", 4), "relu"));
    dir = b.write(tmp.resolve("m"));
  }

  @Test
  void brokenFoldIsNotServed() {
    try (FusedModel m = FusedModel.load(dir, TestOptions.withRule(FusedModelOptions.builder(), new BreakFoldedBias(null)).build())) {
      assertEquals(1, m.report().folds().size());
      assertFalse(m.check().passed(), m.report().toText());
      assertFalse(m.isFused());
      assertEquals(dev.fusedtf.report.Served.ORIGINAL, m.report().served());
      assertTrue(m.report().fallbackReason().startsWith("check failed"), m.report().fallbackReason());
      // what is served is the original: same outputs as plain SavedModelBundle
      ModelAssertions.assertSameOutputs(dir, m, 0, 0, 1);
    }
  }

  @Test
  void strictModeThrows() {
    FusedModelOptions strict = TestOptions.withRule(FusedModelOptions.builder(), new BreakFoldedBias(null)).strict(true).build();
    FusedTfException e = assertThrows(FusedTfException.class, () -> FusedModel.load(dir, strict));
    assertTrue(e.getMessage().contains("check failed"), e.getMessage());
  }

  @Test
  void disabledPassFoldsNothing() {
    FusedModelOptions off = FusedModelOptions.builder().disableRule("fold-batchnorm").build();
    try (FusedModel m = FusedModel.load(dir, off)) {
      assertEquals(0, m.report().folds().size());
      assertFalse(m.isFused());
    }
  }

  @Test
  void everyRuleDisabledServesTheOriginalUnchanged() {
    FusedModelOptions.Builder b = FusedModelOptions.builder();
    FusedModelOptions.ruleNames().forEach(b::disableRule);
    assertTrue(FusedModelOptions.ruleNames().contains("fold-batchnorm"), FusedModelOptions.ruleNames().toString());
    try (FusedModel m = FusedModel.load(dir, b.build())) {
      assertEquals(0, m.report().folds().size());
      assertEquals(0, m.report().rewrites().size(), m.report().toText());
      assertFalse(m.isFused());
      assertEquals(m.report().nodesBefore(), m.report().nodesAfter());
    }
  }

  @Test
  void inspectReportsWithoutCheck() {
    FoldReport r = FusedModel.inspect(ModelSource.savedModel(dir), FusedModelOptions.defaults());
    assertEquals(1, r.folds().size());
    assertEquals(null, r.check());
    assertTrue(r.toJson().contains("\"nodesBefore\""));
  }

  @Test
  void missingDirectoryIsAClearError() {
    FusedTfException e = assertThrows(FusedTfException.class, () -> FusedModel.load(tmp.resolve("nope")));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void corruptOrIncompleteModelsAreClearErrors() throws java.io.IOException {
    java.nio.file.Path corrupt = java.nio.file.Files.createDirectories(tmp.resolve("corrupt"));
    java.nio.file.Files.write(corrupt.resolve("saved_model.pb"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
    FusedTfException e = assertThrows(FusedTfException.class, () -> FusedModel.load(corrupt));
    assertTrue(e.getMessage().contains("cannot load SavedModel"), e.getMessage());
    java.nio.file.Path empty = java.nio.file.Files.createDirectories(tmp.resolve("empty"));
    e = assertThrows(FusedTfException.class, () -> FusedModel.load(empty));
    assertTrue(e.getMessage().contains("not a SavedModel"), e.getMessage());
    e = assertThrows(FusedTfException.class, () -> FusedModel.load(dir, "no-such-tag"));
    assertTrue(e.getMessage().contains("no-such-tag"), e.getMessage());
  }

  @Test
  void badInputsAreRejectedBeforeNativeCode() {
    try (FusedModel m = FusedModel.load(dir);
         org.tensorflow.types.TFloat32 rank3 = org.tensorflow.types.TFloat32.tensorOf(org.tensorflow.ndarray.Shape.of(6, 6, 2));
         org.tensorflow.types.TFloat32 wrongSize = org.tensorflow.types.TFloat32.tensorOf(org.tensorflow.ndarray.Shape.of(1, 5, 6, 2));
         org.tensorflow.types.TInt32 wrongType = org.tensorflow.types.TInt32.tensorOf(org.tensorflow.ndarray.Shape.of(1, 6, 6, 2))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.call(java.util.Map.of("x", rank3)));
      assertTrue(e.getMessage().contains("'x'") && e.getMessage().contains("[?, 6, 6, 2]"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> m.call(java.util.Map.of("x", wrongSize)));
      e = assertThrows(IllegalArgumentException.class, () -> m.call(java.util.Map.of("x", wrongType)));
      assertTrue(e.getMessage().contains("DT_FLOAT"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> m.call(java.util.Map.of()));
      assertThrows(IllegalArgumentException.class, () -> m.call("nope", java.util.Map.of("x", rank3)));
      m.close();
      org.tensorflow.types.TFloat32 ok = org.tensorflow.types.TFloat32.tensorOf(org.tensorflow.ndarray.Shape.of(1, 6, 6, 2));
      try (ok) {
        assertThrows(IllegalStateException.class, () -> m.call(java.util.Map.of("x", ok)));
      }
    }
  }
}
