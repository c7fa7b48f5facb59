package dev.fusedtf.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.testing.TestNets;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/** Micrometer meters: predict outcomes, load phases, fold gauges; nothing without a registry. */
class MetricsTest {
  @TempDir static Path tmp;
  static Path dir;

  @BeforeAll
  static void model() {
    dir = TestNets.convBnRelu(tmp.resolve("convnet"), 5);
  }

  static Map<String, Input> ok() {
    return Map.of("x", Input.of(new float[72], 1, 6, 6, 2));
  }

  static long count(SimpleMeterRegistry r, String model, String signature, String outcome) {
    Timer t = r.find(FusedTfMetrics.PREDICT).tag("model", model).tag("signature", signature).tag("outcome", outcome)
        .timer();
    assertNotNull(t, signature + "/" + outcome);
    return t.count();
  }

  @Test
  void predictLoadAndFoldMeters() {
    SimpleMeterRegistry r = new SimpleMeterRegistry();
    FusedModelOptions opts = FusedModelOptions.builder().meterRegistry(r).modelName("kws").build();
    FusedModel m = FusedModel.load(dir, opts);
    try (m) {
      // timers exist at zero before any call
      assertEquals(0, count(r, "kws", "serving_default", "success"));
      for (int i = 0; i < 3; i++) {
        try (Prediction p = m.predictInputs(ok())) {
          assertEquals(72 * 2, p.floats("y").length);
        }
      }
      try (TFloat32 x = TFloat32.tensorOf(Shape.of(1, 6, 6, 2)); Result res = m.call(Map.of("x", x))) {
        assertEquals(1, res.size());
      }
      try (TFloat32 rank3 = TFloat32.tensorOf(Shape.of(6, 6, 2))) {
        assertThrows(IllegalArgumentException.class, () -> m.predict(Map.of("x", rank3)));
      }
      assertThrows(IllegalArgumentException.class, () -> m.predictInputs("other", ok()));
      assertEquals(4, count(r, "kws", "serving_default", "success"));
      assertEquals(1, count(r, "kws", "serving_default", "invalid_input"));
      assertEquals(0, count(r, "kws", "serving_default", "error"));
      assertEquals(1, count(r, "kws", FusedTfMetrics.UNKNOWN_SIGNATURE, "invalid_input"));
      assertTrue(r.find(FusedTfMetrics.PREDICT).tag("signature", "other").timers().isEmpty(),
          "unknown signature names do not become tag values");

      for (String phase : new String[] {"load", "fold", "originalFirstRun", "rebuild", "checkCopies", "check", "warmup"}) {
        Timer t = r.find(FusedTfMetrics.LOAD).tag("model", "kws").tag("phase", phase).timer();
        assertNotNull(t, phase);
        assertEquals(1, t.count(), phase);
      }
      assertEquals(7, r.find(FusedTfMetrics.LOAD).timers().size());

      Gauge folds = r.find(FusedTfMetrics.FOLDS).tag("model", "kws").gauge();
      assertNotNull(folds);
      assertEquals(m.report().folds().size(), (int) folds.value());
      assertEquals(1, (int) folds.value());
      assertEquals(m.report().nodesBefore(),
          (int) r.find(FusedTfMetrics.NODES).tag("model", "kws").tag("stage", "before").gauge().value());
      assertEquals(m.report().nodesAfter(),
          (int) r.find(FusedTfMetrics.NODES).tag("model", "kws").tag("stage", "after").gauge().value());
      assertTrue(m.report().nodesAfter() < m.report().nodesBefore());
    }
    assertThrows(IllegalStateException.class, () -> m.predictInputs(ok()));
    assertEquals(1, count(r, "kws", "serving_default", "error"));
    assertNull(r.find(FusedTfMetrics.FOLDS).gauge(), "a closed model's gauges are removed");
    assertNull(r.find(FusedTfMetrics.NODES).gauge());
  }

  @Test
  void modelTagDefaultsToDirectoryName() {
    SimpleMeterRegistry r = new SimpleMeterRegistry();
    try (FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().meterRegistry(r).build());
         Prediction p = m.predictInputs(ok())) {
      assertEquals(1, count(r, "convnet", "serving_default", "success"));
    }
  }

  @Test
  void aReloadUnderTheSameNameKeepsTheNewGauges() {
    SimpleMeterRegistry r = new SimpleMeterRegistry();
    FusedModelOptions opts = FusedModelOptions.builder().meterRegistry(r).modelName("same").build();
    FusedModel old = FusedModel.load(dir, opts);
    try (FusedModel next = FusedModel.load(dir, opts)) {
      old.close();
      assertNotNull(r.find(FusedTfMetrics.FOLDS).tag("model", "same").gauge(), "the new model's gauge stays");
      assertEquals(2, r.find(FusedTfMetrics.NODES).gauges().size());
      assertEquals(2, r.find(FusedTfMetrics.LOAD).tag("phase", "load").timer().count());
    }
    assertNull(r.find(FusedTfMetrics.FOLDS).gauge());
  }

  @Test
  void noRegistryNoMetricsAndNeverTheGlobalRegistry() {
    SimpleMeterRegistry global = new SimpleMeterRegistry();
    Metrics.globalRegistry.add(global);
    try (FusedModel m = FusedModel.load(dir);
         Prediction p = m.predictInputs(ok())) {
      assertEquals(1, p.names().size());
      assertTrue(Metrics.globalRegistry.find(FusedTfMetrics.PREDICT).meters().isEmpty());
      assertTrue(Metrics.globalRegistry.find(FusedTfMetrics.LOAD).meters().isEmpty());
      assertTrue(Metrics.globalRegistry.find(FusedTfMetrics.FOLDS).meters().isEmpty());
      assertTrue(global.getMeters().isEmpty(), global.getMetersAsString());
    } finally {
      Metrics.globalRegistry.remove(global);
    }
  }
}
