package dev.fusedtf.spark;

import dev.fusedtf.FusedModelOptions;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.tensorflow.proto.ConfigProto;

/**
 * The {@code FusedScorer} scores one column of a Spark {@link Dataset} with a {@link dev.fusedtf.FusedModel} and
 * appends the model's output as a new {@code array<float>} column.
 *
 * <pre>{@code
 * Dataset<Row> scored = FusedScorer.builder("/models/kws")
 *     .inputColumn("mfcc")          // array<float>, array<double> or binary (little-endian float32)
 *     .outputColumn("scores")       // appended, array<float>
 *     .batchSize(64)
 *     .build()
 *     .transform(features);
 * }</pre>
 *
 * <p>Each executor JVM loads (folds, checks) the model once, through one {@link dev.fusedtf.cache.FusedModelCache}
 * ({@link ExecutorModels}), and closes it when the JVM ends. Each non-empty partition takes one lease on it, released
 * by a task completion listener (so a failed task releases it too), reads its rows lazily, {@code batchSize} at a
 * time, and runs one model call per batch. An empty partition loads nothing.
 *
 * <p>A scorer is immutable and serializable; {@link #transform(Dataset)} is lazy like any Spark transformation.
 */
public final class FusedScorer implements Serializable {
  private static final long serialVersionUID = 1L;

  /** What to do with a row whose input is null or has the wrong length. */
  public enum OnInvalidRow {
    /** Fail the task (and so the job) with an {@link InvalidRowException} naming the row, the column and why. */
    FAIL,
    /** Score the row as null and go on. */
    NULL
  }

  private final String modelPath;
  private final String inputColumn;
  private final String outputColumn;
  private final String signature;
  private final String inputName;
  private final String outputName;
  private final int batchSize;
  private final long[] rowShape;
  private final OnInvalidRow onInvalidRow;
  private final boolean folding;
  private final String[] tags;
  private final boolean strict;
  private final int warmupRuns;
  private final double[] tolerance;
  private final List<String> disabledRules;
  private final Map<String, String> pins;
  private final int intraOpThreads;
  private final int interOpThreads;

  private FusedScorer(Builder b) {
    this.modelPath = b.modelPath;
    this.inputColumn = b.inputColumn;
    this.outputColumn = b.outputColumn;
    this.signature = b.signature;
    this.inputName = b.inputName;
    this.outputName = b.outputName;
    this.batchSize = b.batchSize;
    this.rowShape = b.rowShape == null ? null : b.rowShape.clone();
    this.onInvalidRow = b.onInvalidRow;
    this.folding = b.folding;
    this.tags = b.tags.clone();
    this.strict = b.strict;
    this.warmupRuns = b.warmupRuns;
    this.tolerance = b.tolerance == null ? null : b.tolerance.clone();
    this.disabledRules = List.copyOf(b.disabledRules);
    this.pins = Map.copyOf(b.pins);
    this.intraOpThreads = b.intraOpThreads;
    this.interOpThreads = b.interOpThreads;
  }

  /**
   * A builder for the model in {@code modelPath}: a SavedModel directory, absolute or relative. A relative path that
   * does not exist in the executor's working directory is looked up with {@code SparkFiles.get} (a model shipped
   * with {@code spark-submit --archives kws.zip#kws} is then {@code builder("kws")}).
   */
  public static Builder builder(String modelPath) {
    return new Builder(modelPath);
  }

  /**
   * The {@code dataset} with the output column appended ({@code array<float>}, null for rows skipped by
   * {@link OnInvalidRow#NULL}). Checks the columns now; the model is loaded by the executors when an action runs.
   *
   * @throws IllegalArgumentException if the input column is missing or of an unsupported type, or the output column
   *     already exists
   */
  public Dataset<Row> transform(Dataset<Row> dataset) {
    Objects.requireNonNull(dataset, "dataset");
    StructType schema = dataset.schema();
    List<String> names = Arrays.asList(schema.fieldNames());
    int index = names.indexOf(inputColumn);
    if (index < 0) {
      throw new IllegalArgumentException("FusedScorer: input column '" + inputColumn + "' is not in the dataset; "
          + "columns: " + names);
    }
    if (names.contains(outputColumn)) {
      throw new IllegalArgumentException("FusedScorer: output column '" + outputColumn + "' already exists; "
          + "choose another outputColumn");
    }
    ColumnKind kind = ColumnKind.of(schema.fields()[index]);
    StructType out = schema.add(new StructField(outputColumn, DataTypes.createArrayType(DataTypes.FloatType, false),
        true, org.apache.spark.sql.types.Metadata.empty()));
    return dataset.mapPartitions(new PartitionScorer(this, index, kind), Encoders.row(out));
  }

