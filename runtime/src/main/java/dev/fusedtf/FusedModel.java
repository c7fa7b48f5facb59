package dev.fusedtf;

import dev.fusedtf.check.CheckResult;
import dev.fusedtf.metrics.FusedTfMetrics;
import dev.fusedtf.serving.Input;
import dev.fusedtf.serving.Prediction;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.MetaGraphDef;

/**
 * The {@code FusedModel} is a SavedModel loaded with its BatchNorms folded into the preceding convolutions,
 * checked against the original, and served. It replaces {@code SavedModelBundle.load} in one line:
 *
 * <pre>{@code
 * // before: SavedModelBundle model = SavedModelBundle.load("/models/resnet", "serve");
 * try (FusedModel model = FusedModel.load(Path.of("/models/resnet"), "serve");
 *      TFloat32 image = TFloat32.tensorOf(Shape.of(1, 224, 224, 3));
 *      Result out = model.call("serving_default", Map.of("input_1", image))) {
 *   ...
 * }
 * }</pre>
 *
 * <p>At load it folds, rebuilds the graph complete, and runs the original and the fused model on probe inputs
 * built from the signatures. If the outputs differ beyond the tolerance the original graph is served (with the
 * reason in {@link #report()}), or, in strict mode, loading fails. Then the unused session is closed.
 *
 * <p>{@link #predict(String, Map)} returns a {@link Prediction} that owns the output tensors;
 * {@link #predictArrays(String, Map)} takes plain Java arrays ({@link Input}) and builds and frees the input
 * tensors itself:
 *
 * <pre>{@code
 * try (Prediction p = model.predictArrays("serving_default", Map.of("x", Input.of(pixels, 1, 28, 28, 1)))) {
 *   float[] y = p.floats("y");
 * }
 * }</pre>
 *
 * <p>Calls are thread-safe; {@link #close()} waits for calls in flight, and calls after it fail with
 * {@link IllegalStateException}. A {@code FusedModel} holds native memory: always close it. With a
 * {@code MeterRegistry} in the options, calls and loads are measured (see {@link FusedTfMetrics}).
 */
public final class FusedModel implements AutoCloseable {
  private final String name;
  private final SavedModelBundle bundle;
  private final MetaGraphDef servedMeta;
  private final FoldReport report;
  private final Map<String, Signature> signatures;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final FusedTfMetrics metrics;
  private volatile boolean closed;

  FusedModel(String name, SavedModelBundle bundle, MetaGraphDef servedMeta, FoldReport report,
      FusedTfMetrics metrics) {
    this.name = name;
    this.metrics = metrics;
    this.bundle = bundle;
    this.servedMeta = servedMeta;
    this.report = report;
    Map<String, Signature> sigs = new LinkedHashMap<>();
    for (Signature s : FusedModelLoader.servingSignatures(bundle)) {
      sigs.put(s.key(), s);
    }
    this.signatures = sigs;
    metrics.registerSignatures(sigs.keySet());
    metrics.registerGauges(report.folds().size(), report.nodesBefore(), report.nodesAfter(),
        report.speedup() != null ? report.speedup().ratio() : null);
  }

  /**
   * Loads, folds, checks and serves the SavedModel in {@code exportDir}: the drop-in for
   * {@code SavedModelBundle.load(exportDir, tags)}. With no tags, {@code serve} is used.
   *
   * @throws FusedTfException if the model cannot be loaded
   */
  public static FusedModel load(Path exportDir, String... tags) {
    FusedModelOptions.Builder b = FusedModelOptions.builder();
    if (tags.length > 0) {
      b.tags(tags);
    }
    return load(exportDir, b.build());
  }

  /**
   * Loads with explicit options.
   *
   * @throws FusedTfException if the model cannot be loaded, or (strict mode) if the check fails
   */
  public static FusedModel load(Path exportDir, FusedModelOptions options) {
    return new FusedModelLoader(exportDir, options).load();
  }

  /**
   * Analyses {@code exportDir} without building the fused model: what would fold and what would not, and why.
   * The report's {@code check} is null.
   */
  public static FoldReport inspect(Path exportDir, FusedModelOptions options) {
    return new FusedModelLoader(exportDir, options).inspect();
  }

  /** The model's name (its directory). */
  public String name() {
    return name;
  }

  /** What loading did: folds, skips, node counts, the check, which graph is served. */
  public FoldReport report() {
    return report;
  }

  /** Whether the fused graph (rather than the original) is served. */
  public boolean isFused() {
    return report.isFusedServed();
  }

  /** The check's outcome. */
  public CheckResult check() {
    return report.check();
  }

  /** The serving signatures (internal ones such as {@code __saved_model_init_op} left out), by key. */
  public Map<String, Signature> signatures() {
    return java.util.Collections.unmodifiableMap(signatures);
  }

  /** The signature {@code key}. @throws IllegalArgumentException if there is none */
  public Signature signature(String key) {
    Signature s = signatures.get(key);
    if (s == null) {
      throw new IllegalArgumentException("model " + name + " has no signature '" + key + "'; it has "
          + new ArrayList<>(signatures.keySet()));
    }
    return s;
  }

