package dev.fusedtf.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.errors.FusedTfException;
import dev.fusedtf.metrics.FusedTfMetrics;
import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.testing.TestNets;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shared, reference-counted models: one load per key, closed only after the last lease. */
class FusedModelCacheTest {
  @TempDir static Path tmp;
  static Path a;
  static Path b;
  static final FusedModelOptions OPTS = FusedModelOptions.builder().probeBatches(1).build();

  @BeforeAll
  static void models() {
    a = TestNets.convBnRelu(tmp.resolve("a"), 1);
    b = TestNets.convBnRelu(tmp.resolve("b"), 2);
  }

  static FusedModelCache.Builder sync() {
    return FusedModelCache.builder().executor(Runnable::run);
  }

  static void assertServes(FusedModel m) {
    try (Prediction p = m.predictInputs(Map.of("x", Input.of(new float[72], 1, 6, 6, 2)))) {
      assertEquals(144, p.floats("y").length);
    }
  }

  @Test
  void sameKeyGivesTheSameModelLoadedOnce() throws Exception {
    SimpleMeterRegistry r = new SimpleMeterRegistry();
    FusedModelOptions opts = OPTS.toBuilder().meterRegistry(r).build();
    try (FusedModelCache cache = sync().meterRegistry(r).name("models").build()) {
      FusedModel first;
      try (FusedModelCache.Lease l1 = cache.get(a, opts);
           FusedModelCache.Lease l2 = cache.get(a.resolve("..").resolve("a"), opts)) { // same real path
        first = l1.model();
        assertSame(first, l2.model());
        assertServes(l2.model());
      }
      assertFalse(first.isClosed(), "idle but cached");
      try (FusedModelCache.Lease l3 = cache.get(a, opts)) {
        assertSame(first, l3.model());
      }
      assertEquals(1, cache.stats().loadSuccessCount());
      assertEquals(1, cache.stats().missCount());
      assertEquals(2, cache.stats().hitCount());
      assertEquals(1, cache.size());
      assertEquals(1, r.find(FusedTfMetrics.LOAD).tag("phase", "fold").timer().count(), "folded once");
      // Micrometer's CaffeineStatsCounter
      assertEquals(2.0, r.find("cache.gets").tag("cache", "models").tag("result", "hit").counter().count());
      assertEquals(1.0, r.find("cache.gets").tag("cache", "models").tag("result", "miss").counter().count());
      assertNotNull(r.find("cache.size").tag("cache", "models").gauge());
      assertEquals(1.0, r.find("cache.size").tag("cache", "models").gauge().value());
    }
  }

  @Test
  void concurrentFirstGetsShareOneLoad() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (FusedModelCache cache = sync().build()) {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<FusedModel>> got = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        got.add(pool.submit(() -> {
          go.await();
          try (FusedModelCache.Lease l = cache.get(a, OPTS)) {
            assertServes(l.model());
            return l.model();
          }
        }));
      }
      go.countDown();
      FusedModel first = got.get(0).get(60, TimeUnit.SECONDS);
      for (Future<FusedModel> f : got) {
        assertSame(first, f.get(60, TimeUnit.SECONDS));
      }
      assertEquals(1, cache.stats().loadCount());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void anEvictedModelClosesOnlyAfterItsLeaseIsReleased() {
    try (FusedModelCache cache = sync().maximumSize(1).build()) {
      FusedModelCache.Lease leaseA = cache.get(a, OPTS);
      FusedModel modelA = leaseA.model();
      FusedModel modelB;
      try (FusedModelCache.Lease leaseB = cache.get(b, OPTS)) {
        modelB = leaseB.model();
        cache.cleanUp();
        assertEquals(1, cache.size());
        assertEquals(1, cache.stats().evictionCount());
        assertFalse(modelA.isClosed(), "evicted but still leased");
        assertServes(modelA);
      }
      assertFalse(modelB.isClosed(), "B is the cached one");
      leaseA.close();
      assertTrue(modelA.isClosed(), "closed with its last lease");
      leaseA.close(); // idempotent
      assertThrows(IllegalStateException.class, leaseA::model);
      try (FusedModelCache.Lease again = cache.get(a, OPTS)) { // a evicted: loaded anew
        assertNotSame(modelA, again.model());
        assertServes(again.model());
      }
    }
  }

