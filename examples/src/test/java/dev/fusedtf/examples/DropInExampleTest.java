package dev.fusedtf.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DropInExampleTest {
  @TempDir Path tmp;

  @Test
  void oneLineChangeGivesTheSameOutputs() {
    DropInExample.Outputs o = DropInExample.run(tmp);
    assertEquals(8, o.folds());
    assertEquals(10, o.before().length);
    double scale = 0;
    double diff = 0;
    for (int i = 0; i < o.before().length; i++) {
      scale = Math.max(scale, Math.abs(o.before()[i]));
      diff = Math.max(diff, Math.abs(o.before()[i] - o.after()[i]));
    }
    assertTrue(diff <= 1e-4 * scale, "max diff " + diff + " at scale " + scale);
  }
}
