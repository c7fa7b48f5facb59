package dev.fusedtf.spring;

import dev.fusedtf.FusedModelOptions;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;

/**
 * The {@code FusedTfProperties} are the {@code fusedtf.*} settings of the starter: the models to load, and the REST
 * layer's switch and limits.
 *
 * <pre>
 * fusedtf.models.kws.path=/models/kws                 # one SavedModel folder
 * fusedtf.models.resnet.reload=/models/resnet         # or a folder of numbered versions, hot-reloaded
 * fusedtf.models.resnet.reload-poll=30s
 * fusedtf.models.kws.pins[is_training]=false          # brackets keep the name as written
 * fusedtf.rest.enabled=true
 * </pre>
 *
 * <p>Every option left unset keeps {@link FusedModelOptions}'s default.
 */
@ConfigurationProperties("fusedtf")
public class FusedTfProperties {
  /** The models to load at start-up, by name (the name is the REST path segment and the metrics' model tag). */
  private Map<String, Model> models = new LinkedHashMap<>();
  private final Rest rest = new Rest();
  private final Http http = new Http();

  public Map<String, Model> getModels() {
    return models;
  }

  public void setModels(Map<String, Model> models) {
    this.models = models == null ? new LinkedHashMap<>() : new LinkedHashMap<>(models);
  }

  public Rest getRest() {
    return rest;
  }

  public Http getHttp() {
    return http;
  }

  /** One model: exactly one of {@code path} and {@code reload}, and its load options. */
  public static class Model {
    /** A SavedModel folder, served as loaded until shutdown. */
    private Path path;
    /** A base folder of numbered versions (base/1, base/2, ...): the newest that passes is served, newer ones swapped in. */
    private Path reload;
    /** How often a reload model looks for a newer version; 0 or negative turns polling off. */
    private Duration reloadPoll = Duration.ofSeconds(30);
    /** MetaGraph tags to load (default serve). */
    private List<String> tags = new ArrayList<>();
    /** Fail start-up when the rewritten model is not accepted, instead of serving the original. */
    private Boolean strict;
    /** Serve the rewritten model when part of it could not be checked. */
    private Boolean serveUnverified;
    /** Warm-up calls per signature before the model is served (FusedTF's default 5). */
    private Integer warmupRuns;
    private final Tolerance tolerance = new Tolerance();
    /** Scalar placeholders pinned to constants before folding, e.g. pins[is_training]=false. */
    private Map<String, String> pins = new LinkedHashMap<>();
    /** Rules not to run, by name. */
    private List<String> disableRules = new ArrayList<>();
    /** The largest first dimension a request may carry. */
    private Long maxBatch;
    /** The most elements a request may carry, all inputs together. */
    private Long maxElements;
    /** A disk cache of checked fused models, so a restart skips folding and checking. */
    private Path fusedCacheDir;
    /** Check fingerprint.pb against saved_model.pb at load. */
    private Boolean verifyFingerprint;
    /** Serve the original as soon as it runs and swap in the rewritten model once it has passed its check. */
    private Boolean fuseInBackground;

    public Path getPath() {
      return path;
    }

    public void setPath(Path path) {
      this.path = path;
    }

    public Path getReload() {
      return reload;
    }

    public void setReload(Path reload) {
      this.reload = reload;
    }

    public Duration getReloadPoll() {
      return reloadPoll;
    }

    public void setReloadPoll(Duration reloadPoll) {
      this.reloadPoll = reloadPoll;
    }

    public List<String> getTags() {
      return tags;
    }

    public void setTags(List<String> tags) {
      this.tags = tags == null ? new ArrayList<>() : new ArrayList<>(tags);
    }

    public Boolean getStrict() {
      return strict;
    }

    public void setStrict(Boolean strict) {
      this.strict = strict;
    }

    public Boolean getServeUnverified() {
      return serveUnverified;
    }

    public void setServeUnverified(Boolean serveUnverified) {
      this.serveUnverified = serveUnverified;
    }

    public Boolean getFuseInBackground() {
      return fuseInBackground;
    }

    public void setFuseInBackground(Boolean fuseInBackground) {
      this.fuseInBackground = fuseInBackground;
    }

    public Integer getWarmupRuns() {
      return warmupRuns;
    }

    public void setWarmupRuns(Integer warmupRuns) {
      this.warmupRuns = warmupRuns;
    }