  /** The options each executor loads the model with (the {@link ExecutorModels} cache key, with the path). */
  public FusedModelOptions modelOptions() {
    FusedModelOptions.Builder b = FusedModelOptions.builder().tags(tags).strict(strict).warmupRuns(warmupRuns);
    if (tolerance != null) {
      b.tolerance(tolerance[0], tolerance[1]);
    }
    pins.forEach(b::pin);
    Set<String> disabled = new LinkedHashSet<>(disabledRules);
    if (!folding) {
      disabled.addAll(FusedModelOptions.ruleNames()); // unchanged graph, served as the original
    }
    disabled.forEach(b::disableRule);
    if (intraOpThreads > 0 || interOpThreads > 0) {
      ConfigProto.Builder c = ConfigProto.newBuilder();
      if (intraOpThreads > 0) {
        c.setIntraOpParallelismThreads(intraOpThreads);
      }
      if (interOpThreads > 0) {
        c.setInterOpParallelismThreads(interOpThreads);
      }
      b.config(c.build());
    }
    return b.build();
  }

  /** The model path as given. */
  public String modelPath() {
    return modelPath;
  }

  /** The scored column. */
  public String inputColumn() {
    return inputColumn;
  }

  /** The appended column. */
  public String outputColumn() {
    return outputColumn;
  }

  /** The signature key, or null for the model's default signature. */
  public String signature() {
    return signature;
  }

  /** The signature input fed, or null for its only input. */
  public String inputName() {
    return inputName;
  }

  /** The signature output kept, or null for its only output. */
  public String outputName() {
    return outputName;
  }

  /** Rows per model call. */
  public int batchSize() {
    return batchSize;
  }

  /** The shape of one row, or null to take it from the signature. */
  public long[] rowShape() {
    return rowShape == null ? null : rowShape.clone();
  }

  /** What happens to an invalid row. */
  public OnInvalidRow onInvalidRow() {
    return onInvalidRow;
  }

  /** Whether the model is folded ({@code false}: the unchanged original is served through the same path). */
  public boolean folding() {
    return folding;
  }

  @Override
  public String toString() {
    return "FusedScorer{" + modelPath + ", " + inputColumn + " -> " + outputColumn + ", batch " + batchSize
        + (rowShape != null ? ", rowShape " + Arrays.toString(rowShape) : "") + ", " + onInvalidRow
        + (folding ? "" : ", folding off") + "}";
  }

  /** The input column types the scorer reads. */
  enum ColumnKind {
    FLOATS, DOUBLES, BINARY;

    static ColumnKind of(StructField f) {
      DataType t = f.dataType();
      if (t instanceof ArrayType a) {
        if (a.elementType() instanceof FloatType) {
          return FLOATS;
        }
        if (a.elementType() instanceof DoubleType) {
          return DOUBLES;
        }
      } else if (t instanceof BinaryType) {
        return BINARY;
      }
      throw new IllegalArgumentException("FusedScorer: input column '" + f.name() + "' is " + t.simpleString()
          + "; supported: array<float>, array<double>, binary (little-endian float32)");
    }
  }

  /** Builds a {@link FusedScorer}. Not thread-safe. */
  public static final class Builder {
    private final String modelPath;
    private String inputColumn = "features";
    private String outputColumn = "scores";
    private String signature;
    private String inputName;
    private String outputName;
    private int batchSize = 64;
    private long[] rowShape;
    private OnInvalidRow onInvalidRow = OnInvalidRow.FAIL;
    private boolean folding = true;
    private String[] tags = {"serve"};
    private boolean strict;
    private int warmupRuns = 5;
    private double[] tolerance;
    private final List<String> disabledRules = new ArrayList<>();
    private final Map<String, String> pins = new LinkedHashMap<>();
    private int intraOpThreads;
    private int interOpThreads;

    private Builder(String modelPath) {
      this.modelPath = nonBlank(modelPath, "modelPath");
    }

    /** The column to score (default {@code features}). */
    public Builder inputColumn(String column) {
      this.inputColumn = nonBlank(column, "inputColumn");
      return this;
    }

    /** The column to append (default {@code scores}). */
    public Builder outputColumn(String column) {
      this.outputColumn = nonBlank(column, "outputColumn");
      return this;
    }

    /** The signature key (default: the model's default signature, {@code serving_default} or its only one). */
    public Builder signature(String key) {
      this.signature = nonBlank(key, "signature");
      return this;
    }

