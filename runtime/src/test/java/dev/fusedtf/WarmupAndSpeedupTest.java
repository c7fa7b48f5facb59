package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.metrics.FusedTfMetrics;
import dev.fusedtf.testsupport.NetBuilder;
import dev.fusedtf.internal.weights.TensorCodec;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.TensorProto;

class WarmupAndSpeedupTest {
  @TempDir Path tmp;

  private Path model() {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 2);
    String x = b.input("x", -1, 6, 6, 2);
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 2, 4, 1, "SAME", true, false), "bn", 4), "r"));
    return b.write(tmp.resolve("m"));
  }

  @Test
  void warmupRunsAtLoadAndTheSpeedupIsMeasuredWhenAsked() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    FusedModelOptions opts = FusedModelOptions.builder().warmupRuns(3).measureSpeedup(true)
        .meterRegistry(registry).modelName("m").build();
    try (FusedModel m = FusedModel.load(model(), opts)) {
      FoldReport r = m.report();
      assertNotNull(r.warmup());
      assertEquals(3, r.warmup().runs());
      assertTrue(r.warmup().firstCallMs() > 0 && r.warmup().afterWarmupMs() > 0);
      assertNotNull(r.speedup());
      assertTrue(r.speedup().original().count() > 0 && r.speedup().fused().count() > 0);
      assertTrue(r.speedup().ratio() > 0);
      assertEquals(r.speedup().ratio() < dev.fusedtf.report.Speedup.NOT_FASTER, r.speedup().faster());
      assertTrue(r.toText().contains(r.speedup().faster() ? ": faster" : "NOT faster here"), r.toText());
      assertTrue(r.timingsMs().containsKey("warmup") && r.timingsMs().containsKey("speedup"));
      assertNotNull(registry.find(FusedTfMetrics.SPEEDUP).tag("model", "m").gauge());
      JsonObject json = JsonParser.parseString(r.toJson()).getAsJsonObject();
      assertTrue(json.getAsJsonObject("speedup").has("ratio"));
      assertTrue(json.getAsJsonObject("speedup").has("faster"));
      assertTrue(r.toText().contains("warm-up: 3 runs"));
    }
  }

  @Test
  void noWarmupWhenDisabled() {
    try (FusedModel m = FusedModel.load(model(), FusedModelOptions.builder().warmupRuns(0).build())) {
      assertNull(m.report().warmup());
      assertNull(m.report().speedup());
    }
  }

  @Test
  void tfServingWarmupRecordsAreReplayed() throws IOException {
    Path dir = model();
    float[] v = new float[72];
    TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT)
        .setTensorShape(TensorCodec.shapeProto(new long[] {1, 6, 6, 2}));
    for (float f : v) {
      t.addFloatVal(f + 0.5f);
    }
    Files.createDirectories(dir.resolve("assets.extra"));
    Files.write(dir.resolve("assets.extra/tf_serving_warmup_requests"), WarmupRecordsTest.tfrecord(List.of(
        WarmupRecordsTest.predictionLog("serving_default", "x", t.build()),
        WarmupRecordsTest.predictionLog("", "x", t.build()))));
    try (FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().warmupRuns(0).build())) {
      assertEquals(2, m.report().warmup().records());
      assertEquals(0, m.report().warmup().runs());
    }
  }
}
