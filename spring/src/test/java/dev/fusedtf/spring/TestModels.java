package dev.fusedtf.spring;

import dev.fusedtf.testsupport.NetBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.UUID;
import org.tensorflow.proto.DataType;

/** Small real SavedModels written for the tests (conv, BatchNorm, relu, mean), under {@code target/}. */
final class TestModels {
  private TestModels() {}

  /** A fresh folder under {@code target/spring-test-models}. */
  static Path freshDir(String prefix) {
    try {
      Path root = Path.of("target", "spring-test-models").toAbsolutePath();
      Files.createDirectories(root);
      return Files.createDirectory(root.resolve(prefix + "-" + UUID.randomUUID()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Keras layout: input {@code x} [-1, 4, 4, 2] -> conv 3x3 -> BatchNorm -> relu -> mean over H, W: {@code y} [-1, 3]. */
  static Path net(Path dir, long seed) {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, seed);
    String x = b.input("x", -1, 4, 4, 2);
    b.output("y", b.mean(b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 2, 3, 1, "SAME", true, false), "bn", 3), "r"),
        "pool", 1, 2));
    return b.write(dir);
  }

  /**
   * TF1 layout with two inputs and two outputs: {@code x} [-1, 4, 4, 2] and the scalar {@code k}; {@code y} as in
   * {@link #net} and {@code z = y * k}.
   */
  static Path multi(Path dir, long seed) {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF1, seed);
    String x = b.input("x", -1, 4, 4, 2);
    String k = b.placeholder("k", DataType.DT_FLOAT, true);
    String y = b.mean(b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 2, 3, 1, "SAME", true, false), "bn", 3), "r"),
        "pool", 1, 2);
    b.output("y", y);
    b.output("z", b.mul(y, k, "scaled"));
    return b.write(dir);
  }

  /** Writes version {@code v} of {@link #net} under {@code base} atomically (built aside, then moved in). */
  static Path netVersion(Path base, long v, long seed) {
    try {
      Files.createDirectories(base);
      Path aside = base.resolveSibling(base.getFileName() + ".tmp-" + v);
      net(aside, seed);
      return Files.move(aside, base.resolve(Long.toString(v)), StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code n} rows of {@link #net}'s input, deterministic from {@code salt}, row-major. */
  static float[] rows(int n, int salt) {
    float[] v = new float[n * 32];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) Math.sin(0.37 * i + 1.3 * salt) * (1 + (i % 5) * 0.25f);
    }
    return v;
  }

  /** {@code values} of shape [n, 4, 4, 2] as nested JSON arrays, one per row. */
  static String jsonRows(float[] values, int n) {
    StringBuilder sb = new StringBuilder("[");
    int p = 0;
    for (int i = 0; i < n; i++) {
      sb.append(i > 0 ? "," : "").append("[");
      for (int h = 0; h < 4; h++) {
        sb.append(h > 0 ? "," : "").append("[");
        for (int w = 0; w < 4; w++) {
          sb.append(w > 0 ? "," : "").append("[").append(values[p++]).append(",").append(values[p++]).append("]");
        }
        sb.append("]");
      }
      sb.append("]");
    }
    return sb.append("]").toString();
  }
}
