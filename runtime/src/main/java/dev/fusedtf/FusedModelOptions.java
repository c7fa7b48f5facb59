package dev.fusedtf;

import dev.fusedtf.check.ProbeSupplier;
import dev.fusedtf.fold.Pass;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.tensorflow.proto.ConfigProto;

/**
 * The {@code FusedModelOptions} is the immutable set of choices for {@link FusedModel#load(java.nio.file.Path,
 * FusedModelOptions)}: tags, session config, check tolerance and probes, passes to disable, strict mode, and
 * where metrics go (a {@link MeterRegistry} and the {@code model} tag; no registry, no metrics).
 *
 * <pre>{@code
 * FusedModelOptions opts = FusedModelOptions.builder()
 *     .tags("serve")
 *     .tolerance(1e-5, 1e-4)
 *     .disablePass("fold-batchnorm")
 *     .strict(true)
 *     .build();
 * }</pre>
 */
public final class FusedModelOptions {
  private final String[] tags;
  private final ConfigProto config;
  private final double absTolerance;
  private final double relTolerance;
  private final List<String> disabledPasses;
  private final boolean strict;
  private final int[] probeBatches;
  private final long seed;
  private final ProbeSupplier probes;
  private final List<Pass> extraPasses;
  private final MeterRegistry meterRegistry;
  private final String modelName;
  private final int warmupRuns;
  private final java.nio.file.Path fusedCacheDir;
  private final boolean measureSpeedup;

