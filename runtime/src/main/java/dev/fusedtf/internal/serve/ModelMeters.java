package dev.fusedtf.internal.serve;

import dev.fusedtf.metrics.FusedTfMetrics.Outcome;
import dev.fusedtf.metrics.FusedTfMetrics;
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
 * The {@code ModelMeters} records what one model does into a {@link MeterRegistry}, under the meter names and tags
 * {@link FusedTfMetrics} documents; without a registry it records nothing. Thread-safe.
 */
public final class ModelMeters {
  private static final ModelMeters NONE = new ModelMeters(null, "");

  private final MeterRegistry registry;
  private final String model;
  private final ConcurrentMap<String, Timer[]> predictTimers = new ConcurrentHashMap<>();
  private final List<Gauge> gauges = new ArrayList<>();

  private ModelMeters(MeterRegistry registry, String model) {
    this.registry = registry;
    this.model = model;
  }

  /**
   * Metrics for model {@code model} into {@code registry}, or a no-op instance when {@code registry} is null.
   */
  public static ModelMeters of(MeterRegistry registry, String model) {
    return registry == null ? NONE : new ModelMeters(registry, Objects.requireNonNull(model, "model"));
  }

  /** An instance that records nothing. */
  public static ModelMeters none() {
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

  /** Records load phase durations (phase name to milliseconds) as {@value #FusedTfMetrics.LOAD}. */
  public void recordLoadPhases(Map<String, Long> timingsMs) {
    if (registry == null || timingsMs == null) {
      return;
    }
    for (Map.Entry<String, Long> e : timingsMs.entrySet()) {
      Timer.builder(FusedTfMetrics.LOAD).description("Duration of a model load phase")
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
   * Publishes the fold gauges and, when {@code speedupRatio} is not null, {@value #FusedTfMetrics.SPEEDUP} (fused / original
   * median latency measured at load).
   */
  public synchronized void registerGauges(int folds, int nodesBefore, int nodesAfter, Double speedupRatio) {
    if (registry == null) {
      return;
    }
    removeGauges();
    if (speedupRatio != null) {
      gauges.add(gauge(FusedTfMetrics.SPEEDUP, "Fused over original median latency, timed at load", Tags.of("model", model),
          speedupRatio));
    }
    gauges.add(gauge(FusedTfMetrics.FOLDS, "BatchNorms folded into the served model", Tags.of("model", model), folds));
    gauges.add(gauge(FusedTfMetrics.NODES, "Nodes on the serving path", Tags.of("model", model, "stage", "before"), nodesBefore));
    gauges.add(gauge(FusedTfMetrics.NODES, "Nodes on the serving path", Tags.of("model", model, "stage", "after"), nodesAfter));
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
        t[o.ordinal()] = Timer.builder(FusedTfMetrics.PREDICT).description("Duration of a prediction")
            .tags(Tags.of("model", model, "signature", s, "outcome", o.tag()))
            .register(registry);
      }
      return t;
    });
  }
}
