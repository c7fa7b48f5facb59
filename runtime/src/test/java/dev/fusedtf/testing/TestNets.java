package dev.fusedtf.testing;

import dev.fusedtf.testsupport.NetBuilder;
import java.nio.file.Path;
import java.util.Random;

/** Small real SavedModels for serving tests, built with {@link NetBuilder}. */
public final class TestNets {
  private TestNets() {}

  /** A TF2-layout Conv3x3 -> BatchNorm -> Relu model: input {@code x} [?, 6, 6, 2], output {@code y} [?, 6, 6, 4]. */
  public static Path convBnRelu(Path dir, long seed) {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, seed);
    String x = b.input("x", -1, 6, 6, 2);
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 2, 4, 1, "SAME", true, false), "bn", 4), "relu"));
    return b.write(dir);
  }

  /** Seeded uniform values in [-1, 1) for {@code batch} inputs of {@link #convBnRelu}. */
  public static float[] input(int batch, long seed) {
    Random r = new Random(seed);
    float[] v = new float[batch * 6 * 6 * 2];
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextFloat() * 2 - 1;
    }
    return v;
  }
}