  /** The default signature: {@code serving_default}, or the only one. */
  public Signature defaultSignature() {
    if (signatures.containsKey(Signature.DEFAULT_KEY)) {
      return signatures.get(Signature.DEFAULT_KEY);
    }
    if (signatures.size() == 1) {
      return signatures.values().iterator().next();
    }
    throw new IllegalStateException("model " + name + " has no '" + Signature.DEFAULT_KEY
        + "' signature; name one of " + signatures.keySet());
  }

  /**
   * Runs signature {@code key} on {@code inputs} after validating them. The caller closes the result (which
   * closes its tensors); the inputs stay the caller's.
   *
   * @throws IllegalArgumentException for an unknown signature or an input of the wrong name, dtype or shape
   * @throws IllegalStateException after {@link #close()}
   */
  public Result call(String key, Map<String, ? extends Tensor> inputs) {
    return call(key, inputs, true);
  }

  /**
   * One call through the whole request path (checks, validation, lock, run) without recording it: the loader
   * makes one per signature so that the first real request does not pay for loading and initialising that code.
   */
  void warmRequestPath(String key, Map<String, ? extends Tensor> inputs) {
    call(key, inputs, false).close();
  }

  private Result call(String key, Map<String, ? extends Tensor> inputs, boolean record) {

    long start = System.nanoTime();
    String sigTag = FusedTfMetrics.UNKNOWN_SIGNATURE;
    FusedTfMetrics.Outcome outcome = FusedTfMetrics.Outcome.ERROR;
    try {
      if (signatures.containsKey(key)) {
        sigTag = key;
      }
      if (closed) {
        throw new IllegalStateException("model " + name + " is closed");
      }
      Signature sig = signature(key);
      InputValidator.validate(sig, inputs);
      ReentrantReadWriteLock.ReadLock r = lock.readLock();
      r.lock();
      try {
        if (closed) {
          throw new IllegalStateException("model " + name + " is closed");
        }
        @SuppressWarnings("unchecked")
        Map<String, Tensor> in = (Map<String, Tensor>) inputs;
        Result result = bundle.session().run(sig, in);
        outcome = FusedTfMetrics.Outcome.SUCCESS;
        return result;
      } finally {
        r.unlock();
      }
    } catch (IllegalArgumentException e) {
      outcome = FusedTfMetrics.Outcome.INVALID_INPUT;
      throw e;
    } finally {
      if (record) {
        metrics.recordPredict(sigTag, outcome, System.nanoTime() - start);
      }
    }
  }

  /** Runs the default signature. @see #call(String, Map) */
  public Result call(Map<String, ? extends Tensor> inputs) {
    return call(defaultSignature().key(), inputs);
  }

  /**
   * Runs signature {@code key} on {@code inputs} after validating them (names, dtype, rank, fixed dimensions)
   * and returns the outputs as a {@link Prediction}, which the caller closes. The inputs stay the caller's.
   * Thread-safe.
   *
   * @throws IllegalArgumentException for an unknown signature or an input of the wrong name, dtype or shape
   * @throws IllegalStateException after {@link #close()}
   */
  public Prediction predict(String key, Map<String, ? extends Tensor> inputs) {
    Result result = call(key, inputs);
    return new Prediction(key, result);
  }

  /** Runs the default signature. @see #predict(String, Map) */
  public Prediction predict(Map<String, ? extends Tensor> inputs) {
    return predict(defaultSignature().key(), inputs);
  }

  /**
   * Runs signature {@code key} on inputs given as plain Java arrays: builds the tensors, validates and runs them
   * as {@link #predict(String, Map)} does, and frees them before returning. (A different name from
   * {@code predict} because both maps erase to the same type.)
   *
   * @throws IllegalArgumentException for an unknown signature or an input of the wrong name, dtype or shape
   * @throws IllegalStateException after {@link #close()}
   */
  public Prediction predictArrays(String key, Map<String, Input> inputs) {
    if (inputs == null) {
      throw new IllegalArgumentException("inputs must not be null");
    }
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, Input> e : inputs.entrySet()) {
        if (e.getValue() == null) {
          throw new IllegalArgumentException("input '" + e.getKey() + "' is null");
        }
        tensors.put(e.getKey(), e.getValue().toTensor());
      }
      return predict(key, tensors);
    } finally {
      // safe: outputs hold their own references to any buffer they share with an input
      tensors.values().forEach(Tensor::close);
    }
  }

  /** Runs the default signature on plain Java arrays. @see #predictArrays(String, Map) */
  public Prediction predictArrays(Map<String, Input> inputs) {
    return predictArrays(defaultSignature().key(), inputs);
  }

  /** The served session (owned by this model: do not close it). */
  public Session session() {
    return bundle.session();
  }

  /** The served graph (owned by this model). */
  public Graph graph() {
    return bundle.graph();
  }

  /** The MetaGraphDef of the served graph (the fused one when fused). */
  public MetaGraphDef metaGraphDef() {
    return servedMeta;
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }

  /** Waits for calls in flight, then frees the session and graph. Idempotent. */
  @Override
  public void close() {
    ReentrantReadWriteLock.WriteLock w = lock.writeLock();
    w.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      metrics.removeGauges();
      bundle.close();
    } finally {
      w.unlock();
    }
  }

  @Override
  public String toString() {
    return "FusedModel{" + name + ", " + report.served() + ", folds=" + report.folds().size() + "}";
  }
}
