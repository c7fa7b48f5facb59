package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.check.CheckResult;
import dev.fusedtf.check.EquivalenceCheck;
import dev.fusedtf.check.ProbeSupplier;
import dev.fusedtf.internal.source.GraphModel;
import dev.fusedtf.testing.ModelAssertions;
import dev.fusedtf.testing.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
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

  /** Compares the written SavedModel against the fused graph on the same probes. */
  private static CheckResult roundTrip(FusedGraph fused, Path written) {
    try (SavedModelBundle reloaded = SavedModelBundle.load(written.toString(), "serve");
         Graph g = new Graph()) {
      g.importGraphDef(fused.graphDef());
      try (Session s = new Session(g)) {
        return new EquivalenceCheck(0, 0, new int[] {1}, FusedGraph.defaultProbes(fused.model(), 5))
            .run(s, reloaded.session(), List.of(fused.model().signature(g)));
      }
    }
  }

  @Test
  void dncnnCheckpointFoldsFifteenAndRoundTrips() throws IOException {
    Path dir = SharedModels.model("tf1-ckpt-dncnn-bn");
    GraphModel ckpt = GraphModel.fromCheckpoint(dir.resolve("model.ckpt.meta"), dir.resolve("model.ckpt"),
        List.of("Reshape:0"), List.of("conv2d_16/BiasAdd:0"));
    FusedGraph fused = FusedGraph.fuse(ckpt, FusedModelOptions.builder().probeBatches(1).build());
    assertEquals(15, fused.report().folds().size(), fused.report().toText());
    assertEquals("fused", fused.report().served(), fused.report().toText());
    assertTrue(fused.report().check().maxRelDiff() <= 1e-4, fused.report().toText());
    assertEquals(0, ModelAssertions.countOps(fused.graphDef(), "FusedBatchNorm"));

    Path out = tmp.resolve("dncnn-fused");
    fused.writeSavedModel(out, false);
    CheckResult rt = roundTrip(fused, out);
    assertTrue(rt.passed() && rt.maxAbsDiff() == 0, String.valueOf(rt));
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
    GraphModel frozen = GraphModel.fromFrozenGraph(pb, List.of("wav_data:0"), List.of("labels_softmax:0"));
    FusedGraph fused = FusedGraph.fuse(frozen, FusedModelOptions.builder().probeBatches(1).build());
    assertEquals(9, fused.report().folds().size(), fused.report().toText());
    assertEquals("fused", fused.report().served(), fused.report().toText());
    assertTrue(fused.report().check().outputs().size() > 0);
    Path out = tmp.resolve("kws.pb");
    fused.writeGraphDef(out, false);
    GraphDef reread = GraphDef.parseFrom(Files.readAllBytes(out));
    assertEquals(fused.graphDef(), reread);
    assertTrue(size(out) <= size(pb), size(out) + " > " + size(pb));
    Path sm = tmp.resolve("kws-savedmodel");
    fused.writeSavedModel(sm, false);
    CheckResult rt = roundTrip(fused, sm);
    assertTrue(rt.passed() && rt.maxAbsDiff() == 0, String.valueOf(rt));
  }

  @Test
  void badNamesAndFilesAreClearErrors() {
    Path pb = SharedModels.model("tf1-frozen-kws-dscnn-s").resolve("DS_CNN_S.pb");
    FusedTfException e = assertThrows(FusedTfException.class,
        () -> GraphModel.fromFrozenGraph(pb, List.of("nope:0"), List.of("labels_softmax:0")));
    assertTrue(e.getMessage().contains("nope:0"), e.getMessage());
    assertThrows(FusedTfException.class,
        () -> GraphModel.fromFrozenGraph(tmp.resolve("missing.pb"), List.of("a:0"), List.of("b:0")));
    assertThrows(FusedTfException.class, () -> GraphModel.fromFrozenGraph(pb, List.of(), List.of("b:0")));
  }

  @Test
  void savedModelsExportFrozenAndReloadWithPlainTensorFlow() throws IOException {
    for (String name : List.of("tf2-keras-kws-dscnn-bias-bn", "tf2-keras-eegnet-dwconv-bn", "tf1-savedmodel-pbtxt-mlp-bn")) {
      Path dir = SharedModels.model(name);
      try (FusedModel m = FusedModel.load(dir)) {
        Path out = tmp.resolve(name);
        ModelExport.savedModel(m, out, false);
        assertFalse(Files.exists(out.resolve("variables")), "frozen: no variables needed");
        try (SavedModelBundle reloaded = SavedModelBundle.load(out.toString(), "serve")) {
          // frozen constants let Grappler fold a few ops differently: equal up to float32 round-off
          CheckResult rt = new EquivalenceCheck(1e-6, 1e-5, new int[] {1, 4}, ProbeSupplier.random(3))
              .run(m.session(), reloaded.session(), FusedModelLoader.servingSignatures(reloaded));
          assertTrue(rt.passed(), name + ": " + rt);
        }
        assertTrue(size(out) <= size(dir), name + ": " + size(out) + " > " + size(dir));
      }
    }
  }
}
