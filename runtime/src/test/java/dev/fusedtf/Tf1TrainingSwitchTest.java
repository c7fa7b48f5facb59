package dev.fusedtf;

import dev.fusedtf.testsupport.SharedModels;
import static dev.fusedtf.testing.ModelAssertions.countOps;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.report.Hint;
import dev.fusedtf.report.Rewrite;
import dev.fusedtf.report.Served;
import dev.fusedtf.report.Skip;
import dev.fusedtf.report.SkipCode;
import dev.fusedtf.testsupport.NetBuilder;
import dev.fusedtf.testsupport.Tf1Layers;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;

/**
 * TF1 graphs as people trained them: BatchNorms behind {@code tf.cond} training switches on placeholders
 * ({@code tf.layers.batch_normalization(training=...)} on 4-D and 2-D input, slim's {@code is_training}), a dropout on
 * a {@code keep_prob} placeholder, and a BatchNorm of {@code tf.nn.moments}; as a checkpoint + meta, a frozen GraphDef
 * and a SavedModel. Pinned, every moving-average BatchNorm folds and the switches and the dropout go; unpinned, the
 * report says what to pin and nothing crashes.
 */
@Tag("cpu-sensitive")
class Tf1TrainingSwitchTest {
  @TempDir static Path tmp;
  static Path savedModel;
  static Path meta;
  static Path frozen;

  /** Where the model is read from. */
  enum Format { CHECKPOINT, FROZEN_GRAPH, SAVED_MODEL }

