package dev.fusedtf.serving;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.FusedModel;
import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.testing.TestNets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** The predict API: tensors in, {@link Prediction} out; plain arrays in; validation; concurrency; ownership. */
class PredictTest {
  @TempDir static Path tmp;
  static FusedModel model;

  @BeforeAll
  static void load() {
    model = FusedModel.load(TestNets.convBnRelu(tmp.resolve("m"), 3));
    assertTrue(model.isFused(), model.report().toText());
  }

  @AfterAll
  static void close() {
    model.close();
  }

  @Test
  void predictTensorsAndArraysAgree() {
    float[] x = TestNets.input(2, 7);
    try (TFloat32 t = TFloat32.tensorOf(Shape.of(2, 6, 6, 2), DataBuffers.of(x, true, false));
         Prediction a = model.predict(Map.of("x", t));
         Prediction b = model.predict("serving_default", Map.of("x", t));
         Prediction c = model.predictInputs("serving_default", Map.of("x", Input.of(x, 2, 6, 6, 2)));
         Prediction d = model.predictInputs(Map.of("x", Input.of(x, 2, 6, 6, 2)))) {
      assertEquals(Set.of("y"), a.names());
      assertEquals("serving_default", a.signature());
      assertArrayEquals(new long[] {2, 6, 6, 4}, a.shape("y"));
      float[] y = a.floats("y");
      assertEquals(2 * 6 * 6 * 4, y.length);
      assertArrayEquals(y, b.floats("y"));
      assertArrayEquals(y, c.floats("y"));
      assertArrayEquals(y, d.floats("y"));
      assertEquals(org.tensorflow.proto.DataType.DT_FLOAT, a.tensor("y").dataType());
      y[0] = 12345f; // a copy: the tensor is unchanged
      assertFalse(a.floats("y")[0] == 12345f);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.tensor("nope"));
      assertTrue(e.getMessage().contains("[y]"), e.getMessage());
    }
  }

  @Test
  void predictionClosesItsTensors() {
    Prediction p = model.predictInputs(Map.of("x", Input.of(TestNets.input(1, 1), 1, 6, 6, 2)));
    Tensor y;
    try (p) {
      y = p.tensor("y");
      assertTrue(y.numBytes() > 0);
      assertFalse(p.isClosed());
    }
    assertTrue(p.isClosed());
    assertThrows(IllegalStateException.class, y::numBytes, "the output tensor is freed");
    assertThrows(IllegalStateException.class, () -> p.floats("y"));
    assertThrows(IllegalStateException.class, () -> p.shape("y"));
    p.close(); // idempotent
  }

  @Test
  void concurrentPredictionsEqualSingleThreadedOnes() throws Exception {
    int threads = 16;
    int calls = 50;
    int distinct = 4;
    List<float[]> inputs = new ArrayList<>();
    List<float[]> expected = new ArrayList<>();
    for (int i = 0; i < distinct; i++) {
      float[] x = TestNets.input(1 + i % 2, 100 + i);
      inputs.add(x);
      try (Prediction p = model.predictInputs(Map.of("x", Input.of(x, 1 + i % 2, 6, 6, 2)))) {
        expected.add(p.floats("y"));
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Integer>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          start.await();
          int checked = 0;
          for (int c = 0; c < calls; c++) {
            int i = (thread + c) % distinct;
            long batch = 1 + i % 2;
            if (c % 2 == 0) {
              try (Prediction p = model.predictInputs(Map.of("x", Input.of(inputs.get(i), batch, 6, 6, 2)))) {
                assertArrayEquals(expected.get(i), p.floats("y"), "thread " + thread + " call " + c);
              }
            } else {
              try (TFloat32 x = TFloat32.tensorOf(Shape.of(batch, 6, 6, 2), DataBuffers.of(inputs.get(i), true, false));
                   Prediction p = model.predict(Map.of("x", x))) {
                assertArrayEquals(expected.get(i), p.floats("y"), "thread " + thread + " call " + c);
              }
            }
            checked++;
          }
          return checked;
        }));
      }
      start.countDown();
      int total = 0;
      for (Future<Integer> f : done) {
        total += f.get(60, TimeUnit.SECONDS);
      }
      assertEquals(threads * calls, total);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void badInputsThrowIllegalArgumentExceptionNotACrash() {
    // rank 3 into a Conv2D: TensorFlow under oneDNN would abort the JVM; Java rejects it first
    try (TFloat32 rank3 = TFloat32.tensorOf(Shape.of(6, 6, 2));
         TInt32 ints = TInt32.tensorOf(Shape.of(1, 6, 6, 2))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> model.predict(Map.of("x", rank3)));
      assertTrue(e.getMessage().contains("'x'") && e.getMessage().contains("[?, 6, 6, 2]"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> model.predict(Map.of("x", ints)));
      assertTrue(e.getMessage().contains("DT_FLOAT"), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class,
        () -> model.predictInputs(Map.of("x", Input.of(new float[72], 6, 6, 2))));
    assertThrows(IllegalArgumentException.class,
        () -> model.predictInputs(Map.of("x", Input.of(new float[72], 1, 6, 6, 2), "z", Input.of(new int[1], 1))));
    assertThrows(IllegalArgumentException.class, () -> model.predictInputs("nope", Map.of()));
    assertThrows(IllegalArgumentException.class, () -> model.predictInputs(Map.of()));
    // still serving
    try (Prediction p = model.predictInputs(Map.of("x", Input.of(new float[72], 1, 6, 6, 2)))) {
      assertEquals(144, p.floats("y").length);
    }
  }

  @Test
  void inputChecksDataAgainstShape() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Input.of(new float[5], 2, 3));
    assertTrue(e.getMessage().contains("5 values") && e.getMessage().contains("needs 6"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Input.of(new int[6], -1, 6));
    assertThrows(IllegalArgumentException.class, () -> Input.of(new long[1], Long.MAX_VALUE, 4));
    assertThrows(IllegalArgumentException.class, () -> Input.of(new String[] {"a", null}, 2));
    assertEquals(org.tensorflow.proto.DataType.DT_FLOAT, Input.of(new float[] {1f}).dataType()); // scalar
    float[] data = {1, 2, 3, 4};
    Input in = Input.of(data, 2, 2);
    data[0] = 99; // copied at construction
    try (Tensor t = in.toTensor()) {
      assertEquals(1f, ((TFloat32) t).getFloat(0, 0));
      assertArrayEquals(new long[] {2, 2}, t.shape().asArray());
    }
    try (Tensor t = Input.of(new String[] {"a", "bc"}, 2).toTensor();
         Tensor l = Input.of(new long[] {1, 2, 3}, 3).toTensor();
         Tensor i = Input.of(new int[] {1, 2, 3}, 3, 1).toTensor()) {
      assertEquals(org.tensorflow.proto.DataType.DT_STRING, t.dataType());
      assertEquals("bc", ((org.tensorflow.types.TString) t).getObject(1));
      assertEquals(3L, ((org.tensorflow.types.TInt64) l).getLong(2));
      assertEquals(2, ((TInt32) i).getInt(1, 0));
    }
  }
}
