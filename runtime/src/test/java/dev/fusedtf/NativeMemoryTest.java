package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.testsupport.NetBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 10,000 predictions with 128 KB inputs: resident memory must not grow with them. A tensor left unclosed per call
 * would add about 1.3 GB here (native memory that the GC does not see).
 */
class NativeMemoryTest {
  @TempDir Path tmp;

  static long rssKb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IllegalStateException("no VmRSS");
  }

  @Test
  void tenThousandPredictionsDoNotGrowNativeMemory() throws IOException {
    assumeTrue(Files.exists(Path.of("/proc/self/status")), "Linux /proc needed");
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 6);
    String x = b.input("x", -1, 32, 32, 8);
    b.output("y", b.mean(b.relu(b.batchNorm(b.conv2d(x, "conv", 1, 1, 8, 8, 1, "SAME", true, false), "bn", 8), "r"),
        "pool", 1, 2));
    float[] data = new float[4 * 32 * 32 * 8];
    try (FusedModel m = FusedModel.load(b.write(tmp.resolve("m")))) {
      Map<String, Input> in = Map.of("x", Input.of(data, 4, 32, 32, 8));
      for (int i = 0; i < 1000; i++) {
        try (Prediction p = m.predictInputs("serving_default", in)) {
          p.floats("y");
        }
      }
      System.gc();
      long before = rssKb();
      for (int i = 0; i < 10_000; i++) {
        try (Prediction p = m.predictInputs("serving_default", in)) {
          p.floats("y");
        }
      }
      System.gc();
      long grown = rssKb() - before;
      assertTrue(grown < 200_000, "RSS grew by " + grown + " KB over 10,000 predictions");
      System.out.println("RSS growth over 10,000 predictions: " + grown + " KB");
    }
  }
}
