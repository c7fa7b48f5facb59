package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.errors.FusedTfException;
import dev.fusedtf.report.Served;
import dev.fusedtf.testing.ModelAssertions;
import dev.fusedtf.testsupport.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.proto.GraphDef;

/** TF1 checkpoint + meta and frozen GraphDef in; fused SavedModel and frozen GraphDef out; round trips. */
class GraphFormatsTest {
  @TempDir Path tmp;

  static long size(Path p) throws IOException {
    if (Files.isRegularFile(p)) {
      return Files.size(p);
    }
    try (Stream<Path> s = Files.walk(p)) {
      return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    }
  }

  @Test
  void dncnnCheckpointFoldsFifteenAndRoundTrips() throws IOException {
    Path dir = SharedModels.model("tf1-ckpt-dncnn-bn");
    ModelSource ckpt = ModelSource.checkpoint(dir.resolve("model.ckpt.meta"), dir.resolve("model.ckpt"),
        List.of("Reshape:0"), List.of("conv2d_16/BiasAdd:0"));
    FusedModelOptions opts = FusedModelOptions.builder().probeBatches(1).build();
    FusedArtifact fused = FusedArtifact.fuse(ckpt, opts);
    assertEquals(15, fused.report().folds().size(), fused.report().toText());
    assertEquals(Served.FUSED, fused.report().served(), fused.report().toText());
    assertTrue(fused.report().check().maxRelDiff() <= 1e-4, fused.report().toText());
    assertEquals(15, fused.report().check().folds().stream().filter(f -> f.compared() && f.passed()).count());
    assertEquals(0, ModelAssertions.countOps(fused.metaGraphDef().getGraphDef(), "FusedBatchNorm"));

    Path out = tmp.resolve("dncnn-fused");
    fused.writeSavedModel(out, false);
    try (FusedModel served = FusedModel.load(ckpt, opts);
         SavedModelBundle reloaded = SavedModelBundle.load(out.toString(), "serve")) {
      assertEquals(0.0, ModelAssertions.maxDiff(served, reloaded, 1), "plain TF Java runs the written model");
    }
    long original = size(dir.resolve("model.ckpt.meta")) + size(dir.resolve("model.ckpt.index"))
        + size(dir.resolve("model.ckpt.data-00000-of-00001"));
    assertTrue(size(out) <= original, size(out) + " > " + original);
    FusedTfException exists = assertThrows(FusedTfException.class, () -> fused.writeSavedModel(out, false));
    assertTrue(exists.getMessage().contains("already exists"));
    fused.writeSavedModel(out, true);
  }

  @Test
  void frozenKwsFoldsNineOnAWavInput() throws IOException {
    Path pb = SharedModels.model("tf1-frozen-kws-dscnn-s").resolve("DS_CNN_S.pb");
    ModelSource frozen = ModelSource.frozenGraph(pb, List.of("wav_data:0"), List.of("labels_softmax:0"));
    FusedArtifact fused = FusedArtifact.fuse(frozen, FusedModelOptions.builder().probeBatches(1).build());
    assertEquals(9, fused.report().folds().size(), fused.report().toText());
    assertEquals(Served.FUSED, fused.report().served(), fused.report().toText());
    assertTrue(fused.report().check().outputs().size() > 0);
    Path out = tmp.resolve("kws.pb");
    fused.writeFrozenGraph(out, false);
    GraphDef reread = GraphDef.parseFrom(Files.readAllBytes(out));
    assertEquals(fused.metaGraphDef().getGraphDef(), reread);
    assertTrue(size(out) <= size(pb), size(out) + " > " + size(pb));
    Path sm = tmp.resolve("kws-savedmodel");
    fused.writeSavedModel(sm, false);
    try (SavedModelBundle reloaded = SavedModelBundle.load(sm.toString(), "serve")) {
      assertEquals(1, reloaded.signatures().stream().filter(s -> s.key().equals("serving_default")).count());
    }
  }

  @Test
  void badNamesAndFilesAreClearErrors() {
    Path pb = SharedModels.model("tf1-frozen-kws-dscnn-s").resolve("DS_CNN_S.pb");
    FusedModelOptions o = FusedModelOptions.defaults();
    FusedTfException e = assertThrows(FusedTfException.class,
        () -> FusedArtifact.fuse(ModelSource.frozenGraph(pb, List.of("nope:0"), List.of("labels_softmax:0")), o));
    assertTrue(e.getMessage().contains("nope:0"), e.getMessage());
    assertThrows(FusedTfException.class, () -> FusedArtifact.fuse(
        ModelSource.frozenGraph(tmp.resolve("missing.pb"), List.of("a:0"), List.of("b:0")), o));
    assertThrows(FusedTfException.class,
        () -> FusedArtifact.fuse(ModelSource.frozenGraph(pb, List.of(), List.of("b:0")), o));
  }

  @Test
  void savedModelsExportFrozenAndReloadWithPlainTensorFlow() throws IOException {
    for (String name : List.of("tf2-keras-kws-dscnn-bias-bn", "tf2-keras-eegnet-dwconv-bn", "tf1-savedmodel-pbtxt-mlp-bn")) {
      Path dir = SharedModels.model(name);
      try (FusedModel m = FusedModel.load(dir)) {
        Path out = tmp.resolve(name);
        m.writeSavedModel(out, false);
        assertFalse(Files.exists(out.resolve("variables")), "frozen: no variables needed");
        try (SavedModelBundle reloaded = SavedModelBundle.load(out.toString(), "serve")) {
          assertEquals(0.0, ModelAssertions.maxDiff(m, reloaded, 4), name + ": the written model is the served one");
        }
        assertTrue(size(out) <= size(dir), name + ": " + size(out) + " > " + size(dir));
      }
    }
  }
}
