package dev.fusedtf.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;

/**
 * The {@code FusedTfMetrics} records what one model does into the {@link MeterRegistry} given in
 * {@code FusedModelOptions.builder().meterRegistry(..)}; without a registry it records nothing (the library
 * never uses Micrometer's global registry). The meters, all tagged {@code model}:
 *
 * <ul>
 *   <li>{@value #PREDICT} (timer), tags {@code signature} and {@code outcome} ({@code success},
 *       {@code invalid_input}, {@code error}): every predict/call;</li>
 *   <li>{@value #LOAD} (timer), tag {@code phase} ({@code load}, {@code fold}, {@code originalFirstRun}, {@code rebuild}, {@code check},
 *       {@code warmup}, {@code diskCacheLoad}, {@code speedup}):
 *       the load phases as measured by the loader (millisecond resolution);</li>
 *   <li>{@value #FOLDS} (gauge): BatchNorms folded by the served model's load;</li>
 *   <li>{@value #NODES} (gauge), tag {@code stage} ({@code before}, {@code after}): nodes on the serving path
 *       before and after folding.</li>
 * </ul>
 *
 * <p>Percentiles and histograms are the application's choice (configure them with a {@code MeterFilter}).
 * Gauges belong to the model that registered them last under a model name and are removed when that model is
 * closed; give models served side by side distinct names. Instances are thread-safe.
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

  private static final FusedTfMetrics NONE = new FusedTfMetrics(null, "");

  private final MeterRegistry registry;
  private final String model;
  private final ConcurrentMap<String, Timer[]> predictTimers = new ConcurrentHashMap<>();
  private final List<Gauge> gauges = new ArrayList<>();

  private FusedTfMetrics(MeterRegistry registry, String model) {
    this.registry = registry;
    this.model = model;
  }

  /**
   * Metrics for model {@code model} into {@code registry}, or a no-op instance when {@code registry} is null.
   */
  public static FusedTfMetrics of(MeterRegistry registry, String model) {
    return registry == null ? NONE : new FusedTfMetrics(registry, Objects.requireNonNull(model, "model"));
  }

  /** An instance that records nothing. */
  public static FusedTfMetrics none() {
    return NONE;
  }

  /** Whether meters are recorded. */
  public boolean enabled() {
    return registry != null;
  }

  /** The {@code model} tag value. */
  public String model() {
    return model;
  }

  /** Creates the predict timers of these signatures up front, so that they show at zero before any call. */
  public void registerSignatures(Iterable<String> signatures) {
    if (registry != null) {
      signatures.forEach(this::timers);
    }
  }

  /** Records one prediction of {@code signature} that took {@code nanos}. */
  public void recordPredict(String signature, Outcome outcome, long nanos) {
    if (registry != null) {
      timers(signature)[outcome.ordinal()].record(nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** Records load phase durations (phase name to milliseconds) as {@value #LOAD}. */
  public void recordLoadPhases(Map<String, Long> timingsMs) {
    if (registry == null || timingsMs == null) {
      return;
    }
    for (Map.Entry<String, Long> e : timingsMs.entrySet()) {
      Timer.builder(LOAD).description("Duration of a model load phase")
          .tags(Tags.of("model", model, "phase", e.getKey()))
          .register(registry)
          .record(Duration.ofMillis(e.getValue()));
    }
  }

  /**
   * Publishes the fold gauges of the served model, replacing gauges of an earlier model of the same name.
   * {@link #removeGauges()} takes them away again.
   */
  public synchronized void registerGauges(int folds, int nodesBefore, int nodesAfter) {
    registerGauges(folds, nodesBefore, nodesAfter, null);
  }

  /**
   * Publishes the fold gauges and, when {@code speedupRatio} is not null, {@value #SPEEDUP} (fused / original
   * median latency measured at load).
   */
  public synchronized void registerGauges(int folds, int nodesBefore, int nodesAfter, Double speedupRatio) {
    if (registry == null) {
      return;
    }
    removeGauges();
    if (speedupRatio != null) {
      gauges.add(gauge(SPEEDUP, "Fused over original median latency, timed at load", Tags.of("model", model),
          speedupRatio));
    }
    gauges.add(gauge(FOLDS, "BatchNorms folded into the served model", Tags.of("model", model), folds));
    gauges.add(gauge(NODES, "Nodes on the serving path", Tags.of("model", model, "stage", "before"), nodesBefore));
    gauges.add(gauge(NODES, "Nodes on the serving path", Tags.of("model", model, "stage", "after"), nodesAfter));
  }

  /** Removes the gauges this instance registered, unless another model has replaced them since. */
  public synchronized void removeGauges() {
    if (registry == null) {
      return;
    }
    for (Gauge g : gauges) {
      if (registry.find(g.getId().getName()).tags(g.getId().getTags()).gauge() == g) {
        registry.remove(g);
      }
    }
    gauges.clear();
  }

  private Gauge gauge(String name, String description, Tags tags, Number value) {
    Gauge existing = registry.find(name).tags(tags).gauge();
    if (existing != null) {
      registry.remove(existing);
    }
    Number v = value;
    return Gauge.builder(name, () -> v).description(description).tags(tags).register(registry);
  }

  private Timer[] timers(String signature) {
    return predictTimers.computeIfAbsent(signature, s -> {
      Outcome[] outcomes = Outcome.values();
      Timer[] t = new Timer[outcomes.length];
      for (Outcome o : outcomes) {
        t[o.ordinal()] = Timer.builder(PREDICT).description("Duration of a prediction")
            .tags(Tags.of("model", model, "signature", s, "outcome", o.tag()))
            .register(registry);
      }
      return t;
    });
  }
}
