package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.serving.VersionedModel;
import dev.fusedtf.testing.BreakFoldedBias;
import dev.fusedtf.testsupport.NetBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

class VersionedModelTest {
  @TempDir Path base;

  static void writeVersion(Path base, int version, boolean broken) {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, version);
    String x = b.input("x", -1, 5, 5, 2);
    String y = b.mean(b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 2, 3, 1, "SAME", true, false), "bn", 3), "r"),
        "pool", 1, 2);
    if (broken) {
      y = b.identity(y, "break_me");
    }
    b.output("y", y);
    b.write(base.resolve(Integer.toString(version)));
  }

  @Test
  void swapUnderLoadFailsNoRequestAndABrokenVersionIsNotSwappedIn() throws Exception {
    writeVersion(base, 1, false);
    FusedModelOptions opts = TestOptions.withRule(FusedModelOptions.builder(), new BreakFoldedBias("break_me")).build();
    try (VersionedModel vm = VersionedModel.open(base, opts, null)) {
      assertEquals(1, vm.version());
      VersionedModel.Lease held = vm.acquire();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger ok = new AtomicInteger();
      ExecutorService pool = Executors.newFixedThreadPool(4);
      List<Future<Integer>> failures = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        failures.add(pool.submit(() -> {
          int failed = 0;
          while (!stop.get()) {
            try (TFloat32 in = TFloat32.tensorOf(Shape.of(1, 5, 5, 2))) {
              vm.with(m -> {
                try (Result r = m.call(Map.of("x", in))) {
                  return r.size();
                }
              });
              ok.incrementAndGet();
            } catch (RuntimeException e) {
              failed++;
            }
          }
          return failed;
        }));
      }
      writeVersion(base, 2, false);
      assertTrue(vm.checkNow());
      assertEquals(2, vm.version());
      assertFalse(held.model().isClosed(), "a version in use stays open");
      held.close();
      long deadline = System.currentTimeMillis() + 5000;
      while (!held.model().isClosed() && System.currentTimeMillis() < deadline) {
        Thread.sleep(5); // requests that took version 1 just before the swap finish first
      }
      assertTrue(held.model().isClosed(), "the old version closes with its last lease");
      writeVersion(base, 3, true);
      assertFalse(vm.checkNow(), "a version whose check fails is not swapped in");
      assertEquals(2, vm.version());
      Thread.sleep(200);
      stop.set(true);
      int failed = 0;
      for (Future<Integer> f : failures) {
        failed += f.get();
      }
      pool.shutdown();
      assertEquals(0, failed);
      assertTrue(ok.get() > 0);
    }
  }
}