  private FusedModelOptions(Builder b) {
    this.tags = b.tags.clone();
    this.config = b.config;
    this.absTolerance = b.absTolerance;
    this.relTolerance = b.relTolerance;
    this.disabledPasses = List.copyOf(b.disabledPasses);
    this.strict = b.strict;
    this.probeBatches = b.probeBatches.clone();
    this.seed = b.seed;
    this.probes = b.probes;
    this.extraPasses = List.copyOf(b.extraPasses);
    this.meterRegistry = b.meterRegistry;
    this.modelName = b.modelName;
    this.warmupRuns = b.warmupRuns;
    this.fusedCacheDir = b.fusedCacheDir;
    this.measureSpeedup = b.measureSpeedup;
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
    b.absTolerance = absTolerance;
    b.relTolerance = relTolerance;
    b.disabledPasses = new ArrayList<>(disabledPasses);
    b.strict = strict;
    b.probeBatches = probeBatches.clone();
    b.seed = seed;
    b.probes = probes;
    b.extraPasses = new ArrayList<>(extraPasses);
    b.meterRegistry = meterRegistry;
    b.modelName = modelName;
    b.warmupRuns = warmupRuns;
    b.fusedCacheDir = fusedCacheDir;
    b.measureSpeedup = measureSpeedup;
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

  /** Absolute tolerance of the check. */
  public double absTolerance() {
    return absTolerance;
  }

  /** Relative tolerance of the check (relative to each output's max magnitude). */
  public double relTolerance() {
    return relTolerance;
  }

  /** Names of passes not to run. */
  public List<String> disabledPasses() {
    return disabledPasses;
  }

  /** Whether a failed check throws instead of serving the original model. */
  public boolean strict() {
    return strict;
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

  /** The pass pipeline these options ask for: the built-in passes, then the extra ones, minus the disabled. */
  public dev.fusedtf.fold.Pipeline pipeline() {
    List<Pass> passes = new ArrayList<>(dev.fusedtf.fold.Pipeline.defaultPasses());
    passes.addAll(extraPasses);
    return new dev.fusedtf.fold.Pipeline(passes, disabledPasses);
  }

  /** Passes run after the built-in ones (an extension point; also how tests break a fold on purpose). */
  public List<Pass> extraPasses() {
    return extraPasses;
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
  public java.nio.file.Path fusedCacheDir() {
    return fusedCacheDir;
  }

  /** Whether load times the original against the fused model, A/B interleaved, for the report (default off). */
  public boolean measureSpeedup() {
    return measureSpeedup;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FusedModelOptions x && Arrays.equals(tags, x.tags) && Objects.equals(config, x.config)
        && absTolerance == x.absTolerance && relTolerance == x.relTolerance
        && disabledPasses.equals(x.disabledPasses) && strict == x.strict
        && Arrays.equals(probeBatches, x.probeBatches) && seed == x.seed && Objects.equals(probes, x.probes)
        && extraPasses.equals(x.extraPasses) && meterRegistry == x.meterRegistry
        && Objects.equals(modelName, x.modelName) && warmupRuns == x.warmupRuns
        && measureSpeedup == x.measureSpeedup
        && Objects.equals(fusedCacheDir, x.fusedCacheDir);
  }

  @Override
  public int hashCode() {
    return Objects.hash(Arrays.hashCode(tags), config, absTolerance, relTolerance, disabledPasses, strict,
        Arrays.hashCode(probeBatches), seed, probes, extraPasses, System.identityHashCode(meterRegistry), modelName, warmupRuns, measureSpeedup, fusedCacheDir);
  }

  @Override
  public String toString() {
    return "FusedModelOptions{tags=" + Arrays.toString(tags) + ", atol=" + absTolerance + ", rtol=" + relTolerance
        + ", disabled=" + disabledPasses + ", strict=" + strict + ", batches=" + Arrays.toString(probeBatches)
        + ", seed=" + seed + (modelName != null ? ", modelName=" + modelName : "")
        + (meterRegistry != null ? ", metrics=on" : "") + "}";
  }

  /** Builds {@link FusedModelOptions}. */
  public static final class Builder {
    private String[] tags = {"serve"};
    private ConfigProto config;
    private double absTolerance = 1e-5;
    private double relTolerance = 1e-4;
    private List<String> disabledPasses = new ArrayList<>();
    private boolean strict;
    private int[] probeBatches = {1, 8};
    private long seed = 42;
    private ProbeSupplier probes;
    private List<Pass> extraPasses = new ArrayList<>();
    private MeterRegistry meterRegistry;
    private String modelName;
    private int warmupRuns = 5;
    private java.nio.file.Path fusedCacheDir;
    private boolean measureSpeedup;

    private Builder() {}

    /** MetaGraph tags to load (default {@code serve}). */
    public Builder tags(String... tags) {
      this.tags = tags.clone();
      return this;
    }

    /** Session config for both the original and the fused session. */
    public Builder config(ConfigProto config) {
      this.config = config;
      return this;
    }

    /** Check tolerances: an output passes if max abs diff <= abs, or max rel diff <= rel. */
    public Builder tolerance(double abs, double rel) {
      if (!(abs >= 0) || !(rel >= 0)) {
        throw new IllegalArgumentException("tolerances must be >= 0");
      }
      this.absTolerance = abs;
      this.relTolerance = rel;
      return this;
    }

    /** Do not run the pass named {@code name}. */
    public Builder disablePass(String name) {
      this.disabledPasses.add(Objects.requireNonNull(name));
      return this;
    }

    /** Throw {@link FusedTfException} when the check fails, instead of serving the original model. */
    public Builder strict(boolean strict) {
      this.strict = strict;
      return this;
    }

    /** Batch sizes of the probe inputs (default 1 and 8). */
    public Builder probeBatches(int... batches) {
      if (batches.length == 0 || Arrays.stream(batches).anyMatch(b -> b < 1)) {
        throw new IllegalArgumentException("probe batches must be >= 1");
      }
      this.probeBatches = batches.clone();
      return this;
    }

    /** Seed of the random probes. */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Use these probe inputs instead of random ones (needed for string inputs). */
    public Builder probes(ProbeSupplier probes) {
      this.probes = probes;
      return this;
    }

    /** Runs {@code pass} after the built-in passes. */
    public Builder addPass(Pass pass) {
      this.extraPasses.add(Objects.requireNonNull(pass));
      return this;
    }

    /**
     * Records metrics ({@code fusedtf.predict}, {@code fusedtf.load}, {@code fusedtf.folds},
     * {@code fusedtf.nodes}) into {@code registry}; null (the default) records none.
     */
    public Builder meterRegistry(MeterRegistry registry) {
      this.meterRegistry = registry;
      return this;
    }

    /** The {@code model} tag of metrics (default: the model directory's name). */
    public Builder modelName(String name) {
      if (name != null && name.isBlank()) {
        throw new IllegalArgumentException("model name must not be blank");
      }
      this.modelName = name;
      return this;
    }

    /**
     * Warm-up calls at load on probe inputs (0 for none). TF Serving's warm-up records
     * ({@code assets.extra/tf_serving_warmup_requests}) are replayed as well when the model has them. The report
     * gives the first call's latency and the first call's after warm-up.
     */
    public Builder warmupRuns(int runs) {
      if (runs < 0) {
        throw new IllegalArgumentException("warm-up runs must be >= 0");
      }
      this.warmupRuns = runs;
      return this;
    }

    /**
     * Keep fused models on disk under {@code dir}, keyed by a fingerprint of the model files and the fold options,
     * so that a restart loads the fused graph directly and skips folding and checking. Only fused models that
     * passed their check are stored; the entry links to the original's variables rather than copying them.
     */
    public Builder fusedCacheDir(java.nio.file.Path dir) {
      this.fusedCacheDir = dir;
      return this;
    }

    /**
     * Time the original and the fused model on the probe inputs at load, A/B interleaved (about a second or
     * two), and publish the ratio in the report and as the {@code fusedtf.speedup} gauge.
     */
    public Builder measureSpeedup(boolean measure) {
      this.measureSpeedup = measure;
      return this;
    }

    /** The options. */
    public FusedModelOptions build() {
      return new FusedModelOptions(this);
    }
  }
}