  @BeforeAll
  static void writeModels() {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF1, 23);
    Tf1Layers tf1 = new Tf1Layers(b);
    String x = b.input("x", -1, 8, 8, 3);
    String training = b.placeholder("training", DataType.DT_BOOL, false);
    String isTraining = b.placeholder("is_training", DataType.DT_BOOL, false);
    String keepProb = b.placeholder("keep_prob", DataType.DT_FLOAT, false);
    String h = b.relu(tf1.condFusedBatchNorm(b.conv2d(x, "conv1", 3, 3, 3, 4, 1, "SAME", true, false),
        "bn1", 4, training, true), "relu1");
    h = b.relu(tf1.condFusedBatchNorm(b.conv2d(h, "conv2", 3, 3, 4, 4, 1, "SAME", false, false),
        "slim_bn", 4, isTraining, false), "relu2");
    String d = b.dense(b.mean(h, "pool", 1, 2), "dense1", 4, 6, true, false);
    d = tf1.dropout(b.relu(tf1.condDecomposedBatchNorm(d, "bn3", 6, training), "relu3"), "dropout", keepProb);
    b.output("y", tf1.momentsBatchNorm(b.dense(d, "dense2", 6, 3, true, false), "post_bn", 3, 0));
    savedModel = b.write(tmp.resolve("saved"));
    meta = b.writeCheckpoint(tmp.resolve("ckpt"));
    frozen = b.writeFrozenGraph(tmp.resolve("frozen").resolve("model.pb"));
  }

  private static ModelSource source(Format f) {
    return switch (f) {
      case CHECKPOINT -> ModelSource.checkpoint(meta, null, List.of("x:0"), List.of("post_bn/batchnorm/add_1:0"));
      case FROZEN_GRAPH -> ModelSource.frozenGraph(frozen, List.of("x:0"), List.of("post_bn/batchnorm/add_1:0"));
      case SAVED_MODEL -> ModelSource.savedModel(savedModel);
    };
  }

  private static FusedModelOptions pinned() {
    return FusedModelOptions.builder().pin("training", false).pin("is_training:0", "false").pin("keep_prob", 1.0)
        .strict(true).build();
  }

  private static float[] input(int batch) {
    Random r = new Random(batch);
    float[] v = new float[batch * 8 * 8 * 3];
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextFloat() * 2 - 1;
    }
    return v;
  }

  /** The original, run by plain TensorFlow with the pins fed. */
  private static float[] original(float[] x, int batch) {
    try (SavedModelBundle b = SavedModelBundle.load(savedModel.toString(), "serve");
         TFloat32 in = TFloat32.tensorOf(Shape.of(batch, 8, 8, 3), DataBuffers.of(x, true, false));
         TBool f = TBool.scalarOf(false);
         TFloat32 one = TFloat32.scalarOf(1f)) {
      Session.Runner r = b.session().runner().feed("x:0", in).feed("training:0", f).feed("is_training:0", f)
          .feed("keep_prob:0", one).fetch("post_bn/batchnorm/add_1:0");
      try (Result res = r.run()) {
        return floats(res.get(0));
      }
    }
  }

  private static float[] floats(org.tensorflow.Tensor t) {
    double[] d = TensorCodec.fromTensor(t).values();
    float[] out = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      out[i] = (float) d[i];
    }
    return out;
  }

  private static void assertClose(float[] want, float[] got) {
    assertEquals(want.length, got.length);
    double scale = 0;
    double abs = 0;
    for (int i = 0; i < want.length; i++) {
      abs = Math.max(abs, Math.abs(want[i] - got[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    assertTrue(abs <= 1e-5 || abs / scale <= 1e-4, "max abs diff " + abs + ", scale " + scale);
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  void pinnedEveryMovingAverageBatchNormFoldsAndTheSwitchesGo(Format format) {
    try (FusedModel m = FusedModel.load(source(format), pinned())) {
      FoldReport r = m.report();
      assertEquals(Served.FUSED, r.served(), r.toText());
      assertEquals(3, r.folds().size(), r.toText());
      assertTrue(r.folds().stream().anyMatch(f -> f.bn().equals("bn1/cond/FusedBatchNorm_1")), r.toText());
      assertTrue(r.folds().stream().anyMatch(f -> f.bn().equals("slim_bn/cond/FusedBatchNorm_1")), r.toText());
      assertTrue(r.folds().stream().anyMatch(f -> f.bn().equals("bn3/batchnorm/add_1")
          && f.pattern().startsWith("MatMul")), r.toText());
      Skip moments = r.skipped().stream().filter(s -> s.bn().equals("post_bn/batchnorm/add_1")).findFirst()
          .orElseThrow(() -> new AssertionError(r.toText()));
      assertEquals(SkipCode.BATCH_STATISTICS, moments.code(), r.toText());
      assertEquals(3, r.pins().size());
      assertTrue(r.rewrites().stream().anyMatch(w -> w.kind() == Rewrite.Kind.CONTROL_FLOW), r.toText());
      assertTrue(r.rewrites().stream().anyMatch(w -> w.kind() == Rewrite.Kind.DROPOUT), r.toText());
      GraphDef g = m.metaGraphDef().getGraphDef();
      assertEquals(0, countOps(g, "Switch", "Merge", "RandomUniform", "FusedBatchNorm", "Placeholder") - 1,
          "only x is left as a placeholder; no Switch, Merge, RandomUniform or FusedBatchNorm on the serving path");
      assertEquals(List.of("x"), List.copyOf(m.defaultSignature().getInputs().keySet()), "pins are not inputs");
      assertTrue(m.check().passed() && m.check().folds().stream().allMatch(f -> f.compared()), r.toText());
      for (int batch : new int[] {1, 4}) {
        float[] x = input(batch);
        try (Prediction p = m.predictInputs(Map.of("x", Input.of(x, batch, 8, 8, 3)))) {
          assertClose(original(x, batch), p.floats(p.names().iterator().next()));
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  void unpinnedTheReportNamesWhatToPinAndNothingCrashes(Format format) {
    FoldReport r = FusedModel.inspect(source(format), FusedModelOptions.defaults());
    List<String> hinted = r.hints().stream().map(Hint::node).toList();
    assertTrue(hinted.containsAll(List.of("training", "is_training", "keep_prob")), r.toText());
    Hint keep = r.hints().stream().filter(h -> h.node().equals("keep_prob")).findFirst().orElseThrow();
    assertEquals("--set keep_prob:0=1.0", keep.suggestion());
    assertTrue(r.hints().stream().filter(h -> h.node().equals("training")).findFirst().orElseThrow().suggestion()
        .equals("--set training:0=false"), r.toText());
    assertTrue(r.skipped().stream().anyMatch(s -> s.code() == SkipCode.TRAINING_SWITCH), r.toText());
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> FusedModel.load(source(format), FusedModelOptions.defaults()).close());
    assertTrue(e.getMessage().contains("placeholder") && e.getMessage().contains("--set"), e.getMessage());
  }

  @Test
  void fuseWithPinsWritesAModelPlainTensorFlowRunsWithoutThem() {
    FusedArtifact a = FusedArtifact.fuse(source(Format.CHECKPOINT), pinned());
    Path out = tmp.resolve("fused-from-ckpt");
    a.writeSavedModel(out, false);
    float[] x = input(2);
    try (SavedModelBundle b = SavedModelBundle.load(out.toString(), "serve");
         TFloat32 in = TFloat32.tensorOf(Shape.of(2, 8, 8, 3), DataBuffers.of(x, true, false))) {
      org.tensorflow.Signature sig = b.signatures().stream().filter(s -> s.key().equals("serving_default"))
          .findFirst().orElseThrow();
      assertEquals(List.of("x"), List.copyOf(sig.getInputs().keySet()));
      try (Result res = b.session().run(sig, Map.of("x", in))) {
        assertClose(original(x, 2), floats(res.get(0)));
      }
    }
  }

  @Test
  void badPinsAreClearErrors() {
    IllegalArgumentException notPlaceholder = assertThrows(IllegalArgumentException.class, () -> FusedModel.load(
        source(Format.SAVED_MODEL), FusedModelOptions.builder().pin("conv1/Conv2D", 1.0).build()).close());
    assertTrue(notPlaceholder.getMessage().contains("not a Placeholder"), notPlaceholder.getMessage());
    IllegalArgumentException wrongType = assertThrows(IllegalArgumentException.class, () -> FusedModel.load(
        source(Format.SAVED_MODEL), FusedModelOptions.builder().pin("training", 0.5).build()).close());
    assertTrue(wrongType.getMessage().contains("true or false"), wrongType.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> FusedModel.load(
        source(Format.SAVED_MODEL), FusedModelOptions.builder().pin("no_such", true).build()).close());
    assertTrue(missing.getMessage().contains("no node 'no_such'"), missing.getMessage());
    assertNotNull(pinned());
    assertFalse(pinned().pins().isEmpty());
  }

  @Test
  void aRandomOpLeftOnTheServingPathIsReportedAsNondeterminismNotAsAFailedFold() {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF1, 5);
    Tf1Layers tf1 = new Tf1Layers(b);
    String x = b.input("x", -1, 6, 6, 3);
    String h = b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", true, false), "bn", 4), "relu");
    String half = b.constant("keep", dev.fusedtf.testsupport.Values.floats(new double[] {0.5}));
    b.output("y", tf1.dropout(h, "dropout", half)); // a dropout left in training behaviour
    Path dir = b.write(tmp.resolve("noisy"));
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(1, m.report().folds().size(), m.report().toText());
      assertFalse(m.check().nondeterministic().isEmpty(), m.report().toText());
      assertTrue(m.check().nondeterministic().get(0).contains("RandomUniform"), m.check().nondeterministic().toString());
      assertTrue(m.check().folds().get(0).passed(), "the fold itself checks out: " + m.report().toText());
      assertEquals(Served.ORIGINAL, m.served());
      assertTrue(m.report().fallbackReason().contains("nondeterministic"), m.report().fallbackReason());
    }
  }

  @Test
  void guessedOutputsOfAGraphWithoutSignaturesAreNamedLikeliestFirst() {
    Path pb = dev.fusedtf.testsupport.SharedModels.model("tf1-frozen-kws-dscnn-s").resolve("DS_CNN_S.pb");
    FoldReport r = FusedModel.inspect(ModelSource.frozenGraph(pb, List.of(), List.of()), FusedModelOptions.defaults());
    Hint out = r.hints().stream().filter(h -> h.kind().equals("output")).findFirst()
        .orElseThrow(() -> new AssertionError(r.toText()));
    assertTrue(out.suggestion().startsWith("--outputs labels_softmax:0"), out.toString());
  }
}
