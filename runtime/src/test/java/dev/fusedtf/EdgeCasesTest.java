package dev.fusedtf;

import static dev.fusedtf.testing.ModelAssertions.assertSameOutputs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.serving.MicroBatcher;
import dev.fusedtf.testsupport.NetBuilder;
import dev.fusedtf.testsupport.NetBuilder.Style;
import dev.fusedtf.internal.weights.TensorCodec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorflow.Result;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;

/** Cases found in review: each once made a fold wrong, a load fail, or a request hang. */
@Tag("cpu-sensitive")
class EdgeCasesTest {
  @TempDir Path tmp;

  private Path write(NetBuilder b, String name) {
    return b.write(tmp.resolve(name + System.nanoTime()));
  }

  @Test
  void unknownSpatialSizesAndARejectedProbeDoNotFailTheLoad() {
    NetBuilder b = new NetBuilder(Style.TF2, 3);
    String x = b.input("x", -1, -1, -1, 3);
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "VALID", true, false), "bn", 4), "r"));
    Path dir = write(b, "dyn");
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(1, m.report().folds().size());
      assertTrue(m.isFused(), m.report().toText());
    }
    // probes too small for the VALID conv: the check cannot run, warm-up fails; the load still succeeds
    FusedModelOptions tiny = FusedModelOptions.builder()
        .probes((sig, batch, i) -> Map.of("x", TFloat32.tensorOf(Shape.of(batch, 1, 1, 3)))).build();
    try (FusedModel m = FusedModel.load(dir, tiny)) {
      assertEquals(dev.fusedtf.report.Served.ORIGINAL, m.report().served());
    }
  }

  @Test
  void addBiasThenDecomposedBnInAFunctionBodyFoldsBoth() {
    NetBuilder b = new NetBuilder(Style.TF2, 4);
    String x = b.input("x", -1, 6);
    String mm = b.op("MatMul", "dense/MatMul", List.of(x, b.variable("dense/kernel", b.randomNormal(0.4, 6, 5))),
        Map.of("T", dev.fusedtf.internal.graph.Nodes.type(DataType.DT_FLOAT)));
    b.output("y", b.decomposedBatchNorm(b.addBias(mm, "dense/add", 5), "bn", 5, false, 0));
    Path dir = write(b, "addbn");
    try (FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().strict(true).build())) {
      // one BatchNorm removed; the bias Add before it is absorbed by the same fold, not counted as another
      assertEquals(1, m.report().folds().size(), m.report().toText());
      assertEquals("MatMul+AddV2+DecomposedBatchNorm", m.report().folds().get(0).pattern(), m.report().toText());
      assertSameOutputs(dir, m, 1e-5, 1e-4, 1, 4);
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void explicitPaddingBlocksAForwardFold(Style style) {
    NetBuilder b = new NetBuilder(style, 5);
    String x = b.input("x", -1, 5, 5, 3);
    String bn = b.batchNorm(b.relu(x, "pre"), "bn", 3);
    String k = b.variable("conv/kernel", b.randomNormal(0.5, 1, 1, 3, 4));
    AttrValue.ListValue.Builder pads = AttrValue.ListValue.newBuilder();
    for (long p : new long[] {0, 0, 1, 1, 1, 1, 0, 0}) {
      pads.addI(p);
    }
    AttrValue.ListValue.Builder strides = AttrValue.ListValue.newBuilder().addI(1).addI(1).addI(1).addI(1);
    b.output("y", b.op("Conv2D", "conv/Conv2D", List.of(bn, k), Map.of(
        "T", dev.fusedtf.internal.graph.Nodes.type(DataType.DT_FLOAT),
        "strides", AttrValue.newBuilder().setList(strides).build(),
        "padding", dev.fusedtf.internal.graph.Nodes.string("EXPLICIT"),
        "explicit_paddings", AttrValue.newBuilder().setList(pads).build())));
    Path dir = write(b, "explicit");
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(0, m.report().folds().size(), m.report().toText());
      assertTrue(m.report().skipped().stream().anyMatch(s -> s.reason().contains("EXPLICIT padding")),
          m.report().toText());
      assertSameOutputs(dir, m, 0, 0, 1);
    }
  }

  @Test
  void deadReadersOfFoldedNodesAreNoObstacle() {
    NetBuilder b = new NetBuilder(Style.TF1, 6);
    String x = b.input("x", -1, 5, 5, 2);
    String conv = b.conv2d(x, "conv", 3, 3, 2, 3, 1, "SAME", true, false);
    String bn = b.batchNorm(conv, "bn", 3);
    // what a TF1 training graph has: readers no signature runs (a gradient of the BiasAdd, a BN statistic)
    b.identity(conv, "gradients/conv_grad");
    b.op("Identity", "gradients/bn_stat", List.of(bn.replace(":0", "") + ":1"),
        Map.of("T", dev.fusedtf.internal.graph.Nodes.type(DataType.DT_FLOAT)));
    b.output("y", b.relu(bn, "r"));
    Path dir = write(b, "dead");
    try (FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().strict(true).build())) {
      assertEquals(1, m.report().folds().size(), m.report().toText());
      assertSameOutputs(dir, m, 1e-5, 1e-4, 1);
    }
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void aMulFetchedBySignatureIsKept(Style style) {
    NetBuilder b = new NetBuilder(style, 7);
    String x = b.input("x", -1, 4, 4, 2);
    String conv = b.conv2d(x, "conv", 1, 1, 2, 3, 1, "SAME", false, false);
    String mul = b.op("Mul", "scale/mul", List.of(conv, b.variable("scale/s", b.randomUniform(0.5, 1.5, 3))),
        Map.of("T", dev.fusedtf.internal.graph.Nodes.type(DataType.DT_FLOAT)));
    b.output("y", b.addBias(mul, "scale/add", 3));
    b.output("scaled", mul);
    Path dir = write(b, "fetchedmul");
    try (FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().strict(true).build())) {
      assertSameOutputs(dir, m, 1e-5, 1e-4, 1, 2);
    }
  }

  @Test
  void microBatcherRunsDifferentValidShapesSeparately() throws Exception {
    NetBuilder b = new NetBuilder(Style.TF2, 8);
    String x = b.input("x", -1, -1, 4);
    b.output("y", b.mean(b.relu(b.addBias(x, "shift", 4), "r"), "pool", 1));
    try (FusedModel m = FusedModel.load(write(b, "seq"));
         MicroBatcher batcher = new MicroBatcher(m, "serving_default", 8, Duration.ofMillis(200))) {
      float[] a = new float[3 * 4];
      float[] c = new float[5 * 4];
      java.util.Arrays.fill(a, 1f);
      java.util.Arrays.fill(c, 2f);
      CompletableFuture<Map<String, Tensor>> fa;
      CompletableFuture<Map<String, Tensor>> fc;
      double[] expectA;
      double[] expectC;
      try (TFloat32 ta = TFloat32.tensorOf(Shape.of(1, 3, 4), DataBuffers.of(a, true, false));
           TFloat32 tc = TFloat32.tensorOf(Shape.of(1, 5, 4), DataBuffers.of(c, true, false))) {
        try (Result r1 = m.call(Map.of("x", ta)); Result r2 = m.call(Map.of("x", tc))) {
          expectA = TensorCodec.fromTensor(r1.get(0)).values();
          expectC = TensorCodec.fromTensor(r2.get(0)).values();
        }
        fa = batcher.submit(Map.of("x", ta));
        fc = batcher.submit(Map.of("x", tc));
      }
      Map<String, Tensor> ra = fa.get();
      Map<String, Tensor> rc = fc.get();
      try {
        assertArrayEquals(expectA, TensorCodec.fromTensor(ra.get("y")).values(), 1e-6);
        assertArrayEquals(expectC, TensorCodec.fromTensor(rc.get("y")).values(), 1e-6);
      } finally {
        ra.values().forEach(Tensor::close);
        rc.values().forEach(Tensor::close);
      }
    }
  }
}
