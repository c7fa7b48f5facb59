package dev.fusedtf;

import dev.fusedtf.errors.FusedTfException;
import dev.fusedtf.errors.InvalidInputException;
import dev.fusedtf.errors.PredictionException;
import dev.fusedtf.internal.serve.InputValidator;
import dev.fusedtf.internal.source.LoadedGraph;
import dev.fusedtf.internal.serve.ModelMeters;
import dev.fusedtf.metrics.FusedTfMetrics;
import dev.fusedtf.report.CheckResult;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.report.Served;
import dev.fusedtf.spi.ProbeSupplier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.SessionFunction;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.RunOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code FusedModel} is a model loaded with its BatchNorms folded into the neighbouring convolutions, checked
 * against the original, and served. It offers every public method of TensorFlow Java's {@code SavedModelBundle}
 * with the same parameter and return types, so replacing the type name is the whole migration:
 *
 * <pre>{@code
 * // before: SavedModelBundle model = SavedModelBundle.load("/models/resnet", "serve");
 * try (FusedModel model = FusedModel.load("/models/resnet", "serve")) {
 *   try (Result out = model.call(Map.of("input_1", image))) { ... }
 * }
 * }</pre>
 *
 * <p>At load it folds, builds the rewritten graph in memory, and runs the original and the rewritten model on probe
 * inputs built from the signatures, comparing every output and each fold's own tensor. If they agree within the
 * tolerance the rewritten model is served; otherwise the original (with the reason in {@link #report()}), or, in
 * strict mode, loading fails. A model that cannot run does not load at all.
 *
 * <p>Every call ({@link #call}, {@link #function(String)}, {@link #predict}, {@link #predictInputs}) is validated in
 * Java first (names, dtypes, shapes, limits: a bad request throws {@link InvalidInputException} and never reaches
 * native code), and a failure inside TensorFlow comes back as {@link PredictionException}. Calls are thread-safe;
 * {@link #close()} waits for calls in flight, and calls after it throw {@link IllegalStateException}. A
 * {@code FusedModel} holds native memory: always close it. With a {@code MeterRegistry} in the options, calls and
 * loads are measured (see {@link FusedTfMetrics}).
 */
public final class FusedModel implements AutoCloseable {
  /** The tag used when none is given, as {@code SavedModelBundle.DEFAULT_TAG}. */
  public static final String DEFAULT_TAG = SavedModelBundle.DEFAULT_TAG;
  private static final Logger LOG = LoggerFactory.getLogger(FusedModel.class);
  private static final String INIT_OP = "__saved_model_init_op";

  private final String name;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final ModelMeters metrics;
  private final InputValidator.Limits limits;
  private final Path sourceDir;
  private final CompletableFuture<FoldReport> fuseResult = new CompletableFuture<>();
  /** What is served now; replaced once, under the write lock, when a model fused in the background is accepted. */
  private volatile State state;
  private volatile boolean closed;
  /** Whether a background fuse still uses the state's original (then it, not close(), frees that state). */
  private boolean fusing;

  /**
   * The served graph and what belongs to it.
   *
   * @param served the graph calls run on
   * @param report what loading did (so far)
   * @param byKey every signature by key
   * @param serving the signatures users call
   * @param variablesPrefix the checkpoint the served graph still restores variables from, or null
   * @param owner frees the served graph and whatever else this state holds
   */
  record State(LoadedGraph served, FoldReport report, Map<String, Signature> byKey, List<Signature> serving,
      Path variablesPrefix, AutoCloseable owner) {
    static State of(LoadedGraph served, FoldReport report, Path variablesPrefix, AutoCloseable owner) {
      Map<String, Signature> m = new LinkedHashMap<>();
      for (Signature s : served.signatures()) {
        m.put(s.key(), s);
      }
      return new State(served, report, Collections.unmodifiableMap(m), served.servingSignatures(), variablesPrefix,
          owner);
    }

    State withReport(FoldReport r) {
      return new State(served, r, byKey, serving, variablesPrefix, owner);
    }

    void free() {
      try {
        owner.close();
      } catch (Exception e) {
        LOG.warn("closing a served graph: {}", e.toString());
      }
    }
  }

  FusedModel(String name, State state, ModelMeters metrics, FusedModelOptions options, Path sourceDir,
      boolean fusingInBackground) {
    this.name = name;
    this.state = state;
    this.metrics = metrics;
    this.limits = new InputValidator.Limits(options.maxBatch(), options.maxElements());
    this.sourceDir = sourceDir;
    this.fusing = fusingInBackground;
    metrics.registerSignatures(state.serving().stream().map(Signature::key).toList());
    registerGauges(state.report());
    if (!fusingInBackground) {
      fuseResult.complete(state.report());
    }
  }

  private void registerGauges(FoldReport report) {
    metrics.registerGauges(report.folds().size(), report.nodesBefore(), report.nodesAfter(),
        report.speedup() != null ? report.speedup().ratio() : null);
  }

  /**
   * The end of a background fuse: serves {@code next} (the accepted rewritten model) in place of the original once
   * the calls in flight have finished, then frees the original; or, with {@code next} null, keeps serving the
   * original under {@code report}. After {@link #close()} it frees both instead.
   *
   * @return whether {@code next} is now served
   */
  boolean finishBackgroundFuse(State next, FoldReport report, Throwable failure) {
    State old;
    boolean freeOld;
    ReentrantReadWriteLock.WriteLock w = lock.writeLock();
    w.lock();
    try {
      fusing = false;
      old = state;
      if (closed) {
        if (next != null) {
          next.free();
        }
        freeOld = true;
      } else if (next != null) {
        state = next;
        freeOld = true;
        registerGauges(next.report());
      } else {
        state = old.withReport(report);
        freeOld = false;
      }
    } finally {
      w.unlock();
    }
    if (freeOld) {
      old.free();
    }
    if (failure != null) {
      fuseResult.completeExceptionally(failure);
    } else {
      fuseResult.complete(report);
    }
    return next != null && !closed;
  }

  // ------------------------------------------------------------------------------------------ loading

  /**
   * Loads the SavedModel in {@code exportDir} with tag {@code serve}: the drop-in for
   * {@code SavedModelBundle.load(exportDir)}.
   *
   * @throws FusedTfException if the model cannot be loaded or cannot run
   */
  public static FusedModel load(String exportDir) {
    return load(Path.of(exportDir), DEFAULT_TAG);
  }

  /**
   * Loads the SavedModel in {@code exportDir}: the drop-in for {@code SavedModelBundle.load(exportDir, tags)}. With
   * no tags, {@code serve} is used.
   *
   * @throws FusedTfException if the model cannot be loaded or cannot run
   */
  public static FusedModel load(String exportDir, String... tags) {
    return load(Path.of(exportDir), tags);
  }

  /**
   * Loads the SavedModel in {@code exportDir} with these tags ({@code serve} when none).
   *
   * @throws FusedTfException if the model cannot be loaded or cannot run
   */
  public static FusedModel load(Path exportDir, String... tags) {
    FusedModelOptions.Builder b = FusedModelOptions.builder();
    if (tags.length > 0) {
      b.tags(tags);
    }
    return load(exportDir, b.build());
  }

  /**
   * Loads the SavedModel in {@code exportDir} with explicit options.
   *
   * @throws FusedTfException if the model cannot be loaded or cannot run, or (strict mode) the rewritten model is
   *     not accepted
   */
  public static FusedModel load(Path exportDir, FusedModelOptions options) {
    return load(ModelSource.savedModel(exportDir), options);
  }

  /**
   * Loads a model from any source (SavedModel, TF1 checkpoint, frozen graph) with explicit options.
   *
   * @throws FusedTfException if the model cannot be loaded or cannot run, or (strict mode) the rewritten model is
   *     not accepted
   */
  public static FusedModel load(ModelSource source, FusedModelOptions options) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(options, "options");
    return new ModelLoading(source, options).load(source.path().toString());
  }

  /**
   * A loader for {@code exportDir}: the drop-in for {@code SavedModelBundle.loader(exportDir)}, with FusedTF's own
   * options on top.
   */
  public static Loader loader(String exportDir) {
    return new Loader(exportDir);
  }

  /**
   * The exporter of TensorFlow Java, as {@code SavedModelBundle.exporter(exportDir)}; FusedTF's own writer of a
   * self-contained model is {@link #writeSavedModel(Path, boolean)}.
   */
  public static SavedModelBundle.Exporter exporter(String exportDir) {
    return SavedModelBundle.exporter(exportDir);
  }

  /**
   * Analyses a model without building the rewritten one: what would fold and what would not, and why. The report's
   * {@code check} is null.
   */
  public static FoldReport inspect(ModelSource source, FusedModelOptions options) {
    return new ModelLoading(source, options).inspect();
  }

  /** Builds a {@link FusedModel} as {@code SavedModelBundle.Loader} builds a bundle. */
  public static final class Loader {
    private final String exportDir;
    private FusedModelOptions.Builder options = FusedModelOptions.builder();

    private Loader(String exportDir) {
      this.exportDir = Objects.requireNonNull(exportDir, "exportDir");
    }

    /** The tags to load (default {@code serve}). */
    public Loader withTags(String... tags) {
      options.tags(tags);
      return this;
    }

    /** The session config. */
    public Loader withConfigProto(ConfigProto configProto) {
      options.config(configProto);
      return this;
    }

    /** Run options used while loading. */
    public Loader withRunOptions(RunOptions runOptions) {
      options.runOptions(runOptions);
      return this;
    }

    /** FusedTF's options; tags, config and run options set on this loader before are replaced by theirs. */
    public Loader withOptions(FusedModelOptions fusedOptions) {
      options = fusedOptions.toBuilder();
      return this;
    }

    /** Loads. @throws FusedTfException if the model cannot be loaded or cannot run */
    public FusedModel load() {
      return FusedModel.load(Path.of(exportDir), options.build());
    }
  }

  // ------------------------------------------------------------------------------------------ SavedModelBundle API

  /** The MetaGraphDef of the served graph (the rewritten one when fused). */
  public MetaGraphDef metaGraphDef() {
    return state.served().meta();
  }

  /** The served graph (owned by this model). */
  public Graph graph() {
    return state.served().graph();
  }

  /**
   * The served session (owned by this model: do not close it). Running it directly by tensor names works, but skips
   * FusedTF's validation and metrics; prefer {@link #call} or {@link #function(String)}.
   */
  public Session session() {
    return state.served().session();
  }

  /**
   * The signatures, as {@code SavedModelBundle.signatures()} lists them: every one but the init op
   * ({@code __saved_model_init_op}), which {@link #functions()} includes, as TensorFlow Java does.
   */
  public List<Signature> signatures() {
    return state.served().signatures().stream().filter(s -> !s.key().equals(INIT_OP)).toList();
  }

  /**
   * The signature {@code signatureKey} as a function whose {@code call} goes through this model's validation, lock
   * and metrics.
   *
   * @throws IllegalArgumentException if there is no such signature
   */
  public SessionFunction function(String signatureKey) {
    State st = state;
    return new ServedFunction(signature(st, signatureKey), st);
  }

  /** Every signature as a function, as {@code SavedModelBundle.functions()}. */
  public List<SessionFunction> functions() {
    State st = state;
    return st.served().signatures().stream().map(s -> (SessionFunction) new ServedFunction(s, st)).toList();
  }

  /**
   * Runs the default signature ({@code serving_default}, or the only one): the drop-in for
   * {@code SavedModelBundle.call}. The caller closes the result; the inputs stay the caller's.
   *
   * @throws InvalidInputException for an input of the wrong name, dtype or shape
   * @throws PredictionException when TensorFlow fails to run a valid request
   * @throws IllegalStateException after {@link #close()}, or when there is no default signature
   */
  public Result call(Map<String, Tensor> arguments) {
    return call(defaultSignature().key(), arguments);
  }

  // ------------------------------------------------------------------------------------------ FusedTF API

  /** What loading did: folds, rewrites, skips, node counts, the check, which graph is served. */
  public FoldReport report() {
    return state.report();
  }

  /** Which graph is served. */
  public Served served() {
    return state.report().served();
  }

  /** Whether a rewritten graph (rather than the original) is served. */
  public boolean isFused() {
    return state.report().isFusedServed();
  }

  /** The check's outcome; null while a background fuse ({@link FusedModelOptions#fuseInBackground()}) runs. */
  public CheckResult check() {
    return state.report().check();
  }

  /**
   * The final report: complete when this model was loaded, unless it fuses in the background
   * ({@link FusedModelOptions#fuseInBackground()}): then it completes when the rewritten model has been checked and
   * is served (or was rejected, and the original goes on), and completes exceptionally when the fuse step failed (in
   * strict mode, a rejected model). The original is served meanwhile either way.
   */
  public CompletableFuture<FoldReport> fuseResult() {
    return fuseResult.copy();
  }

  /** The model's name (its path). */
  public String name() {
    return name;
  }

  /** The signatures users call ({@code __saved_model_init_op} left out), by key. */
  public Map<String, Signature> signatureMap() {
    Map<String, Signature> m = new LinkedHashMap<>();
    state.serving().forEach(s -> m.put(s.key(), s));
    return Collections.unmodifiableMap(m);
  }

  /** The signature {@code key}. @throws InvalidInputException if there is none */
  public Signature signature(String key) {
    return signature(state, key);
  }

  private Signature signature(State st, String key) {
    Signature s = key == null ? null : st.byKey().get(key);
    if (s == null) {
      throw new InvalidInputException(key, null, "model " + name + " has no signature '" + key + "'; it has "
          + st.serving().stream().map(Signature::key).toList());
    }
    return s;
  }

  /** The default signature: {@code serving_default}, or the only one. */
  public Signature defaultSignature() {
    State st = state;
    if (st.byKey().containsKey(Signature.DEFAULT_KEY)) {
      return st.byKey().get(Signature.DEFAULT_KEY);
    }
    if (st.serving().size() == 1) {
      return st.serving().get(0);
    }
    throw new IllegalStateException("model " + name + " has no '" + Signature.DEFAULT_KEY + "' signature; name one of "
        + st.serving().stream().map(Signature::key).toList());
  }

  /**
   * Runs signature {@code key} on {@code inputs} after validating them. The caller closes the result (which closes
   * its tensors); the inputs stay the caller's.
   *
   * @throws InvalidInputException for an unknown signature or an input of the wrong name, dtype or shape
   * @throws PredictionException when TensorFlow fails to run a valid request
   * @throws IllegalStateException after {@link #close()}
   */
  public Result call(String key, Map<String, ? extends Tensor> inputs) {
    return call(key, inputs, true);
  }

  /**
   * One unrecorded call per signature through the whole request path (checks, validation, lock, run), so that the
   * first real request does not pay for loading and initialising that code.
   */
  void warmRequestPath(ProbeSupplier probes) {
    for (Signature sig : state.serving()) {
      Map<String, Tensor> in;
      try {
        in = probes.probe(sig, 1, 0);
      } catch (RuntimeException e) {
        continue;
      }
      try {
        call(sig.key(), in, false).close();
      } catch (RuntimeException e) {
        LOG.debug("request-path warm-up of '{}' failed: {}", sig.key(), e.toString());
      } finally {
        in.values().forEach(Tensor::close);
      }
    }
  }

  private Result call(String key, Map<String, ? extends Tensor> inputs, boolean record) {
    long start = System.nanoTime();
    String sigTag = key != null && state.byKey().containsKey(key) ? key : FusedTfMetrics.UNKNOWN_SIGNATURE;
    FusedTfMetrics.Outcome outcome = FusedTfMetrics.Outcome.ERROR;
    try {
      if (closed) {
        throw new IllegalStateException("model " + name + " is closed");
      }
      signature(key); // an unknown signature is the caller's error, before waiting for the lock
      ReentrantReadWriteLock.ReadLock r = lock.readLock();
      r.lock();
      try {
        if (closed) {
          throw new IllegalStateException("model " + name + " is closed");
        }
        State st = state; // the state cannot change while the read lock is held
        Signature sig = signature(st, key);
        InputValidator.validate(sig, inputs, limits);
        @SuppressWarnings("unchecked")
        Map<String, Tensor> in = (Map<String, Tensor>) inputs;
        Result result = run(st, sig, in);
        outcome = FusedTfMetrics.Outcome.SUCCESS;
        return result;
      } finally {
        r.unlock();
      }
    } catch (InvalidInputException e) {
      outcome = FusedTfMetrics.Outcome.INVALID_INPUT;
      throw e;
    } finally {
      if (record) {
        metrics.recordPredict(sigTag, outcome, System.nanoTime() - start);
      }
    }
  }

  private Result run(State st, Signature sig, Map<String, Tensor> in) {
    try {
      return st.served().session().run(sig, in);
    } catch (IllegalArgumentException e) {
      // TensorFlow's TFInvalidArgumentException: the request passed the Java checks but the model cannot take it
      throw new InvalidInputException(sig.key(), null, "signature '" + sig.key() + "' cannot take inputs of shapes "
          + shapes(in) + ": the model rejects them (a convolution or pooling needs a larger input, or channels do not "
          + "match); TensorFlow said: " + firstLine(e.getMessage()));
    } catch (TensorFlowException | UnsupportedOperationException e) {
      throw new PredictionException(sig.key(), "signature '" + sig.key() + "' of model " + name + " failed to run: "
          + firstLine(e.getMessage()), e);
    }
  }

  private static String shapes(Map<String, Tensor> in) {
    Map<String, String> m = new LinkedHashMap<>();
    in.forEach((k, v) -> m.put(k, java.util.Arrays.toString(v.shape().asArray())));
    return m.toString();
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "(no message)";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /**
   * Runs signature {@code key} and returns the outputs as a {@link Prediction}, which the caller closes.
   *
   * @throws InvalidInputException for an unknown signature or an input of the wrong name, dtype or shape
   * @throws PredictionException when TensorFlow fails to run a valid request
   * @throws IllegalStateException after {@link #close()}
   */
  public Prediction predict(String key, Map<String, ? extends Tensor> inputs) {
    return new Prediction(key, call(key, inputs));
  }

  /** Runs the default signature. @see #predict(String, Map) */
  public Prediction predict(Map<String, ? extends Tensor> inputs) {
    return predict(defaultSignature().key(), inputs);
  }

  /**
   * Runs signature {@code key} on inputs given as plain Java arrays ({@link Input}): builds the tensors, runs them as
   * {@link #predict(String, Map)} does, and frees them before returning.
   *
   * @throws InvalidInputException for an unknown signature or an input of the wrong name, dtype or shape
   */
  public Prediction predictInputs(String key, Map<String, Input> inputs) {
    long start = System.nanoTime();
    Map<String, Tensor> tensors;
    try {
      tensors = tensorsOf(key, inputs);
    } catch (InvalidInputException e) {
      String sigTag = key != null && state.byKey().containsKey(key) ? key : FusedTfMetrics.UNKNOWN_SIGNATURE;
      metrics.recordPredict(sigTag, FusedTfMetrics.Outcome.INVALID_INPUT, System.nanoTime() - start);
      throw e;
    }
    try {
      return predict(key, tensors);
    } finally {
      tensors.values().forEach(Tensor::close); // outputs hold their own references to shared buffers
    }
  }

  /** Validates {@code inputs} against signature {@code key} (limits included), then builds their tensors. */
  private Map<String, Tensor> tensorsOf(String key, Map<String, Input> inputs) {
    if (inputs == null) {
      throw new InvalidInputException(key, null, "inputs must not be null");
    }
    Signature sig = signature(key);
    Map<String, InputValidator.Given> given = new LinkedHashMap<>();
    for (Map.Entry<String, Input> e : inputs.entrySet()) {
      if (e.getKey() == null) {
        throw new InvalidInputException(key, null, "signature '" + key + "': an input name is null");
      }
      Input v = e.getValue();
      given.put(e.getKey(), v == null ? null : new InputValidator.Given(v.dataType(), v.shape()));
    }
    InputValidator.validateShapes(sig, given, limits); // before any tensor is allocated
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, Input> e : inputs.entrySet()) {
        tensors.put(e.getKey(), e.getValue().toTensor());
      }
      return tensors;
    } catch (RuntimeException e) {
      tensors.values().forEach(Tensor::close);
      throw e;
    }
  }

  /** Runs the default signature on plain Java arrays. @see #predictInputs(String, Map) */
  public Prediction predictInputs(Map<String, Input> inputs) {
    return predictInputs(defaultSignature().key(), inputs);
  }

  /**
   * Writes the served model as a self-contained SavedModel that plain {@code SavedModelBundle.load} loads: the
   * rewritten graph with its weights as constants (and the variables it still reads), or the original's files.
   *
   * @param force replace an existing output
   * @throws FusedTfException if it cannot be written
   */
  public void writeSavedModel(Path out, boolean force) {
    State st = state;
    ModelWriting.savedModel(st.served().meta(), st.report().served(), sourceDir, st.variablesPrefix(), out, force);
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }

  /**
   * Waits for calls in flight, then frees the session and graph. Idempotent. While a background fuse runs, the
   * original it compares with is freed when that fuse ends (it is not interrupted).
   */
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
      if (!fusing) {
        state.free();
      }
    } finally {
      w.unlock();
    }
  }

  @Override
  public String toString() {
    FoldReport r = state.report();
    return "FusedModel{" + name + ", " + r.served() + ", folds=" + r.folds().size() + "}";
  }

  /** A signature as a {@code SessionFunction} whose call goes through the model. */
  private final class ServedFunction extends SessionFunction {
    private final Signature sig;

    ServedFunction(Signature sig, State st) {
      super(sig, st.served().session());
      this.sig = sig;
    }

    @Override
    public Result call(Map<String, Tensor> arguments) {
      return FusedModel.this.call(sig.key(), arguments);
    }
  }

}
