package dev.fusedtf.metrics;

/**
 * The {@code FusedTfMetrics} names the Micrometer meters a model records into the {@code MeterRegistry} given in
 * {@code FusedModelOptions.builder().meterRegistry(..)}; without a registry nothing is recorded (the library never
 * uses Micrometer's global registry). The meters, all tagged {@code model}:
 *
 * <ul>
 *   <li>{@value #PREDICT} (timer), tags {@code signature} and {@code outcome} ({@code success},
 *       {@code invalid_input}, {@code error}): every predict/call;</li>
 *   <li>{@value #LOAD} (timer), tag {@code phase} ({@code load}, {@code fold}, {@code originalFirstRun},
 *       {@code rebuild}, {@code check}, {@code warmup}, {@code diskCacheLoad}, {@code speedup}):
 *       the load phases as measured by the loader (millisecond resolution);</li>
 *   <li>{@value #FOLDS} (gauge): BatchNorms folded by the served model's load;</li>
 *   <li>{@value #NODES} (gauge), tag {@code stage} ({@code before}, {@code after}): nodes on the serving path
 *       before and after folding.</li>
 * </ul>
 *
 * <p>Percentiles and histograms are the application's choice (configure them with a {@code MeterFilter}).
 * Gauges belong to the model that registered them last under a model name and are removed when that model is
 * closed; give models served side by side distinct names. The cache adds {@code fusedtf.cache.*} meters (see
 * {@code FusedModelCache}).
 */
public final class FusedTfMetrics {
  /** Timer of predictions. */
  public static final String PREDICT = "fusedtf.predict";
  /** Timer of load phases. */
  public static final String LOAD = "fusedtf.load";
  /** Gauge of folded BatchNorms. */
  public static final String FOLDS = "fusedtf.folds";
  /** Gauge of nodes on the serving path. */
  public static final String NODES = "fusedtf.nodes";
  /** Gauge: median latency of the fused model over the original's, timed at load (when measured). */
  public static final String SPEEDUP = "fusedtf.speedup";
  /** Signature tag value used when the requested signature does not exist (keeps tag values bounded). */
  public static final String UNKNOWN_SIGNATURE = "unknown";

  /** The {@code outcome} tag of {@value #PREDICT}. */
  public enum Outcome {
    /** The call returned outputs. */
    SUCCESS("success"),
    /** The request was rejected: unknown signature, input of the wrong name, dtype or shape, or a value that
     * TensorFlow refused ({@code TFInvalidArgumentException}). */
    INVALID_INPUT("invalid_input"),
    /** Any other failure, including a call on a closed model. */
    ERROR("error");

    private final String tag;

    Outcome(String tag) {
      this.tag = tag;
    }

    /** The tag value. */
    public String tag() {
      return tag;
    }
  }

  private FusedTfMetrics() {}
}
