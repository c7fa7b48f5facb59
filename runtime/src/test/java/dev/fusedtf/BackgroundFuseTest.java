package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.errors.CheckFailedException;
import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.report.Served;
import dev.fusedtf.testing.BreakFoldedBias;
import dev.fusedtf.testing.ModelAssertions;
import dev.fusedtf.testsupport.NetBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fuseInBackground}: load serves the original at once, the rewritten model is swapped in once checked, calls
 * in flight during the swap all succeed with the original's outputs, and a rejected or closed model never serves an
 * unchecked graph.
 */
@Tag("cpu-sensitive")
class BackgroundFuseTest {
  @TempDir Path tmp;
  Path dir;

  @BeforeEach
  void model() {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 5);
    String x = b.input("x", -1, 8, 8, 3);
    String h = b.relu(b.batchNorm(b.conv2d(x, "c1", 3, 3, 3, 8, 1, "SAME", true, false), "bn1", 8), "r1");
    b.output("y", b.relu(b.batchNorm(b.conv2d(h, "c2", 3, 3, 8, 8, 1, "SAME", true, false), "bn2", 8), "r2"));
    dir = b.write(tmp.resolve("m"));
  }

  private static FusedModelOptions.Builder background() {
    return FusedModelOptions.builder().fuseInBackground(true);
  }

  @Test
  void servesTheOriginalAtOnceThenSwapsInTheCheckedModelWhileCallsRun() throws Exception {
    float[] probe = new float[2 * 8 * 8 * 3];
    for (int i = 0; i < probe.length; i++) {
      probe[i] = (float) Math.sin(i * 0.37);
    }
    float[] expected;
    try (FusedModel plain = FusedModel.load(dir, FusedModelOptions.builder().disableRule("fold-batchnorm").build());
         Prediction p = plain.predictInputs(Map.of("x", Input.of(probe, 2, 8, 8, 3)))) {
      assertFalse(plain.isFused());
      expected = p.floats("y");
    }
    try (FusedModel m = FusedModel.load(dir, background().build())) {
      FoldReport first = m.report();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger calls = new AtomicInteger();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      List<Thread> callers = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        Thread th = new Thread(() -> {
          while (!stop.get() && failure.get() == null) {
            try (Prediction p = m.predictInputs(Map.of("x", Input.of(probe, 2, 8, 8, 3)))) {
              assertClose(expected, p.floats("y"), "a call during the background fuse");
              calls.incrementAndGet();
            } catch (Throwable e) {
              failure.compareAndSet(null, e);
            }
          }
        });
        th.start();
        callers.add(th);
      }
      FoldReport last = m.fuseResult().get(120, TimeUnit.SECONDS);
      Thread.sleep(50); // calls on the swapped-in model too
      stop.set(true);
      for (Thread th : callers) {
        th.join();
      }
      if (failure.get() != null) {
        throw new AssertionError("a call failed during the background fuse", failure.get());
      }
      assertTrue(calls.get() > 0);
      if (first.served() == Served.ORIGINAL && first.check() == null) { // still fusing when load returned
        assertTrue(first.fallbackReason().startsWith("fusing in the background"), first.fallbackReason());
      }
      assertEquals(Served.FUSED, last.served(), last.toText());
      assertEquals(2, last.folds().size());
      assertTrue(last.check().passed());
      assertTrue(m.isFused());
      assertEquals(last, m.report());
      try (Prediction p = m.predictInputs(Map.of("x", Input.of(probe, 2, 8, 8, 3)))) {
        assertClose(expected, p.floats("y"), "after the swap");
      }
      ModelAssertions.assertSameOutputs(dir, m, 1e-5, 1e-4, 3);
    }
  }

  private static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      if (Math.abs(expected[i] - actual[i]) > 1e-5 + 1e-4 * Math.abs(expected[i])) {
        throw new AssertionError(what + ": output " + i + " is " + actual[i] + ", the original gives " + expected[i]);
      }
    }
  }

  @Test
  void aRejectedModelKeepsTheOriginalAndStrictModeFailsTheFuture() throws Exception {
    FusedModelOptions broken = TestOptions.withRule(background(), new BreakFoldedBias(null)).strict(true).build();
    try (FusedModel m = FusedModel.load(dir, broken)) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> m.fuseResult().get(120, TimeUnit.SECONDS));
      assertInstanceOf(CheckFailedException.class, e.getCause());
      assertEquals(Served.ORIGINAL, m.served());
      assertFalse(m.isFused());
      assertTrue(m.report().fallbackReason().startsWith("the background fuse failed"), m.report().fallbackReason());
      ModelAssertions.assertSameOutputs(dir, m, 1e-5, 1e-4, 1); // the broken fold would be far off
    }
    FusedModelOptions lenient = TestOptions.withRule(background(), new BreakFoldedBias(null)).build();
    try (FusedModel m = FusedModel.load(dir, lenient)) {
      FoldReport r = m.fuseResult().get(120, TimeUnit.SECONDS);
      assertEquals(Served.ORIGINAL, r.served());
      assertFalse(r.check().passed());
      assertTrue(r.fallbackReason().startsWith("check failed"), r.fallbackReason());
      ModelAssertions.assertSameOutputs(dir, m, 1e-5, 1e-4, 1); // the broken fold would be far off
    }
  }

  @Test
  void closingWhileFusingFreesBothAndCallsFailCleanly() throws Exception {
    FusedModel m = FusedModel.load(dir, background().build());
    m.close();
    m.fuseResult().handle((r, e) -> null).get(120, TimeUnit.SECONDS); // ends either way, without a crash
    assertTrue(m.isClosed());
    assertThrows(IllegalStateException.class,
        () -> m.predictInputs(Map.of("x", Input.of(new float[8 * 8 * 3], 1, 8, 8, 3))));
  }

  @Test
  void aModelThatCannotRunStillFailsTheLoad() throws Exception {
    try (Stream<Path> s = Files.walk(dir.resolve("variables"))) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> FusedModel.load(dir, background().build()));
    assertTrue(e.getMessage().contains("cannot"), e.getMessage());
  }

  @Test
  void pinsNeedTheForegroundAndAForegroundModelIsCompleteAtOnce() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> background().pin("is_training", false).build());
    assertTrue(e.getMessage().contains("fuseInBackground cannot be combined with pins"), e.getMessage());
    try (FusedModel m = FusedModel.load(dir)) {
      assertTrue(m.fuseResult().isDone());
      assertEquals(m.report(), m.fuseResult().join());
      assertNull(m.report().fallbackReason());
    }
  }
}
