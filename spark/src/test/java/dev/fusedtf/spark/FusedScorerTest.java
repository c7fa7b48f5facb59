package dev.fusedtf.spark;

import static dev.fusedtf.spark.TestSpark.assertNoLeaseLeft;
import static dev.fusedtf.spark.TestSpark.assertScores;
import static dev.fusedtf.spark.TestSpark.floats;
import static dev.fusedtf.spark.TestSpark.scores;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.FusedModel;
import dev.fusedtf.report.Served;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.SparkException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class FusedScorerTest {
  static final int ROW = 4 * 4 * 2;
  static Path modelDir;
  static FusedModel reference; // loaded directly, outside the executor cache
  static float[][] data;
  static float[][] expected;

  @BeforeAll
  static void setUp() {
    modelDir = TestSpark.smallModel("small");
    reference = FusedModel.load(modelDir);
    assertTrue(reference.isFused(), "the test model folds: " + reference.report().toText());
    data = TestSpark.data(200, ROW, 1);
    expected = TestSpark.singleRow(reference, data, 4, 4, 2);
    TestSpark.session();
  }

  @AfterAll
  static void tearDown() {
    reference.close();
  }

  static FusedScorer.Builder scorer() {
    return FusedScorer.builder(modelDir.toString()).inputColumn("features").outputColumn("scores");
  }

  static Stream<Arguments> batchesAndPartitions() {
    List<Arguments> out = new ArrayList<>();
    for (int batch : new int[] {1, 5, 64}) {
      out.add(Arguments.of(batch, 7, 3));    // partitions of 2, 2, 3 rows: smaller than batches 5 and 64
      out.add(Arguments.of(batch, 200, 2));  // partitions of 100 rows: larger than every batch, 64 + 36 at 64
    }
    return out.stream();
  }

  @ParameterizedTest(name = "batch {0}, {1} rows in {2} partitions")
  @MethodSource("batchesAndPartitions")
  void scoresEqualSingleRowCalls(int batch, int rows, int partitions) throws Exception {
    float[][] d = java.util.Arrays.copyOf(data, rows);
    Dataset<Row> in = floats(d, partitions);
    assertEquals(partitions, in.rdd().getNumPartitions());
    Dataset<Row> scored = scorer().batchSize(batch).build().transform(in);
    assertEquals(List.of("id", "features", "scores"), List.of(scored.schema().fieldNames()));
    assertEquals(new ArrayType(DataTypes.FloatType, false), scored.schema().apply("scores").dataType());
    assertScores(java.util.Arrays.copyOf(expected, rows), scores(scored, "scores"), 1e-5);
    // the input column passes through untouched
    Row first = scored.filter("id = 3").collectAsList().get(0);
    List<Float> f = first.getList(1);
    assertEquals(data[3][7], f.get(7));
    assertNoLeaseLeft();
  }

  @Test
  void emptyPartitionsAndEmptyDataset() throws Exception {
    Dataset<Row> in = floats(java.util.Arrays.copyOf(data, 3), 7); // 4 of the 7 partitions are empty
    assertScores(java.util.Arrays.copyOf(expected, 3), scores(scorer().batchSize(2).build().transform(in), "scores"),
        1e-5);
    Dataset<Row> none = floats(new float[0][], 2);
    Dataset<Row> scored = scorer().build().transform(none);
    assertEquals(0, scored.count());
    assertEquals(3, scored.schema().size());
    assertNoLeaseLeft();
  }

  @Test
  void doubleAndBinaryColumns() throws Exception {
    List<Row> doubles = new ArrayList<>();
    List<Row> binary = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      Double[] dv = new Double[ROW];
      ByteBuffer bb = ByteBuffer.allocate(ROW * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (int j = 0; j < ROW; j++) {
        dv[j] = (double) data[i][j];
        bb.putFloat(data[i][j]);
      }
      doubles.add(RowFactory.create((long) i, dv));
      binary.add(RowFactory.create((long) i, bb.array()));
    }
    float[][] exp = java.util.Arrays.copyOf(expected, 40);
    assertScores(exp, scores(scorer().batchSize(16).build()
        .transform(TestSpark.frame(doubles, TestSpark.DOUBLE_SCHEMA, 3)), "scores"), 1e-5);
    assertScores(exp, scores(scorer().batchSize(16).build()
        .transform(TestSpark.frame(binary, TestSpark.BINARY_SCHEMA, 3)), "scores"), 1e-5);
    assertNoLeaseLeft();
  }

  /** Rows 0..9 in one partition: row 3 null, row 5 too short, row 7 with a null element, the rest valid. */
  static Dataset<Row> withInvalidRows() {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      Float[] v = new Float[ROW];
      for (int j = 0; j < ROW; j++) {
        v[j] = data[i][j];
      }
      if (i == 3) {
        v = null;
      } else if (i == 5) {
        v = java.util.Arrays.copyOf(v, 5);
      } else if (i == 7) {
        v[4] = null;
      }
      rows.add(RowFactory.create((long) i, v));
    }
    return TestSpark.frame(rows, TestSpark.FLOAT_SCHEMA, 1);
  }

  @Test
  void invalidRowsFailWithAClearErrorAndTheSessionScoresAgain() throws Exception {
    SparkException e = assertThrows(SparkException.class,
        () -> scorer().batchSize(4).build().transform(withInvalidRows()).collectAsList());
    String m = String.valueOf(e.getMessage());
    assertTrue(m.contains("InvalidRowException") && m.contains("column 'features', row 3 of partition 0")
        && m.contains("the value is null"), m);
    assertNoLeaseLeft();

    List<Row> shortRow = List.of(RowFactory.create(0L, new Float[] {1f, 2f, 3f, 4f, 5f}));
    e = assertThrows(SparkException.class,
        () -> scorer().build().transform(TestSpark.frame(shortRow, TestSpark.FLOAT_SCHEMA, 1)).collectAsList());
    m = String.valueOf(e.getMessage());
    assertTrue(m.contains("column 'features', row 0 of partition 0")
        && m.contains("expected 32 values (row shape [4, 4, 2]), got 5"), m);
    assertNoLeaseLeft();

    List<Row> badBytes = List.of(RowFactory.create(0L, new byte[13]));
    e = assertThrows(SparkException.class,
        () -> scorer().build().transform(TestSpark.frame(badBytes, TestSpark.BINARY_SCHEMA, 1)).collectAsList());
    m = String.valueOf(e.getMessage());
    assertTrue(m.contains("expected 128 bytes (32 little-endian float32 (row shape [4, 4, 2])), got 13 bytes"), m);
    assertNoLeaseLeft();

    // the same session, the same cached model, scores again
    assertScores(java.util.Arrays.copyOf(expected, 7),
        scores(scorer().batchSize(3).build().transform(floats(java.util.Arrays.copyOf(data, 7), 2)), "scores"), 1e-5);
    assertNoLeaseLeft();
  }

  @Test
  void invalidRowsScoreNullWhenAsked() throws Exception {
    Map<Long, float[]> s = scores(scorer().batchSize(4).onInvalidRow(FusedScorer.OnInvalidRow.NULL).build()
        .transform(withInvalidRows()), "scores");
    assertEquals(10, s.size());
    for (long i = 0; i < 10; i++) {
      if (i == 3 || i == 5 || i == 7) {
        assertNull(s.get(i), "row " + i + " is invalid");
      } else {
        float[] a = s.get(i);
        for (int j = 0; j < a.length; j++) {
          assertEquals(expected[(int) i][j], a[j], 1e-5, "row " + i);
        }
      }
    }
    assertNoLeaseLeft();
  }

  @Test
  void modelLoadedOncePerJvm() throws Exception {
    Path dir = TestSpark.smallModel("load-once");
    long loadsBefore = ExecutorModels.stats().loadCount();
    long hitsBefore = ExecutorModels.stats().hitCount();
    FusedScorer s = FusedScorer.builder(dir.toString()).inputColumn("features").batchSize(8).build();
    for (int job = 0; job < 3; job++) {
      assertEquals(50, s.transform(floats(java.util.Arrays.copyOf(data, 50), 4)).count());
    }
    assertEquals(1, ExecutorModels.stats().loadCount() - loadsBefore, "one load for 3 jobs of 4 partitions");
    assertEquals(11, ExecutorModels.stats().hitCount() - hitsBefore, "the other 11 partitions hit the cache");
    assertNoLeaseLeft();
  }

  @Test
  void foldingOffServesTheOriginalThroughTheSamePath() throws Exception {
    Path dir = TestSpark.smallModel("folding-off");
    FusedScorer off = FusedScorer.builder(dir.toString()).inputColumn("features").batchSize(16).folding(false).build();
    FusedScorer on = FusedScorer.builder(dir.toString()).inputColumn("features").batchSize(16).build();
    float[][] d = java.util.Arrays.copyOf(data, 30);
    Map<Long, float[]> offScores = scores(off.transform(floats(d, 2)), "scores");
    Map<Long, float[]> onScores = scores(on.transform(floats(d, 2)), "scores");
    long loads = ExecutorModels.stats().loadCount();
    try (ExecutorModels.ModelLease l = ExecutorModels.acquire(dir.toString(), off.modelOptions())) {
      assertEquals(Served.ORIGINAL, l.model().served());
      assertTrue(l.model().report().folds().isEmpty(), l.model().report().toText());
      assertEquals(l.model().report().nodesBefore(), l.model().report().nodesAfter());
    }
    try (ExecutorModels.ModelLease l = ExecutorModels.acquire(dir.toString(), on.modelOptions())) {
      assertEquals(Served.FUSED, l.model().served());
      assertFalse(l.model().report().folds().isEmpty());
    }
    assertEquals(loads, ExecutorModels.stats().loadCount(), "the leases above were the jobs' cached models");
    // the original, run by plain TensorFlow Java
    try (org.tensorflow.SavedModelBundle plain = org.tensorflow.SavedModelBundle.load(dir.toString(), "serve")) {
      for (int i = 0; i < d.length; i++) {
        try (var t = org.tensorflow.types.TFloat32.tensorOf(org.tensorflow.ndarray.Shape.of(1, 4, 4, 2),
                 org.tensorflow.ndarray.buffer.DataBuffers.of(d[i], true, false));
             var r = plain.call(Map.of("x", t))) {
          org.tensorflow.types.TFloat32 y = (org.tensorflow.types.TFloat32) r.get("y").orElseThrow();
          for (int j = 0; j < 5; j++) {
            assertEquals(y.getFloat(0, j), offScores.get((long) i)[j], 1e-5, "folding off = original, row " + i);
            assertEquals(y.getFloat(0, j), onScores.get((long) i)[j], 1e-5, "folded = original, row " + i);
          }
        }
      }
    }
    assertNoLeaseLeft();
  }

  @Test
  void unknownRowDimensionsNeedRowShape() throws Exception {
    Path dir = TestSpark.smallModel("any-size", -1, -1);
    Dataset<Row> in = floats(java.util.Arrays.copyOf(data, 12), 2);
    SparkException e = assertThrows(SparkException.class, () -> FusedScorer.builder(dir.toString())
        .inputColumn("features").build().transform(in).collectAsList());
    assertTrue(e.getMessage().contains("has shape [-1, -1, -1, 2]; set rowShape(...)"), e.getMessage());
    assertNoLeaseLeft();
    Map<Long, float[]> s = scores(FusedScorer.builder(dir.toString()).inputColumn("features").rowShape(4, 4, 2)
        .batchSize(5).build().transform(in), "scores");
    try (FusedModel m = FusedModel.load(dir)) {
      assertScores(TestSpark.singleRow(m, java.util.Arrays.copyOf(data, 12), 4, 4, 2), s, 1e-5);
    }
    assertNoLeaseLeft();
  }

  @Test
  void modelShippedAsAnArchiveIsFoundThroughSparkFiles() throws Exception {
    Path zip = TestSpark.root().resolve("shipped.zip");
    try (var out = new java.util.zip.ZipOutputStream(java.nio.file.Files.newOutputStream(zip));
         var files = java.nio.file.Files.walk(modelDir)) {
      for (Path p : files.filter(java.nio.file.Files::isRegularFile).toList()) {
        out.putNextEntry(new java.util.zip.ZipEntry(modelDir.relativize(p).toString()));
        java.nio.file.Files.copy(p, out);
        out.closeEntry();
      }
    }
    TestSpark.session().sparkContext().addArchive(zip.toUri() + "#shipped-model");
    assertFalse(java.nio.file.Files.exists(Path.of("shipped-model")), "not in the working directory");
    Map<Long, float[]> s = scores(FusedScorer.builder("shipped-model").inputColumn("features").build()
        .transform(floats(java.util.Arrays.copyOf(data, 9), 2)), "scores");
    assertScores(java.util.Arrays.copyOf(expected, 9), s, 1e-5);
    assertNoLeaseLeft();
  }

  @Test
  void missingModelIsAClearTaskError() throws Exception {
    SparkException e = assertThrows(SparkException.class, () -> FusedScorer.builder("no-such-model")
        .inputColumn("features").build().transform(floats(java.util.Arrays.copyOf(data, 2), 1)).collectAsList());
    assertTrue(e.getMessage().contains("model directory 'no-such-model' not found")
        && e.getMessage().contains("--archives model.zip#no-such-model"), e.getMessage());
    assertNoLeaseLeft();
  }

  @Test
  void schemaProblemsFailOnTheDriver() {
    Dataset<Row> in = floats(java.util.Arrays.copyOf(data, 2), 1);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> scorer().inputColumn("nope").build().transform(in));
    assertTrue(e.getMessage().contains("input column 'nope' is not in the dataset; columns: [id, features]"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> scorer().inputColumn("id").build().transform(in));
    assertTrue(e.getMessage().contains("input column 'id' is bigint; supported: array<float>, array<double>, binary"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> scorer().outputColumn("id").build().transform(in));
    assertTrue(e.getMessage().contains("output column 'id' already exists"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> scorer().batchSize(0));
    assertThrows(IllegalArgumentException.class, () -> scorer().disableRule("no-such-rule"));
    assertThrows(IllegalStateException.class, () -> scorer().folding(false).pin("is_training", "false").build());
  }

  @Test
  void foldingOffDisablesEveryRuleOfTheRuntime() {
    FusedScorer s = scorer().folding(false).build();
    assertEquals(dev.fusedtf.FusedModelOptions.ruleNames(), s.modelOptions().disabledRules());
  }

  @Test
  void readsOneBatchAheadAtMost() {
    int[] pulled = {0};
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Float[] v = new Float[ROW];
      for (int j = 0; j < ROW; j++) {
        v[j] = data[i][j];
      }
      rows.add(new org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema(new Object[] {(long) i,
          scala.jdk.javaapi.CollectionConverters.asScala(java.util.Arrays.asList(v))}, TestSpark.FLOAT_SCHEMA));
    }
    java.util.Iterator<Row> source = new java.util.Iterator<>() {
      int i;

      @Override
      public boolean hasNext() {
        return i < rows.size();
      }

      @Override
      public Row next() {
        pulled[0]++;
        return rows.get(i++);
      }
    };
    ScoringIterator it = new ScoringIterator(scorer().batchSize(6).build(), 1, FusedScorer.ColumnKind.FLOATS, source, null);
    int before = ExecutorModels.openLeases();
    assertEquals(0, pulled[0], "nothing read before the first hasNext");
    Row r0 = it.next();
    assertEquals(6, pulled[0], "the first row waits for one batch only");
    assertEquals(before + 1, ExecutorModels.openLeases());
    for (int k = 1; k < 6; k++) {
      it.next();
    }
    assertEquals(6, pulled[0]);
    it.next();
    assertEquals(12, pulled[0]);
    int n = 7;
    while (it.hasNext()) {
      it.next();
      n++;
    }
    assertEquals(20, n);
    assertEquals(before, ExecutorModels.openLeases(), "released when the rows ran out");
    assertEquals(0L, r0.getLong(0));
    float[] score = (float[]) r0.get(2);
    assertArrayEquals(expected[0], score, 1e-5f);
  }
}
