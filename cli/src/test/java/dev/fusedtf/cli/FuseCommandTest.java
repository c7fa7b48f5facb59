package dev.fusedtf.cli;

import static dev.fusedtf.cli.FusedTfCliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.fusedtf.cli.FusedTfCliTest.Run;
import dev.fusedtf.testsupport.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.SavedModelBundle;

/** {@code fusedtf fuse} on the real checkpoint and frozen graph of shared/models. */
class FuseCommandTest {
  @TempDir Path tmp;

  @Test
  void checkpointToSavedModelWithReportAndNoOverwrite() throws IOException {
    Path meta = SharedModels.model("tf1-ckpt-dncnn-bn").resolve("model.ckpt.meta");
    Path out = tmp.resolve("dncnn");
    Run r = run("fuse", meta.toString(), "--inputs", "Reshape:0", "--outputs", "conv2d_16/BiasAdd:0",
        "-o", out.toString(), "--report", "--json");
    assertEquals(0, r.exit(), r.err());
    JsonObject report = JsonParser.parseString(r.out()).getAsJsonObject();
    assertEquals(15, report.getAsJsonArray("folds").size());
    assertTrue(report.getAsJsonObject("check").get("passed").getAsBoolean());
    assertTrue(Files.exists(tmp.resolve("dncnn.report.json")));
    try (SavedModelBundle b = SavedModelBundle.load(out.toString(), "serve")) {
      assertEquals(1, b.signatures().size());
    }
    Run again = run("fuse", meta.toString(), "--inputs", "Reshape:0", "--outputs", "conv2d_16/BiasAdd:0",
        "-o", out.toString());
    assertEquals(2, again.exit());
    assertTrue(again.err().contains("already exists"), again.err());
  }

  @Test
  void frozenGraphToFrozenGraph() {
    Path pb = SharedModels.model("tf1-frozen-kws-dscnn-s").resolve("DS_CNN_S.pb");
    Path out = tmp.resolve("kws.pb");
    Run r = run("fuse", pb.toString(), "--inputs", "wav_data:0", "--outputs", "labels_softmax:0", "-o", out.toString());
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("served: fused"), r.out());
    assertTrue(Files.exists(out));
  }

  @Test
  void namesAreGuessedForAFrozenGraphAndAskedForWhenTheyCannotBe() {
    Path pb = SharedModels.model("tf1-frozen-kws-dscnn-s").resolve("DS_CNN_S.pb");
    Run guessed = run("verify", pb.getParent().toString(), "--batches", "1");
    assertEquals(0, guessed.exit(), guessed.err());
    assertTrue(guessed.out().contains("folded: 9"), guessed.out());
    Path ckpt = SharedModels.model("tf1-ckpt-dncnn-bn");
    Run r = run("fuse", ckpt.toString(), "-o", tmp.resolve("x").toString());
    assertEquals(2, r.exit());
    assertTrue(r.err().contains("has no Placeholder: name the inputs"), r.err());
    assertFalse(Files.exists(tmp.resolve("x")));
    Run inspect = run("inspect", ckpt.toString(), "--inputs", "Reshape:0", "--outputs", "conv2d_16/BiasAdd:0", "--json");
    assertEquals(0, inspect.exit(), inspect.err());
    assertEquals(15, JsonParser.parseString(inspect.out()).getAsJsonObject().getAsJsonArray("folds").size());
  }
}