    public Tolerance getTolerance() {
      return tolerance;
    }

    public Map<String, String> getPins() {
      return pins;
    }

    public void setPins(Map<String, String> pins) {
      this.pins = pins == null ? new LinkedHashMap<>() : new LinkedHashMap<>(pins);
    }

    public List<String> getDisableRules() {
      return disableRules;
    }

    public void setDisableRules(List<String> disableRules) {
      this.disableRules = disableRules == null ? new ArrayList<>() : new ArrayList<>(disableRules);
    }

    public Long getMaxBatch() {
      return maxBatch;
    }

    public void setMaxBatch(Long maxBatch) {
      this.maxBatch = maxBatch;
    }

    public Long getMaxElements() {
      return maxElements;
    }

    public void setMaxElements(Long maxElements) {
      this.maxElements = maxElements;
    }

    public Path getFusedCacheDir() {
      return fusedCacheDir;
    }

    public void setFusedCacheDir(Path fusedCacheDir) {
      this.fusedCacheDir = fusedCacheDir;
    }

    public Boolean getVerifyFingerprint() {
      return verifyFingerprint;
    }

    public void setVerifyFingerprint(Boolean verifyFingerprint) {
      this.verifyFingerprint = verifyFingerprint;
    }

    /**
     * These settings as load options, with {@code name} as the metrics' model tag and {@code registry} (may be null)
     * as where the meters go.
     *
     * @throws IllegalArgumentException for a value FusedTF refuses (a negative warm-up count, a bad pin)
     */
    public FusedModelOptions toOptions(String name, MeterRegistry registry) {
      FusedModelOptions defaults = FusedModelOptions.defaults();
      FusedModelOptions.Builder b = FusedModelOptions.builder().modelName(name);
      if (registry != null) {
        b.meterRegistry(registry);
      }
      if (!tags.isEmpty()) {
        b.tags(tags.toArray(String[]::new));
      }
      if (strict != null) {
        b.strict(strict);
      }
      if (serveUnverified != null) {
        b.serveUnverified(serveUnverified);
      }
      if (warmupRuns != null) {
        b.warmupRuns(warmupRuns);
      }
      if (tolerance.abs != null || tolerance.rel != null) {
        b.tolerance(tolerance.abs != null ? tolerance.abs : defaults.absTolerance(),
            tolerance.rel != null ? tolerance.rel : defaults.relTolerance());
      }
      pins.forEach(b::pin);
      disableRules.forEach(b::disableRule);
      if (maxBatch != null) {
        b.maxBatch(maxBatch);
      }
      if (maxElements != null) {
        b.maxElements(maxElements);
      }
      if (fusedCacheDir != null) {
        b.fusedCacheDir(fusedCacheDir);
      }
      if (verifyFingerprint != null) {
        b.verifyFingerprint(verifyFingerprint);
      }
      if (fuseInBackground != null) {
        b.fuseInBackground(fuseInBackground);
      }
      return b.build();
    }
  }

  /** The check's tolerance: an output passes if its max abs diff is within {@code abs} or its max rel diff within {@code rel}. */
  public static class Tolerance {
    /** Absolute tolerance (FusedTF's default 1e-5). */
    private Double abs;
    /** Relative tolerance (FusedTF's default 1e-4). */
    private Double rel;

    public Double getAbs() {
      return abs;
    }

    public void setAbs(Double abs) {
      this.abs = abs;
    }

    public Double getRel() {
      return rel;
    }

    public void setRel(Double rel) {
      this.rel = rel;
    }
  }

  /** The REST layer. */
  public static class Rest {
    /** Serve TF Serving's REST API (/v1/models/...) from the application's web server. */
    private boolean enabled;

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }
  }

  /** Limits of the REST layer, answered 413 before anything is allocated. */
  public static class Http {
    /** The largest request body accepted. */
    private DataSize maxBodyBytes = DataSize.ofMegabytes(16);
    /** The most values one request may hold, all inputs together. */
    private long maxElements = 4_000_000L;

    public DataSize getMaxBodyBytes() {
      return maxBodyBytes;
    }

    public void setMaxBodyBytes(DataSize maxBodyBytes) {
      this.maxBodyBytes = maxBodyBytes;
    }

    public long getMaxElements() {
      return maxElements;
    }

    public void setMaxElements(long maxElements) {
      this.maxElements = maxElements;
    }
  }
}
