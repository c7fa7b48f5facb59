package dev.fusedtf.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchMainTest {
  @TempDir
  Path dir;

  @Test
  void parsesOptions() {
    BenchMain.Parsed p = BenchMain.parse(new String[] {dir.toString(), "--batches", "1, 8", "--rounds=50",
        "--warmup", "5", "--budget", "2.5", "--json", "--tags", "serve,gpu", "--signature", "sig"});
    assertArrayEquals(new int[] {1, 8}, p.config().batches());
    assertEquals(50, p.config().rounds());
    assertEquals(5, p.config().warmup());
    assertEquals(2500, p.config().budgetPerBatch().toMillis());
    assertArrayEquals(new String[] {"serve", "gpu"}, p.config().tags());
    assertEquals("sig", p.config().signature());
    assertTrue(p.json());
  }

  @Test
  void defaults() {
    BenchMain.Parsed p = BenchMain.parse(new String[] {dir.toString()});
    assertArrayEquals(new int[] {1, 32}, p.config().batches());
    assertEquals(200, p.config().rounds());
    assertEquals(20, p.config().warmup());
    assertEquals("serving_default", p.config().signature());
    assertNull(BenchMain.parse(new String[] {"--help"}));
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[] {}));
    assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[] {dir.toString(), "--rounds"}));
    assertThrows(IllegalArgumentException.class,
        () -> BenchMain.parse(new String[] {dir.toString(), "--batches", "0"}));
    assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[] {dir.toString(), "--bogus"}));
    assertThrows(IllegalArgumentException.class,
        () -> BenchMain.parse(new String[] {dir.resolve("missing").toString()}));
  }
}
