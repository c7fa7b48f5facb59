package dev.fusedtf;

import dev.fusedtf.internal.fuse.Devices;
import dev.fusedtf.internal.fuse.FuseSettings;
import dev.fusedtf.internal.rules.Rule;
import dev.fusedtf.internal.rules.Rules;
import dev.fusedtf.spi.ProbeSupplier;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.RunOptions;

/**
 * The {@code FusedModelOptions} is the immutable set of choices for {@link FusedModel#load(Path, FusedModelOptions)}
 * and {@link FusedArtifact#fuse(ModelSource, FusedModelOptions)}: tags and session config, the check (tolerance,
 * probes, strict mode, what to do with what cannot be checked), rules to disable, placeholders to pin, warm-up,
 * request limits, the disk cache, and where metrics go.
 *
 * <pre>{@code
 * FusedModelOptions opts = FusedModelOptions.builder()
 *     .tags("serve")
 *     .tolerance(1e-5, 1e-4)
 *     .pin("is_training", false)
 *     .strict(true)
 *     .build();
 * }</pre>
 */
public final class FusedModelOptions {
  /** Default cap of the disk cache: 1 GiB. */
  public static final long DEFAULT_CACHE_BYTES = 1L << 30;

  private final String[] tags;
  private final ConfigProto config;
  private final RunOptions runOptions;
  private final double absTolerance;
  private final double relTolerance;
  private final List<String> disabledRules;
  private final List<Rule> extraRules;
  private final boolean strict;
  private final boolean serveUnverified;
  private final int[] probeBatches;
  private final long seed;
  private final ProbeSupplier probes;
  private final Map<String, String> pins;
  private final MeterRegistry meterRegistry;
  private final String modelName;
  private final int warmupRuns;
  private final Path fusedCacheDir;
  private final long fusedCacheMaxBytes;
  private final boolean measureSpeedup;
  private final boolean serveFaster;
  private final long maxBatch;
  private final long maxElements;
  private final boolean verifyFingerprint;

