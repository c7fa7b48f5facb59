package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.fusedtf.errors.InvalidInputException;
import dev.fusedtf.errors.PredictionException;
import dev.fusedtf.testsupport.NetBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TString;

/**
 * Malformed requests, thrown at a real model for a bounded, seeded while, with good requests running beside them: only
 * FusedTF's exceptions come back, no good request fails or changes its answer, and the model still answers after.
 */
@Tag("cpu-sensitive")
class RequestFuzzTest {
  @TempDir static Path tmp;
  static Path dir;

  @BeforeAll
  static void model() {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 31);
    String x = b.input("x", -1, -1, -1, 3); // unknown spatial size: a VALID 3x3 conv needs at least 3x3
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "VALID", true, false), "bn", 4), "r"));
    dir = b.write(tmp.resolve("m"));
  }

  private static float[] good(int batch) {
    float[] v = new float[batch * 5 * 5 * 3];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) Math.sin(i * 0.1);
    }
    return v;
  }

  private static float[] answer(FusedModel m, int batch) {
    try (Prediction p = m.predictInputs(Map.of("x", Input.of(good(batch), batch, 5, 5, 3)))) {
      return p.floats("y");
    }
  }

  /** One random malformed (or oddly valid) request. */
  private static void bad(FusedModel m, Random r) {
    int kind = r.nextInt(11);
    List<Tensor> made = new ArrayList<>();
    try {
      Map<String, Tensor> in = new HashMap<>();
      switch (kind) {
        case 0 -> in.put(null, track(made, TFloat32.tensorOf(Shape.of(1, 5, 5, 3))));
        case 1 -> in.put("x", null);
        case 2 -> in.put("nope", track(made, TFloat32.tensorOf(Shape.of(1, 5, 5, 3))));
        case 3 -> {
          long[] dims = new long[new int[] {0, 1, 2, 3, 5}[r.nextInt(5)]];
          for (int i = 0; i < dims.length; i++) {
            dims[i] = 1 + r.nextInt(4);
          }
          in.put("x", track(made, TFloat32.tensorOf(Shape.of(dims))));
        }
        case 4 -> in.put("x", track(made, TFloat32.tensorOf(Shape.of(r.nextInt(2), r.nextBoolean() ? 0 : 1, 5, 3))));
        case 5 -> in.put("x", track(made, TFloat32.tensorOf(Shape.of(1, 1, 1 + r.nextInt(4), 3))));
        case 6 -> in.put("x", track(made, TInt32.tensorOf(Shape.of(1, 5, 5, 3))));
        case 7 -> in.put("x", track(made, TFloat64.tensorOf(Shape.of(1, 5, 5, 3))));
        case 8 -> in.put("x", track(made, TString.scalarOf("x")));
        case 9 -> {
          float[] v = new float[75];
          for (int i = 0; i < v.length; i++) {
            v[i] = r.nextBoolean() ? Float.NaN : (r.nextBoolean() ? Float.POSITIVE_INFINITY : -1e38f);
          }
          in.put("x", track(made, TFloat32.tensorOf(Shape.of(1, 5, 5, 3), DataBuffers.of(v, true, false))));
          try (Result res = m.call("serving_default", in)) {
            assertEquals(1, res.size()); // valid values, however odd: it answers
          }
          return;
        }
        default -> in.put("x", track(made, TFloat32.tensorOf(Shape.of(1, 5, 5, 3, 1))));
      }
      String sig = r.nextInt(8) == 0 ? "no_such_signature" : "serving_default";
      try (Result res = m.call(sig, in)) {
        fail("kind " + kind + " must be rejected, got " + res.size() + " outputs");
      }
    } catch (InvalidInputException | PredictionException expected) {
      assertTrue(expected.getMessage() != null && !expected.getMessage().isBlank());
    } finally {
      made.forEach(Tensor::close);
    }
  }

  private static Tensor track(List<Tensor> made, Tensor t) {
    made.add(t);
    return t;
  }

  @Test
  void malformedRequestsOnlyGetFusedTfErrorsAndNeverDisturbGoodOnes() throws Exception {
    try (FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().maxBatch(16).build())) {
      float[] want1 = answer(m, 1);
      float[] want2 = answer(m, 2);
      AtomicBoolean stop = new AtomicBoolean();
      ExecutorService pool = Executors.newFixedThreadPool(2);
      Future<Integer> goods = pool.submit(() -> {
        int n = 0;
        while (!stop.get()) {
          assertArrayEquals(want1, answer(m, 1));
          assertArrayEquals(want2, answer(m, 2));
          n += 2;
        }
        return n;
      });
      Future<Integer> bads = pool.submit(() -> {
        Random r = new Random(2026);
        int n = 0;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (System.nanoTime() < end) {
          bad(m, r);
          n++;
        }
        return n;
      });
      int badCount = bads.get(30, TimeUnit.SECONDS);
      stop.set(true);
      int goodCount = goods.get(30, TimeUnit.SECONDS);
      pool.shutdown();
      assertTrue(badCount > 50 && goodCount > 10, badCount + " bad, " + goodCount + " good requests");
      assertArrayEquals(want1, answer(m, 1), "still answers the same after");
    }
  }

  @Test
  void requestsFailTheSameWayWithAndWithoutOneDnn() {
    try (FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().maxBatch(4).maxElements(10_000).build());
         TFloat32 empty = TFloat32.tensorOf(Shape.of(0, 5, 5, 3));
         TFloat32 tiny = TFloat32.tensorOf(Shape.of(1, 1, 1, 3));
         TFloat32 big = TFloat32.tensorOf(Shape.of(8, 5, 5, 3))) {
      InvalidInputException e = assertThrows(InvalidInputException.class, () -> m.call(Map.of("x", empty)));
      assertTrue(e.getMessage().contains("zero-size dimension"), e.getMessage());
      e = assertThrows(InvalidInputException.class, () -> m.call(Map.of("x", tiny)));
      assertTrue(e.getMessage().contains("cannot take inputs of shapes {x=[1, 1, 1, 3]}"), e.getMessage());
      assertEquals("serving_default", e.signature());
      e = assertThrows(InvalidInputException.class, () -> m.call(Map.of("x", big)));
      assertTrue(e.getMessage().contains("above the limit of 4"), e.getMessage());
      Map<String, Input> huge = new LinkedHashMap<>();
      huge.put("x", Input.of(new float[3 * 60 * 60 * 3], 3, 60, 60, 3));
      e = assertThrows(InvalidInputException.class, () -> m.predictInputs(huge).close());
      assertTrue(e.getMessage().contains("above the limit of 10000"), e.getMessage());
      Map<String, Input> nullKey = new HashMap<>();
      nullKey.put(null, Input.of(good(1), 1, 5, 5, 3));
      e = assertThrows(InvalidInputException.class, () -> m.predictInputs(nullKey).close());
      assertTrue(e.getMessage().contains("input name is null"), e.getMessage());
      IllegalArgumentException neg = assertThrows(IllegalArgumentException.class,
          () -> Input.of(new float[0], -2, 5, 5, 3));
      assertTrue(neg.getMessage().contains("negative dimension"), neg.getMessage());
    }
  }
}