    /** The signature input to feed (default: its only input). */
    public Builder inputName(String name) {
      this.inputName = nonBlank(name, "inputName");
      return this;
    }

    /** The signature output to keep (default: its only output). */
    public Builder outputName(String name) {
      this.outputName = nonBlank(name, "outputName");
      return this;
    }

    /** Rows per model call (default 64); the last batch of a partition may be smaller. */
    public Builder batchSize(int rows) {
      if (rows < 1) {
        throw new IllegalArgumentException("batchSize must be >= 1, got " + rows);
      }
      this.batchSize = rows;
      return this;
    }

    /**
     * The shape of one row without the batch dimension ({@code 49, 10, 1}); default: the signature input's shape,
     * which must then be fully known. A row must hold the product of these values.
     */
    public Builder rowShape(long... shape) {
      if (shape == null || shape.length == 0 || Arrays.stream(shape).anyMatch(d -> d < 1)) {
        throw new IllegalArgumentException("rowShape must be one or more dimensions >= 1, got "
            + Arrays.toString(shape));
      }
      this.rowShape = shape.clone();
      return this;
    }

    /** What to do with a null or wrong-length row (default {@link OnInvalidRow#FAIL}). */
    public Builder onInvalidRow(OnInvalidRow mode) {
      this.onInvalidRow = Objects.requireNonNull(mode, "onInvalidRow");
      return this;
    }

    /**
     * Whether to fold (default true). {@code false} serves the unchanged original graph through the same code
     * path (cache, batching, validation), for comparisons: every rule is disabled.
     */
    public Builder folding(boolean fold) {
      this.folding = fold;
      return this;
    }

    /** MetaGraph tags (default {@code serve}). */
    public Builder tags(String... tags) {
      if (tags == null || tags.length == 0 || Arrays.stream(tags).anyMatch(t -> t == null || t.isBlank())) {
        throw new IllegalArgumentException("tags must be one or more non-empty strings");
      }
      this.tags = tags.clone();
      return this;
    }

    /** Fail the load when the folded model does not pass its check (default: serve the original). */
    public Builder strict(boolean strict) {
      this.strict = strict;
      return this;
    }

    /** Warm-up calls at load (default 5). */
    public Builder warmupRuns(int runs) {
      if (runs < 0) {
        throw new IllegalArgumentException("warmupRuns must be >= 0, got " + runs);
      }
      this.warmupRuns = runs;
      return this;
    }

    /** Tolerances of the load-time check (default the runtime's, 1e-5 absolute / 1e-4 relative). */
    public Builder tolerance(double abs, double rel) {
      FusedModelOptions.builder().tolerance(abs, rel); // same validation as the runtime
      this.tolerance = new double[] {abs, rel};
      return this;
    }

    /** Does not run the runtime rule {@code name} (names in docs/how-it-works.md). */
    public Builder disableRule(String name) {
      FusedModelOptions.builder().disableRule(name); // fails now for an unknown rule, not on the executors
      this.disabledRules.add(name);
      return this;
    }

    /** Pins a scalar placeholder to a constant ({@code "is_training", "false"}), as the runtime's {@code pin}. */
    public Builder pin(String name, String value) {
      FusedModelOptions.builder().pin(name, value);
      this.pins.put(name.trim(), value);
      return this;
    }

    /**
     * TensorFlow's intra-op and inter-op thread pools (0 = TensorFlow's default, one thread per core each). They are
     * fixed per JVM by the first session created; see docs/spark.md on executor cores.
     */
    public Builder threads(int intraOp, int interOp) {
      if (intraOp < 0 || interOp < 0) {
        throw new IllegalArgumentException("thread counts must be >= 0, got " + intraOp + ", " + interOp);
      }
      this.intraOpThreads = intraOp;
      this.interOpThreads = interOp;
      return this;
    }

    /**
     * The scorer.
     *
     * @throws IllegalStateException for {@code folding(false)} with pins (a pin rewrites the graph)
     */
    public FusedScorer build() {
      if (!folding && !pins.isEmpty()) {
        throw new IllegalStateException("folding(false) serves the unchanged original graph; pins " + pins.keySet()
            + " would rewrite it");
      }
      if (inputColumn.equals(outputColumn)) {
        throw new IllegalStateException("inputColumn and outputColumn are both '" + inputColumn + "'");
      }
      return new FusedScorer(this);
    }

    private static String nonBlank(String s, String what) {
      if (s == null || s.isBlank()) {
        throw new IllegalArgumentException(what + " must not be blank");
      }
      return s;
    }
  }
}
