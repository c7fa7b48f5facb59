package dev.fusedtf;

import static dev.fusedtf.testing.ModelAssertions.assertSameOutputs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.testsupport.NetBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FusedDiskCacheTest {
  @TempDir Path tmp;

  @Test
  void aRestartLoadsTheFusedModelFromDiskWithoutFoldingAgain() throws IOException {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 12);
    String x = b.input("x", -1, 6, 6, 3);
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", true, false), "bn", 4), "r"));
    Path dir = b.write(tmp.resolve("m"));
    FusedModelOptions opts = FusedModelOptions.builder().fusedCacheDir(tmp.resolve("cache")).build();
    try (FusedModel first = FusedModel.load(dir, opts)) {
      assertTrue(first.report().timingsMs().containsKey("fold"));
      assertTrue(first.isFused());
    }
    try (FusedModel again = FusedModel.load(dir, opts)) {
      assertTrue(again.report().timingsMs().containsKey("diskCacheLoad"), again.report().timingsMs().toString());
      assertFalse(again.report().timingsMs().containsKey("fold"));
      assertEquals(1, again.report().folds().size());
      assertTrue(again.isFused() && again.check().passed());
      assertSameOutputs(dir, again, 1e-5, 1e-4, 1, 3);
    }
    // a changed model misses the cache
    Files.setLastModifiedTime(dir.resolve("saved_model.pb"), FileTime.fromMillis(System.currentTimeMillis() + 5000));
    try (FusedModel changed = FusedModel.load(dir, opts)) {
      assertTrue(changed.report().timingsMs().containsKey("fold"));
    }
  }
}