  private FusedModelOptions(Builder b) {
    this.tags = b.tags.clone();
    this.config = b.config;
    this.runOptions = b.runOptions;
    this.absTolerance = b.absTolerance;
    this.relTolerance = b.relTolerance;
    this.disabledRules = List.copyOf(b.disabledRules);
    this.extraRules = List.copyOf(b.extraRules);
    this.strict = b.strict;
    this.serveUnverified = b.serveUnverified;
    this.probeBatches = b.probeBatches.clone();
    this.seed = b.seed;
    this.probes = b.probes;
    this.pins = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(b.pins));
    this.meterRegistry = b.meterRegistry;
    this.modelName = b.modelName;
    this.warmupRuns = b.warmupRuns;
    this.fusedCacheDir = b.fusedCacheDir;
    this.fusedCacheMaxBytes = b.fusedCacheMaxBytes;
    this.measureSpeedup = b.measureSpeedup;
    this.serveFaster = b.serveFaster;
    this.maxBatch = b.maxBatch;
    this.maxElements = b.maxElements;
    this.verifyFingerprint = b.verifyFingerprint;
  }

  /** The defaults: tag {@code serve}, tolerance 1e-5 absolute / 1e-4 relative, probes at batch 1 and 8. */
  public static FusedModelOptions defaults() {
    return builder().build();
  }

  /** A builder starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these options. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.tags = tags.clone();
    b.config = config;
    b.runOptions = runOptions;
    b.absTolerance = absTolerance;
    b.relTolerance = relTolerance;
    b.disabledRules = new ArrayList<>(disabledRules);
    b.extraRules = new ArrayList<>(extraRules);
    b.strict = strict;
    b.serveUnverified = serveUnverified;
    b.probeBatches = probeBatches.clone();
    b.seed = seed;
    b.probes = probes;
    b.pins = new LinkedHashMap<>(pins);
    b.meterRegistry = meterRegistry;
    b.modelName = modelName;
    b.warmupRuns = warmupRuns;
    b.fusedCacheDir = fusedCacheDir;
    b.fusedCacheMaxBytes = fusedCacheMaxBytes;
    b.measureSpeedup = measureSpeedup;
    b.serveFaster = serveFaster;
    b.maxBatch = maxBatch;
    b.maxElements = maxElements;
    b.verifyFingerprint = verifyFingerprint;
    return b;
  }

  /** MetaGraph tags to load. */
  public String[] tags() {
    return tags.clone();
  }

  /** Session config, or null for TensorFlow's defaults. */
  public ConfigProto config() {
    return config;
  }

  /** Run options used while loading (restoring variables), or null. */
  public RunOptions runOptions() {
    return runOptions;
  }

  /** Absolute tolerance of the check. */
  public double absTolerance() {
    return absTolerance;
  }

  /** Relative tolerance of the check (relative to each output's max magnitude). */
  public double relTolerance() {
    return relTolerance;
  }

  /**
   * The names of the built-in rules, in the order they run (see docs/how-it-works.md#rules). Disabling all of them
   * with {@link Builder#disableRule} loads the model unchanged: it is served as the original, through FusedTF's
   * validation and metrics, which is how to compare original and fused through the same code path.
   */
  public static List<String> ruleNames() {
    return Rules.names();
  }

  /** Names of rules not to run. */
  public List<String> disabledRules() {
    return disabledRules;
  }

  /** Whether a rewritten model that is not accepted makes loading fail instead of serving the original. */
  public boolean strict() {
    return strict;
  }

  /**
   * Whether a rewritten model is served although part of it could not be checked (a signature without probe inputs,
   * or an original that cannot run on this machine); it is then reported as {@code fused-unverified}. Default off:
   * such a model is served as the original.
   */
  public boolean serveUnverified() {
    return serveUnverified;
  }

  /** Batch sizes of the probe inputs. */
  public int[] probeBatches() {
    return probeBatches.clone();
  }

  /** Seed of the random probe inputs. */
  public long seed() {
    return seed;
  }

  /** Supplier of probe inputs, or null for random probes from the signatures. */
  public ProbeSupplier probes() {
    return probes;
  }

  /** Placeholders pinned to constants (name to value as text), in the order given. */
  public Map<String, String> pins() {
    return pins;
  }

  /** Where metrics are recorded, or null for none (the default). */
  public MeterRegistry meterRegistry() {
    return meterRegistry;
  }

  /** The {@code model} tag of metrics, or null for the model directory's name. */
  public String modelName() {
    return modelName;
  }

  /** Warm-up calls on probe inputs made at load, before the model is handed out (default 5). */
  public int warmupRuns() {
    return warmupRuns;
  }

  /** Folder of the on-disk cache of fused models, or null for none. */
  public Path fusedCacheDir() {
    return fusedCacheDir;
  }

  /** Size cap of the disk cache in bytes (least recently used entries go first). */
  public long fusedCacheMaxBytes() {
    return fusedCacheMaxBytes;
  }

  /** Whether load times the original against the fused model, A/B interleaved, for the report (default off). */
  public boolean measureSpeedup() {
    return measureSpeedup;
  }

  /**
   * Whether load measures both models and serves the rewritten one only when it is faster beyond noise (implies
   * {@link #measureSpeedup()}; default off).
   */
  public boolean serveFaster() {
    return serveFaster;
  }

  /** The largest batch (first dimension) a request may have; 0 for no limit. */
  public long maxBatch() {
    return maxBatch;
  }

  /** The most elements all inputs of a request may hold together; 0 for no limit. */
  public long maxElements() {
    return maxElements;
  }

  /** Whether a SavedModel's {@code fingerprint.pb} checksum of {@code saved_model.pb} is verified (default on). */
  public boolean verifyFingerprint() {
    return verifyFingerprint;
  }

  /** The fuse step's settings. */
  FuseSettings settings() {
    return new FuseSettings(config, absTolerance, relTolerance, probeBatches, seed, probes, disabledRules, extraRules,
        pins, strict, serveUnverified, Devices.cpu(config));
  }

  /**
   * Every option that can change the rewritten model or its report, as one string: part of the disk-cache key
   * (with the model's fingerprint and the library build).
   */
  String artifactKey() {
    return "tags=" + String.join(",", tags)
        + "|disabled=" + new java.util.TreeSet<>(disabledRules)
        + "|extra=" + extraRules.stream().map(r -> r.getClass().getName() + ":" + r.name()).toList()
        + "|tol=" + absTolerance + "," + relTolerance
        + "|batches=" + Arrays.toString(probeBatches) + "|seed=" + seed
        + "|probes=" + (probes == null ? "default" : probes.getClass().getName())
        + "|pins=" + new TreeMap<>(pins)
        + "|unverified=" + serveUnverified + "|strict=" + strict
        + "|cpu=" + Devices.cpu(config)
        + "|config=" + (config == null ? "default" : Integer.toHexString(Arrays.hashCode(config.toByteArray())));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FusedModelOptions x && Arrays.equals(tags, x.tags) && Objects.equals(config, x.config)
        && Objects.equals(runOptions, x.runOptions)
        && absTolerance == x.absTolerance && relTolerance == x.relTolerance
        && disabledRules.equals(x.disabledRules) && extraRules.equals(x.extraRules) && strict == x.strict
        && serveUnverified == x.serveUnverified
        && Arrays.equals(probeBatches, x.probeBatches) && seed == x.seed && Objects.equals(probes, x.probes)
        && pins.equals(x.pins) && meterRegistry == x.meterRegistry
        && Objects.equals(modelName, x.modelName) && warmupRuns == x.warmupRuns
        && measureSpeedup == x.measureSpeedup && serveFaster == x.serveFaster
        && Objects.equals(fusedCacheDir, x.fusedCacheDir) && fusedCacheMaxBytes == x.fusedCacheMaxBytes
        && maxBatch == x.maxBatch && maxElements == x.maxElements && verifyFingerprint == x.verifyFingerprint;
  }

  @Override
  public int hashCode() {
    return Objects.hash(Arrays.hashCode(tags), config, absTolerance, relTolerance, disabledRules, strict,
        serveUnverified, Arrays.hashCode(probeBatches), seed, probes, pins, System.identityHashCode(meterRegistry),
        modelName, warmupRuns, measureSpeedup, fusedCacheDir, maxBatch, maxElements);
  }

  @Override
  public String toString() {
    return "FusedModelOptions{tags=" + Arrays.toString(tags) + ", atol=" + absTolerance + ", rtol=" + relTolerance
        + ", disabled=" + disabledRules + ", strict=" + strict + ", serveUnverified=" + serveUnverified
        + ", batches=" + Arrays.toString(probeBatches) + ", seed=" + seed
        + (pins.isEmpty() ? "" : ", pins=" + pins)
        + (modelName != null ? ", modelName=" + modelName : "")
        + (meterRegistry != null ? ", metrics=on" : "") + "}";
  }

  /** Builds {@link FusedModelOptions}. */
  public static final class Builder {
    private String[] tags = {"serve"};
    private ConfigProto config;
    private RunOptions runOptions;
    private double absTolerance = 1e-5;
    private double relTolerance = 1e-4;
    private List<String> disabledRules = new ArrayList<>();
    private List<Rule> extraRules = new ArrayList<>();
    private boolean strict;
    private boolean serveUnverified;
    private int[] probeBatches = {1, 8};
    private long seed = 42;
    private ProbeSupplier probes;
    private Map<String, String> pins = new LinkedHashMap<>();
    private MeterRegistry meterRegistry;
    private String modelName;
    private int warmupRuns = 5;
    private Path fusedCacheDir;
    private long fusedCacheMaxBytes = DEFAULT_CACHE_BYTES;
    private boolean measureSpeedup;
    private boolean serveFaster;
    private long maxBatch;
    private long maxElements;
    private boolean verifyFingerprint = true;

    private Builder() {}

    /** MetaGraph tags to load (default {@code serve}). */
    public Builder tags(String... tags) {
      if (tags == null || tags.length == 0 || Arrays.stream(tags).anyMatch(t -> t == null || t.isBlank())) {
        throw new IllegalArgumentException("tags must be one or more non-empty strings");
      }
      this.tags = tags.clone();
      return this;
    }

    /** Session config for the original and the rewritten session. */
    public Builder config(ConfigProto config) {
      this.config = config;
      return this;
    }

    /** Run options used while loading the SavedModel (as {@code SavedModelBundle.Loader.withRunOptions}). */
    public Builder runOptions(RunOptions runOptions) {
      this.runOptions = runOptions;
      return this;
    }

    /** Check tolerances: an output passes if max abs diff <= abs, or max rel diff <= rel. */
    public Builder tolerance(double abs, double rel) {
      if (!(abs >= 0) || !(rel >= 0) || Double.isInfinite(abs) || Double.isInfinite(rel)) {
        throw new IllegalArgumentException("tolerances must be finite and >= 0, got " + abs + " / " + rel);
      }
      this.absTolerance = abs;
      this.relTolerance = rel;
      return this;
    }

    /** Does not run the rule {@code name}. @throws IllegalArgumentException for an unknown rule */
    public Builder disableRule(String name) {
      if (!Rules.names().contains(name) && extraRules.stream().noneMatch(r -> r.name().equals(name))) {
        throw new IllegalArgumentException("unknown rule '" + name + "'; rules: " + String.join(", ", Rules.names()));
      }
      disabledRules.add(name);
      return this;
    }

    /** Fails the load (instead of serving the original) when the rewritten model is not accepted. */
    public Builder strict(boolean strict) {
      this.strict = strict;
      return this;
    }

    /** Serves the rewritten model even when part of it could not be checked. @see #serveUnverified() */
    public Builder serveUnverified(boolean serve) {
      this.serveUnverified = serve;
      return this;
    }

    /** Batch sizes of the probes (for each signature's first unknown dimension); at least one, each >= 1. */
    public Builder probeBatches(int... batches) {
      if (batches == null || batches.length == 0 || Arrays.stream(batches).anyMatch(x -> x < 1)) {
        throw new IllegalArgumentException("probe batches must be one or more sizes >= 1");
      }
      this.probeBatches = batches.clone();
      return this;
    }

    /** Seed of the random probes. */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Probe inputs of your own (for string inputs, or realistic data). */
    public Builder probes(ProbeSupplier probes) {
      this.probes = probes;
      return this;
    }

    /**
     * Pins the scalar placeholder {@code name} ({@code is_training} or {@code is_training:0}) to {@code value}
     * (a Boolean, a Number, or its text: {@code "false"}, {@code "1.0"}): it becomes a constant before the rules run
     * and is no longer an input. A name that is not a placeholder, or a value of the wrong type, fails the load.
     */
    public Builder pin(String name, Object value) {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("pin needs a placeholder name");
      }
      if (!(value instanceof Boolean || value instanceof Number || value instanceof String)) {
        throw new IllegalArgumentException("pin '" + name + "' needs a Boolean, a Number or a String, got "
            + (value == null ? "null" : value.getClass().getSimpleName()));
      }
      pins.put(name.trim(), String.valueOf(value));
      return this;
    }

    /** Records metrics in {@code registry} ({@code fusedtf.*} meters, tagged with the model's name). */
    public Builder meterRegistry(MeterRegistry registry) {
      this.meterRegistry = registry;
      return this;
    }

    /** The {@code model} tag of metrics (default: the model directory's name). */
    public Builder modelName(String name) {
      this.modelName = name;
      return this;
    }

    /**
     * Warm-up calls of each signature on probe inputs at load, before the model is handed out (default 5; 0 turns
     * warm-up off, TF Serving warm-up records still run). The first call after a load pays for graph optimisation.
     */
    public Builder warmupRuns(int runs) {
      if (runs < 0) {
        throw new IllegalArgumentException("warm-up runs must be >= 0, got " + runs);
      }
      this.warmupRuns = runs;
      return this;
    }

    /** Keeps checked fused models under {@code dir}: a restart loads them without folding or checking. */
    public Builder fusedCacheDir(Path dir) {
      this.fusedCacheDir = dir;
      return this;
    }

    /** Size cap of the disk cache in bytes (default 1 GiB; 0 for no cap). */
    public Builder fusedCacheMaxBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("cache size must be >= 0, got " + bytes);
      }
      this.fusedCacheMaxBytes = bytes;
      return this;
    }

    /** Times the original against the fused model at load (A/B interleaved) and puts the ratio in the report. */
    public Builder measureSpeedup(boolean measure) {
      this.measureSpeedup = measure;
      return this;
    }

    /** Serves whichever of original and rewritten model measured faster at load. @see #serveFaster() */
    public Builder serveFaster(boolean serveFaster) {
      this.serveFaster = serveFaster;
      return this;
    }

    /** The largest batch a request may have (0 = no limit). */
    public Builder maxBatch(long maxBatch) {
      if (maxBatch < 0) {
        throw new IllegalArgumentException("maxBatch must be >= 0, got " + maxBatch);
      }
      this.maxBatch = maxBatch;
      return this;
    }

    /** The most elements a request's inputs may hold together (0 = no limit). */
    public Builder maxElements(long maxElements) {
      if (maxElements < 0) {
        throw new IllegalArgumentException("maxElements must be >= 0, got " + maxElements);
      }
      this.maxElements = maxElements;
      return this;
    }

    /** Whether to verify {@code fingerprint.pb} against {@code saved_model.pb} at load (default true). */
    public Builder verifyFingerprint(boolean verify) {
      this.verifyFingerprint = verify;
      return this;
    }

    /** Adds a rule run after the built-in ones (tests use it to break a fold on purpose). */
    Builder extraRule(Rule rule) {
      extraRules.add(rule);
      return this;
    }

    /** The options. */
    public FusedModelOptions build() {
      return new FusedModelOptions(this);
    }
  }
}
