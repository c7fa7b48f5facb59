package dev.fusedtf.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.testsupport.NetBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.SavedModel;

class CheckpointToSavedModelExampleTest {
  @TempDir Path tmp;

  /** Writes a TF1 checkpoint (model.ckpt.meta/.index/.data) of a conv net with two BatchNorms, in Java. */
  static Path writeCheckpoint(Path dir) throws IOException {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF1, 17);
    String x = b.input("image", -1, 8, 8, 3);
    String h = b.relu(b.batchNorm(b.conv2d(x, "conv1", 3, 3, 3, 8, 1, "SAME", true, false), "bn1", 8), "relu1");
    b.output("y", b.batchNorm(b.conv2d(h, "conv2", 3, 3, 8, 4, 1, "SAME", true, false), "bn2", 4));
    Path sm = b.write(dir.resolve("savedmodel"));
    Path ckpt = Files.createDirectories(dir.resolve("ckpt"));
    SavedModel model = SavedModel.parseFrom(Files.readAllBytes(sm.resolve("saved_model.pb")));
    Files.write(ckpt.resolve("model.ckpt.meta"), model.getMetaGraphs(0).toByteArray());
    Files.copy(sm.resolve("variables/variables.index"), ckpt.resolve("model.ckpt.index"));
    Files.copy(sm.resolve("variables/variables.data-00000-of-00001"), ckpt.resolve("model.ckpt.data-00000-of-00001"));
    return ckpt;
  }

  @Test
  void checkpointBecomesAFusedSavedModelThatServes() throws IOException {
    Path ckpt = writeCheckpoint(tmp);
    CheckpointToSavedModelExample.Converted c = CheckpointToSavedModelExample.convert(
        ckpt.resolve("model.ckpt.meta"), ckpt.resolve("model.ckpt"), "image:0", "bn2/FusedBatchNormV3:0",
        tmp.resolve("fused"));
    assertEquals(2, c.folds());
    assertTrue(c.maxRelDiff() <= 1e-4, "rel diff " + c.maxRelDiff());
    assertTrue(Files.exists(c.savedModel().resolve("saved_model.pb")));
    assertEquals("original", c.servedFrom(), "the written model has nothing left to fold");
  }
}
