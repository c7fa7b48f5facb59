package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.testing.TestNets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * {@link FusedModel#close()} during a stream of calls from other threads: calls in flight finish, outputs stay
 * readable, and every later call fails with {@code IllegalStateException("... closed")}: nothing else, no crash.
 */
class CloseDuringCallsTest {
  @TempDir Path tmp;

  @Test
  void closeDuringCallsOnlyEverFailsWithClosed() throws Exception {
    Path dir = TestNets.convBnRelu(tmp.resolve("m"), 11);
    float[] x = TestNets.input(2, 3);
    float[] expected;
    try (FusedModel m = FusedModel.load(dir);
         Prediction p = m.predictInputs(Map.of("x", Input.of(x, 2, 6, 6, 2)))) {
      expected = p.floats("y");
    }
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      for (int round = 0; round < 3; round++) {
        FusedModel model = FusedModel.load(dir);
        ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        CountDownLatch running = new CountDownLatch(threads);
        List<Future<int[]>> results = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          int kind = t % 3;
          results.add(pool.submit(() -> {
            int ok = 0;
            int closed = 0;
            boolean counted = false;
            while (closed < 20) { // keep calling well past the close
              try {
                float[] y = call(model, kind, x);
                if (!java.util.Arrays.equals(expected, y)) {
                  unexpected.add(new AssertionError("wrong output"));
                }
                ok++;
              } catch (IllegalStateException e) {
                if (e.getMessage() == null || !e.getMessage().contains("closed")) {
                  unexpected.add(e);
                }
                closed++;
              } catch (Throwable e) {
                unexpected.add(e);
                closed++;
              }
              if (!counted && ok > 0) {
                running.countDown();
                counted = true;
              }
            }
            if (!counted) {
              running.countDown();
            }
            return new int[] {ok, closed};
          }));
        }
        assertTrue(running.await(60, TimeUnit.SECONDS));
        Thread.sleep(50);
        model.close();
        assertTrue(model.isClosed());
        int okTotal = 0;
        for (Future<int[]> f : results) {
          int[] r = f.get(60, TimeUnit.SECONDS);
          okTotal += r[0];
          assertEquals(20, r[1]);
        }
        assertTrue(unexpected.isEmpty(), "round " + round + ": " + unexpected);
        assertTrue(okTotal >= threads, "every thread succeeded before the close: " + okTotal);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** One call of the given kind; the outputs are read after the call returns (possibly after the close). */
  private static float[] call(FusedModel model, int kind, float[] x) {
    switch (kind) {
      case 0 -> {
        try (Prediction p = model.predictInputs(Map.of("x", Input.of(x, 2, 6, 6, 2)))) {
          return p.floats("y");
        }
      }
      case 1 -> {
        try (TFloat32 t = TFloat32.tensorOf(Shape.of(2, 6, 6, 2), DataBuffers.of(x, true, false));
             Prediction p = model.predict(Map.of("x", t))) {
          return p.floats("y");
        }
      }
      default -> {
        try (TFloat32 t = TFloat32.tensorOf(Shape.of(2, 6, 6, 2), DataBuffers.of(x, true, false));
             Result r = model.call(Map.of("x", t))) {
          TFloat32 y = (TFloat32) r.get("y").orElseThrow();
          float[] out = new float[Math.toIntExact(y.shape().size())];
          y.copyTo(DataBuffers.of(out, false, false));
          return out;
        }
      }
    }
  }
}
