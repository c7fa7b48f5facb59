package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.serving.VersionedModel;
import dev.fusedtf.testsupport.SharedModels;
import dev.fusedtf.testsupport.ModelFiles;
import dev.fusedtf.testsupport.NetBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/** A model that cannot run never loads, whatever the mode, and the error names what is wrong. */
class ModelFailuresTest {
  @TempDir Path tmp;

  private Path copy(Path src, String name) throws IOException {
    Path dst = tmp.resolve(name);
    try (Stream<Path> s = Files.walk(src)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path t = dst.resolve(src.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
    return dst;
  }

  private Path javaBuilt(String name) {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 9);
    String x = b.input("x", -1, 6, 6, 3);
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", true, false), "bn", 4), "r"));
    return b.write(tmp.resolve(name));
  }

  private static ModelLoadException fails(Path dir, FusedModelOptions opts) {
    return assertThrows(ModelLoadException.class, () -> FusedModel.load(dir, opts).close());
  }

  @Test
  void deletedVariablesFailTheLoadInEveryMode() throws IOException {
    for (Path model : new Path[] {SharedModels.model("tf2-keras-kws-dscnn-bias-bn"), javaBuilt("java")}) {
      Path noVars = copy(model, "novars-" + model.getFileName());
      ModelFiles.deleteTree(noVars.resolve("variables"));
      for (FusedModelOptions o : new FusedModelOptions[] {FusedModelOptions.defaults(),
          FusedModelOptions.builder().strict(true).build()}) {
        ModelLoadException e = fails(noVars, o);
        assertTrue(e.getMessage().contains("cannot run") && e.getMessage().contains("variables"), e.getMessage());
      }
      Path noIndex = copy(model, "noindex-" + model.getFileName());
      Files.delete(noIndex.resolve("variables").resolve("variables.index"));
      ModelLoadException e = fails(noIndex, FusedModelOptions.defaults());
      assertTrue(e.getMessage().contains("variables"), e.getMessage());
    }
  }

  @Test
  void aSignatureNamingAMissingNodeFailsBeforeAnythingRuns() throws IOException {
    Path dir = copy(SharedModels.model("tf2-keras-kws-dscnn-bias-bn"), "badsig");
    Path pb = dir.resolve("saved_model.pb");
    SavedModel sm = SavedModel.parseFrom(Files.readAllBytes(pb));
    MetaGraphDef meta = sm.getMetaGraphs(0);
    SignatureDef sig = meta.getSignatureDefOrThrow("serving_default");
    String out = sig.getOutputsMap().keySet().iterator().next();
    SignatureDef broken = sig.toBuilder().putOutputs(out, TensorInfo.newBuilder(sig.getOutputsOrThrow(out))
        .setName("no_such_node:0").build()).build();
    Files.write(pb, sm.toBuilder().setMetaGraphs(0, meta.toBuilder().putSignatureDef("serving_default", broken))
        .build().toByteArray());
    ModelLoadException e = fails(dir, FusedModelOptions.defaults());
    assertTrue(e.getMessage().contains("no node 'no_such_node'") && e.getMessage().contains("serving_default"),
        e.getMessage());
  }

  @Test
  void aFlippedByteThatFingerprintPbCatchesIsRefused() throws IOException {
    Path dir = copy(SharedModels.model("tf2-keras-eegnet-dwconv-bn"), "flipped");
    assertTrue(Files.exists(dir.resolve("fingerprint.pb")));
    Path pb = dir.resolve("saved_model.pb");
    byte[] bytes = Files.readAllBytes(pb);
    bytes[bytes.length / 3] ^= 0x01;
    Files.write(pb, bytes);
    ModelLoadException e = fails(dir, FusedModelOptions.defaults());
    assertTrue(e.getMessage().contains("does not match its fingerprint.pb"), e.getMessage());
    assertTrue(e.getMessage().contains("verifyFingerprint(false)"), e.getMessage());
    // the original's own file is fine: its checksum holds
    try (FusedModel m = FusedModel.load(SharedModels.model("tf2-keras-eegnet-dwconv-bn"))) {
      assertTrue(m.isFused());
    }
  }

  @Test
  void versionedModelServesTheNewestVersionThatWorksAndSaysWhichWereNot() throws IOException {
    Path base = tmp.resolve("versions");
    Path v1 = javaBuilt("versions/1");
    Path v2 = copy(v1, "versions/2");
    ModelFiles.deleteTree(v2.resolve("variables")); // broken
    try (VersionedModel m = VersionedModel.open(base, FusedModelOptions.defaults(), null)) {
      assertEquals(1, m.version());
      assertTrue(m.rejected().containsKey(2L), m.rejected().toString());
      assertTrue(m.rejected().get(2L).contains("variables"), m.rejected().toString());
    }
    ModelFiles.deleteTree(v1.resolve("variables"));
    ModelLoadException none = assertThrows(ModelLoadException.class,
        () -> VersionedModel.open(base, FusedModelOptions.defaults(), null).close());
    assertTrue(none.getMessage().contains("no version"), none.getMessage());
    ModelLoadException missing = assertThrows(ModelLoadException.class,
        () -> VersionedModel.open(tmp.resolve("nowhere"), FusedModelOptions.defaults(), null).close());
    assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
  }

  @Test
  void badArgumentsOfTheServingHelpersNameWhatToFix() {
    Path dir = javaBuilt("helpers");
    try (FusedModel m = FusedModel.load(dir);
         dev.fusedtf.cache.FusedModelCache cache = dev.fusedtf.cache.FusedModelCache.builder().build()) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new dev.fusedtf.serving.MicroBatcher(m, "serving_default", 4, null));
      assertTrue(e.getMessage().contains("maxDelay"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> cache.get(null, FusedModelOptions.defaults()));
      assertTrue(e.getMessage().contains("model directory"), e.getMessage());
    }
  }
}
