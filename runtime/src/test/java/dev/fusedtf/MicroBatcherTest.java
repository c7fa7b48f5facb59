package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.serving.MicroBatcher;
import dev.fusedtf.testsupport.NetBuilder;
import dev.fusedtf.internal.weights.TensorCodec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

class MicroBatcherTest {
  @TempDir Path tmp;

  @Test
  void concurrentSingleRequestsAreBatchedAndMatchUnbatchedResults() throws Exception {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 4);
    String x = b.input("x", -1, 6, 6, 2);
    b.output("y", b.mean(b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 2, 4, 1, "SAME", true, false), "bn", 4), "r"),
        "pool", 1, 2));
    try (FusedModel m = FusedModel.load(b.write(tmp.resolve("m")));
         MicroBatcher batcher = new MicroBatcher(m, "serving_default", 8, Duration.ofMillis(20))) {
      int n = 16;
      List<float[]> inputs = new ArrayList<>();
      List<double[]> expected = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        float[] v = new float[72];
        for (int k = 0; k < v.length; k++) {
          v[k] = (float) Math.sin(i * 31 + k);
        }
        inputs.add(v);
        try (TFloat32 t = TFloat32.tensorOf(Shape.of(1, 6, 6, 2), DataBuffers.of(v, true, false));
             Result r = m.call(Map.of("x", t))) {
          expected.add(TensorCodec.fromTensor(r.get(0)).values());
        }
      }
      ExecutorService pool = Executors.newFixedThreadPool(n);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<double[]>> got = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        float[] v = inputs.get(i);
        got.add(pool.submit(() -> {
          go.await();
          CompletableFuture<Map<String, Tensor>> f;
          try (TFloat32 t = TFloat32.tensorOf(Shape.of(1, 6, 6, 2), DataBuffers.of(v, true, false))) {
            f = batcher.submit(Map.of("x", t));
          }
          Map<String, Tensor> out = f.join();
          try {
            assertArrayEquals(new long[] {1, 4}, out.get("y").shape().asArray());
            return TensorCodec.fromTensor(out.get("y")).values();
          } finally {
            out.values().forEach(Tensor::close);
          }
        }));
      }
      go.countDown();
      for (int i = 0; i < n; i++) {
        assertArrayEquals(expected.get(i), got.get(i).get(), 1e-6);
      }
      pool.shutdown();
      assertEquals(n, batcher.requestsServed());
      assertTrue(batcher.batchesRun() < n, "requests were stacked: " + batcher.batchesRun() + " calls");
      try (TFloat32 two = TFloat32.tensorOf(Shape.of(2, 6, 6, 2));
           TFloat32 bad = TFloat32.tensorOf(Shape.of(1, 5, 6, 2))) {
        assertThrows(IllegalArgumentException.class, () -> batcher.submit(Map.of("x", two)));
        assertThrows(IllegalArgumentException.class, () -> batcher.submit(Map.of("x", bad)));
      }
    }
  }
}
