package dev.fusedtf.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.RuntimeVersion;
import dev.fusedtf.FusedModel;
import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.report.Served;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * TensorFlow Java 1.1.0 was built against protobuf-java 3.21.9; Spark 4.1.1 brings 4.33.0 and on a cluster its jars
 * come first. This module's test classpath has Spark's version, and the whole FusedTF path runs on it.
 */
class ProtobufClasspathTest {
  @Test
  void theRuntimeFoldsChecksServesAndWritesOnSparksProtobuf() throws Exception {
    assertEquals(4, RuntimeVersion.MAJOR);
    assertEquals(33, RuntimeVersion.MINOR);
    String jar = com.google.protobuf.Message.class.getProtectionDomain().getCodeSource().getLocation().toString();
    assertTrue(jar.contains("protobuf-java-4.33.0"), jar);

    Path dir = TestSpark.smallModel("protobuf");
    Path written = TestSpark.root().resolve("protobuf-written");
    float[] x = TestSpark.data(1, 32, 5)[0];
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(Served.FUSED, m.served());                      // parsed, folded, rebuilt
      assertTrue(m.check().passed(), m.report().toText());         // checked against the original
      assertFalse(m.report().folds().isEmpty());
      assertTrue(m.report().toJson().contains("\"folds\""));
      m.writeSavedModel(written, true);                            // serialized again
      float[] y;
      try (Prediction p = m.predictInputs(Map.of("x", Input.of(x, 1, 4, 4, 2)))) {
        y = p.floats("y");
      }
      try (SavedModelBundle plain = SavedModelBundle.load(written.toString(), "serve");
           TFloat32 t = TFloat32.tensorOf(Shape.of(1, 4, 4, 2), DataBuffers.of(x, true, false));
           var r = plain.call(Map.of("x", t))) {
        TFloat32 out = (TFloat32) r.get("y").orElseThrow();
        for (int j = 0; j < y.length; j++) {
          assertEquals(y[j], out.getFloat(0, j), 1e-6);
        }
      }
    }
  }
}
