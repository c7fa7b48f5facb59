package dev.fusedtf.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.fusedtf.FusedModel;
import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.testsupport.NetBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** The one local[2] session of the test JVM, the test models and data, and the reference scores. */
final class TestSpark {
  private static SparkSession session;
  private static Path root;

  private TestSpark() {}

  static synchronized SparkSession session() {
    if (session == null) {
      session = SparkSession.builder().master("local[2]").appName("fusedtf-spark-tests")
          .config("spark.ui.enabled", "false")
          .config("spark.driver.host", "127.0.0.1")
          .config("spark.sql.shuffle.partitions", "2")
          .config("spark.sql.adaptive.enabled", "false")
          .getOrCreate();
    }
    return session;
  }

  static synchronized Path root() {
    if (root == null) {
      try {
        root = Files.createTempDirectory("fusedtf-spark-test");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return root;
  }

  /**
   * A small Keras-layout model written under its own name: {@code x} [-1, h, w, 2] -> Conv2D 3x3 with bias -> BN ->
   * ReLU -> mean over h, w -> Dense 3 -> 5, output {@code y} [-1, 5]. {@code h, w} = -1 for unknown dimensions.
   */
  static Path smallModel(String name, long h, long w) {
    Path dir = root().resolve(name);
    if (Files.isDirectory(dir)) {
      return dir;
    }
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 8);
    String x = b.input("x", -1, h, w, 2);
    String pooled = b.mean(b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 2, 3, 1, "SAME", true, false), "bn", 3),
        "relu"), "pool", 1, 2);
    b.output("y", b.dense(pooled, "fc", 3, 5, true, false));
    return b.write(dir);
  }

  static Path smallModel(String name) {
    return smallModel(name, 4, 4);
  }

  /** {@code n} rows of {@code length} seeded random floats in [-2, 2). */
  static float[][] data(int n, int length, long seed) {
    Random r = new Random(seed);
    float[][] out = new float[n][length];
    for (float[] row : out) {
      for (int i = 0; i < length; i++) {
        row[i] = (r.nextFloat() - 0.5f) * 4;
      }
    }
    return out;
  }

  static final StructType FLOAT_SCHEMA = new StructType().add("id", DataTypes.LongType, false)
      .add("features", DataTypes.createArrayType(DataTypes.FloatType, true), true);
  static final StructType DOUBLE_SCHEMA = new StructType().add("id", DataTypes.LongType, false)
      .add("features", DataTypes.createArrayType(DataTypes.DoubleType, true), true);
  static final StructType BINARY_SCHEMA = new StructType().add("id", DataTypes.LongType, false)
      .add("features", DataTypes.BinaryType, true);

  /** The rows as (id, features) with {@code id} = index, in exactly {@code partitions} partitions. */
  static Dataset<Row> floats(float[][] data, int partitions) {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < data.length; i++) {
      Float[] boxed = new Float[data[i].length];
      for (int j = 0; j < boxed.length; j++) {
        boxed[j] = data[i][j];
      }
      rows.add(RowFactory.create((long) i, boxed));
    }
    return frame(rows, FLOAT_SCHEMA, partitions);
  }

  /** The rows as (id, features) with features little-endian float32 bytes, in {@code partitions} partitions. */
  static Dataset<Row> binary(float[][] data, int partitions) {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < data.length; i++) {
      java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(data[i].length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      for (float v : data[i]) {
        bb.putFloat(v);
      }
      rows.add(RowFactory.create((long) i, bb.array()));
    }
    return frame(rows, BINARY_SCHEMA, partitions);
  }

  static Dataset<Row> frame(List<Row> rows, StructType schema, int partitions) {
    SparkSession s = session();
    return s.createDataFrame(JavaSparkContext.fromSparkContext(s.sparkContext()).parallelize(rows, partitions),
        schema);
  }

  /** The output column by id. */
  static Map<Long, float[]> scores(Dataset<Row> scored, String column) {
    Map<Long, float[]> out = new HashMap<>();
    for (Row r : scored.collectAsList()) {
      int i = r.fieldIndex(column);
      if (r.isNullAt(i)) {
        out.put(r.getLong(0), null);
      } else {
        List<Float> v = r.getList(i);
        float[] f = new float[v.size()];
        for (int j = 0; j < f.length; j++) {
          f[j] = v.get(j);
        }
        out.put(r.getLong(0), f);
      }
    }
    return out;
  }

  /** One single-row call of {@code model} per row: the reference scores. */
  static float[][] singleRow(FusedModel model, float[][] data, long... rowShape) {
    float[][] out = new float[data.length][];
    String in = model.defaultSignature().inputNames().iterator().next();
    String outName = model.defaultSignature().outputNames().iterator().next();
    long[] shape = new long[rowShape.length + 1];
    shape[0] = 1;
    System.arraycopy(rowShape, 0, shape, 1, rowShape.length);
    for (int i = 0; i < data.length; i++) {
      try (Prediction p = model.predictInputs(Map.of(in, Input.of(data[i], shape)))) {
        out[i] = p.floats(outName);
      }
    }
    return out;
  }

  static void assertScores(float[][] expected, Map<Long, float[]> actual, double tolerance) {
    assertEquals(expected.length, actual.size(), "one score per row");
    for (int i = 0; i < expected.length; i++) {
      float[] a = actual.get((long) i);
      assertTrue(a != null, "row " + i + " has a score");
      assertEquals(expected[i].length, a.length, "row " + i + " score length");
      for (int j = 0; j < a.length; j++) {
        if (Math.abs(expected[i][j] - a[j]) > tolerance) {
          fail("row " + i + " element " + j + ": expected " + expected[i][j] + ", got " + a[j]);
        }
      }
    }
  }

  /** Waits (up to 5 s) until no task holds a lease: completion listeners run as tasks end. */
  static void assertNoLeaseLeft() throws InterruptedException {
    for (int i = 0; i < 100 && ExecutorModels.openLeases() != 0; i++) {
      Thread.sleep(50);
    }
    assertEquals(0, ExecutorModels.openLeases(), "leases left over");
  }

  /** The shared model {@code name} in shared/models above the repository; skipped when absent. */
  static Path sharedModel(String name) {
    return dev.fusedtf.testsupport.SharedModels.model(name);
  }
}
