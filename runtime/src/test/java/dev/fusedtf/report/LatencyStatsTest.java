package dev.fusedtf.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fusedtf.internal.measure.AbTimer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LatencyStatsTest {
  @Test
  void medianAndP90() {
    long[] ms = new long[10];
    for (int i = 0; i < 10; i++) {
      ms[i] = (10 - i) * 1_000_000L; // 10..1 ms, unsorted
    }
    LatencyStats s = LatencyStats.ofNanos(ms);
    assertEquals(5.5, s.medianMs(), 1e-9);
    assertEquals(9.1, s.p90Ms(), 1e-9);
    assertEquals(5.5, s.meanMs(), 1e-9);
    assertEquals(1.0, s.minMs(), 1e-9);
    assertEquals(10, s.count());
    assertEquals(3.0, LatencyStats.ofNanos(new long[] {3_000_000}).p90Ms(), 1e-9);
  }

  @Test
  void interleavesBothSidesEqually() {
    AtomicInteger a = new AtomicInteger();
    AtomicInteger b = new AtomicInteger();
    AbTimer.Comparison c = AbTimer.compare(a::incrementAndGet, b::incrementAndGet, 3, 5, Duration.ofSeconds(10));
    assertEquals(3 + 10, a.get());
    assertEquals(3 + 10, b.get());
    assertEquals(10, c.a().count());
    assertEquals(10, c.b().count());
  }
}