  @Test
  void differentOptionsAreDifferentEntries() {
    try (FusedModelCache cache = sync().build();
         FusedModelCache.Lease l1 = cache.get(a, OPTS);
         FusedModelCache.Lease l2 = cache.get(a, OPTS.toBuilder().tolerance(1e-4, 1e-3).build());
         FusedModelCache.Lease l3 = cache.get(a, OPTS.toBuilder().build())) {
      assertNotSame(l1.model(), l2.model());
      assertSame(l1.model(), l3.model(), "equal options are the same key");
      assertEquals(2, cache.size());
      assertEquals(2, cache.stats().loadCount());
    }
  }

  @Test
  void expiredIdleModelIsClosedAndLeasedOneWaits() {
    AtomicLong nanos = new AtomicLong();
    try (FusedModelCache cache = sync().expireAfterAccess(Duration.ofMinutes(5)).ticker(nanos::get).build()) {
      FusedModel idle;
      try (FusedModelCache.Lease l = cache.get(a, OPTS)) {
        idle = l.model();
      }
      FusedModelCache.Lease busy = cache.get(b, OPTS);
      FusedModel leased = busy.model();
      nanos.addAndGet(Duration.ofMinutes(6).toNanos());
      cache.cleanUp();
      assertEquals(0, cache.size());
      assertTrue(idle.isClosed());
      assertFalse(leased.isClosed(), "expired but still leased");
      busy.close();
      assertTrue(leased.isClosed());
    }
  }

  @Test
  void changedFilesAreANewVersionAndTheOldOneIsRetired() throws Exception {
    Path c = TestNets.convBnRelu(tmp.resolve("c"), 3);
    try (FusedModelCache cache = sync().build()) {
      FusedModel v1;
      try (FusedModelCache.Lease l = cache.get(c, OPTS)) {
        v1 = l.model();
      }
      Path index = c.resolve("variables").resolve("variables.index");
      Files.setLastModifiedTime(index, FileTime.fromMillis(Files.getLastModifiedTime(index).toMillis() + 5000));
      try (FusedModelCache.Lease l = cache.get(c, OPTS)) {
        assertNotSame(v1, l.model());
        assertTrue(v1.isClosed(), "the older version was idle: closed");
        assertEquals(1, cache.size());
      }
    }
  }

  @Test
  void closeClosesIdleModelsNowAndLeasedOnesOnRelease() {
    FusedModelCache cache = sync().build();
    FusedModel idle;
    try (FusedModelCache.Lease l = cache.get(a, OPTS)) {
      idle = l.model();
    }
    FusedModelCache.Lease busy = cache.get(b, OPTS);
    cache.close();
    assertTrue(cache.isClosed());
    assertTrue(idle.isClosed());
    assertFalse(busy.model().isClosed());
    assertServes(busy.model());
    FusedModel m = busy.model();
    busy.close();
    assertTrue(m.isClosed());
    assertThrows(IllegalStateException.class, () -> cache.get(a, OPTS));
    cache.close(); // idempotent
  }

  @Test
  void loadFailuresAreNotCached() throws Exception {
    try (FusedModelCache cache = sync().build()) {
      FusedTfException e = assertThrows(FusedTfException.class, () -> cache.get(tmp.resolve("missing"), OPTS));
      assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
      Path empty = Files.createDirectories(tmp.resolve("empty"));
      assertThrows(FusedTfException.class, () -> cache.get(empty, OPTS));
      assertEquals(0, cache.size());
      assertEquals(1, cache.stats().loadFailureCount());
    }
  }
}
