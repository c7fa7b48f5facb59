package dev.fusedtf.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.report.Served;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Rows per second of the original and the folded KWS model through the same Spark job ({@code local[2]}, the same
 * cached dataset, {@code FusedScorer} with {@code folding(false)} and {@code folding(true)}, written to the
 * {@code noop} sink), in A B B A rounds in one JVM. Excluded by default; run it with
 *
 * <pre>
 * mvn -B -o -pl spark -am verify -Dtest='dev.fusedtf.spark.SparkScoringBenchmarkTest' \
 *     -Dsurefire.failIfNoSpecifiedTests=false -Dgroups=benchmark -DexcludedGroups=none
 * </pre>
 *
 * Options (system properties): {@code bench.rows} (4096), {@code bench.partitions} (2), {@code bench.batches}
 * (1,8,64), {@code bench.rounds} (5), {@code bench.column} ({@code floats}: {@code array<float>}, or {@code binary}:
 * little-endian float32 bytes). The table goes to stdout and {@code spark/target/spark-benchmark.md}.
 */
@Tag("benchmark")
class SparkScoringBenchmarkTest {
  @Test
  void originalVsFusedRowsPerSecond() throws Exception {
    Path dir = TestSpark.sharedModel("tf2-keras-kws-dscnn-bias-bn");
    int rows = Integer.getInteger("bench.rows", 4096);
    int partitions = Integer.getInteger("bench.partitions", 2);
    int rounds = Integer.getInteger("bench.rounds", 5);
    int[] batches = Arrays.stream(System.getProperty("bench.batches", "1,8,64").split(","))
        .mapToInt(s -> Integer.parseInt(s.trim())).toArray();
    String column = System.getProperty("bench.column", "floats");
    float[][] values = TestSpark.data(rows, 490, 11);
    Dataset<Row> data = (column.equals("binary") ? TestSpark.binary(values, partitions)
        : TestSpark.floats(values, partitions)).cache();
    assertEquals(rows, data.count());

    StringBuilder table = new StringBuilder();
    table.append(String.format(Locale.ROOT, "rows %d (%s column), partitions %d, local[2], %d A B B A rounds (%d jobs "
        + "per side per batch), TF_ENABLE_ONEDNN_OPTS=%s%n%n", rows, column, partitions, rounds, 2 * rounds,
        System.getenv().getOrDefault("TF_ENABLE_ONEDNN_OPTS", "(unset)")));
    table.append("| batch | original rows/s (median) | min-max | fused rows/s (median) | min-max | **fused/original "
        + "throughput** | other% |\n|---|---|---|---|---|---|---|\n");
    for (int batch : batches) {
      FusedScorer original = FusedScorer.builder(dir.toString()).inputColumn("features").batchSize(batch)
          .folding(false).build();
      FusedScorer fused = FusedScorer.builder(dir.toString()).inputColumn("features").batchSize(batch).build();
      run(original, data); // loads (first batch only) and warms up both sides
      run(fused, data);
      try (ExecutorModels.ModelLease o = ExecutorModels.acquire(dir.toString(), original.modelOptions());
           ExecutorModels.ModelLease f = ExecutorModels.acquire(dir.toString(), fused.modelOptions())) {
        assertEquals(Served.ORIGINAL, o.model().served());
        assertEquals(Served.FUSED, f.model().served());
      }
      List<Double> a = new ArrayList<>();
      List<Double> b = new ArrayList<>();
      long[] cpu0 = cpuTicks();
      for (int r = 0; r < rounds; r++) {
        a.add(rows / run(original, data));
        b.add(rows / run(fused, data));
        b.add(rows / run(fused, data));
        a.add(rows / run(original, data));
      }
      long[] cpu1 = cpuTicks();
      double other = cpu0 == null || cpu1 == null || cpu1[0] == cpu0[0] ? Double.NaN
          : Math.max(0, 100.0 * ((cpu1[1] - cpu0[1]) - (cpu1[2] - cpu0[2])) / (cpu1[0] - cpu0[0]));
      double ma = median(a);
      double mb = median(b);
      table.append(String.format(Locale.ROOT, "| %d | %.0f | %.0f-%.0f | %.0f | %.0f-%.0f | **%.2f** | %.0f |%n",
          batch, ma, min(a), max(a), mb, min(b), max(b), mb / ma, other));
    }
    System.out.println(table);
    Files.writeString(Path.of("target", "spark-benchmark.md"), table);
    TestSpark.assertNoLeaseLeft();
    assertTrue(table.length() > 0);
  }

  /** Seconds to score every row and write it to the noop sink. */
  private static double run(FusedScorer scorer, Dataset<Row> data) {
    long t = System.nanoTime();
    scorer.transform(data).write().format("noop").mode("overwrite").save();
    return (System.nanoTime() - t) / 1e9;
  }

  private static double median(List<Double> v) {
    double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private static double min(List<Double> v) {
    return v.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
  }

  private static double max(List<Double> v) {
    return v.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
  }

  /** {total, busy, this process} CPU ticks from /proc, or null where there is no /proc. */
  private static long[] cpuTicks() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      long total = 0;
      for (int i = 1; i < f.length && i <= 8; i++) {
        total += Long.parseLong(f[i]);
      }
      long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
      String self = Files.readString(Path.of("/proc/self/stat"));
      String[] s = self.substring(self.lastIndexOf(')') + 2).trim().split("\\s+");
      long mine = Long.parseLong(s[11]) + Long.parseLong(s[12]); // utime, stime (fields 14, 15)
      return new long[] {total, total - idle, mine};
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
