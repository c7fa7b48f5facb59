package dev.fusedtf.spring;

import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.serving.VersionedModel;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code FusedModelRegistry} holds the models of {@code fusedtf.models} by name. It loads them all when it is
 * made (a model that is configured wrongly or does not load stops start-up with a {@link ModelStartupException} naming
 * it), lends them out as {@link ModelLease}s, and on {@link #close()} refuses new leases and closes each model once
 * its last lease is given back, so requests in flight finish on the model they started with.
 *
 * <pre>{@code
 * try (ModelLease lease = registry.lease("kws");
 *      Prediction p = lease.model().predictInputs(Map.of("x", Input.of(data, 1, 49, 10, 1)))) {
 *   ...
 * }
 * }</pre>
 *
 * <p>A model given by {@code path} is served as loaded until shutdown; one given by {@code reload} is a
 * {@link VersionedModel}: the newest numbered version that loads and passes its check, replaced in the background by
 * newer ones. Thread-safe.
 */
public final class FusedModelRegistry implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FusedModelRegistry.class);

  private final Map<String, Entry> entries;
  private final AtomicBoolean closed = new AtomicBoolean();

  private FusedModelRegistry(Map<String, Entry> entries) {
    this.entries = Collections.unmodifiableMap(entries);
  }

  /**
   * Loads every model of {@code properties}, recording metrics in {@code meterRegistry} (may be null).
   *
   * @throws ModelStartupException naming the first model that is configured wrongly or does not load (the ones
   *     loaded before it are closed)
   */
  public static FusedModelRegistry load(FusedTfProperties properties, MeterRegistry meterRegistry) {
    Map<String, FusedTfProperties.Model> models = properties.getModels();
    models.forEach(FusedModelRegistry::validate);
    Map<String, Entry> loaded = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, FusedTfProperties.Model> e : models.entrySet()) {
        loaded.put(e.getKey(), open(e.getKey(), e.getValue(), meterRegistry));
      }
    } catch (RuntimeException e) {
      loaded.values().forEach(Entry::close);
      throw e;
    }
    return new FusedModelRegistry(loaded);
  }

  private static void validate(String name, FusedTfProperties.Model m) {
    String key = "fusedtf.models." + name;
    if (name == null || name.isBlank() || name.contains("/") || name.contains(":")) {
      throw new ModelStartupException(name, key + ": a model name must be non-empty and hold neither '/' nor ':'",
          null);
    }
    if (m == null) {
      throw new ModelStartupException(name, key + ": no settings (set " + key + ".path or " + key + ".reload)", null);
    }
    if (m.getPath() != null && m.getReload() != null) {
      throw new ModelStartupException(name, key + ": set exactly one of 'path' (a SavedModel folder) and 'reload' "
          + "(a folder of numbered versions); both are set (path=" + m.getPath() + ", reload=" + m.getReload() + ")",
          null);
    }
    if (m.getPath() == null && m.getReload() == null) {
      throw new ModelStartupException(name, key + ": set exactly one of 'path' (a SavedModel folder) and 'reload' "
          + "(a folder of numbered versions); neither is set", null);
    }
    Path dir = m.getPath() != null ? m.getPath() : m.getReload();
    if (!Files.isDirectory(dir)) {
      throw new ModelStartupException(name, key + "." + (m.getPath() != null ? "path" : "reload") + ": folder "
          + dir.toAbsolutePath() + " does not exist", null);
    }
  }

  private static Entry open(String name, FusedTfProperties.Model m, MeterRegistry meterRegistry) {
    String key = "fusedtf.models." + name;
    FusedModelOptions options;
    try {
      options = m.toOptions(name, meterRegistry);
    } catch (RuntimeException e) {
      throw new ModelStartupException(name, key + ": invalid options: " + e.getMessage(), e);
    }
    long start = System.nanoTime();
    try {
      Entry entry;
      if (m.getPath() != null) {
        entry = new PathEntry(name, m.getPath(), FusedModel.load(m.getPath(), options));
      } else {
        Duration poll = m.getReloadPoll();
        if (poll != null && (poll.isZero() || poll.isNegative())) {
          poll = null;
        }
        entry = new ReloadEntry(name, m.getReload(), VersionedModel.open(m.getReload(), options, poll));
      }
      ModelStatus s = entry.status();
      LOG.info("fusedtf model '{}' loaded from {} in {} ms: served {}{}, {} folds", name, s.source(),
          (System.nanoTime() - start) / 1_000_000, s.served(), s.version() != null ? ", version " + s.version() : "",
          s.report().folds().size());
      return entry;
    } catch (RuntimeException e) {
      throw new ModelStartupException(name, key + ": cannot load " + (m.getPath() != null ? m.getPath()
          : "the versions under " + m.getReload()) + ": " + e.getMessage(), e);
    }
  }

  /** The names of the models, in configuration order. */
  public Set<String> names() {
    return entries.keySet();
  }

  /**
   * Borrows model {@code name} (the current version of a reload model); close the lease when done.
   *
   * @throws UnknownModelException if there is no model of that name
   * @throws IllegalStateException once the registry is shut down
   */
  public ModelLease lease(String name) {
    Entry e = entry(name);
    if (closed.get()) {
      throw shutDown(name);
    }
    return e.lease();
  }

  /** A snapshot of model {@code name}. @throws UnknownModelException if there is no model of that name */
  public ModelStatus status(String name) {
    return entry(name).status();
  }

  /** Snapshots of every model, by name. */
  public Map<String, ModelStatus> statuses() {
    Map<String, ModelStatus> m = new LinkedHashMap<>();
    entries.forEach((k, v) -> m.put(k, v.status()));
    return m;
  }

  /**
   * Looks for a newer version of reload model {@code name} now (instead of waiting for the poll) and swaps it in if it
   * loads and passes its check; returns whether it swapped. Always false for a {@code path} model.
   *
   * @throws UnknownModelException if there is no model of that name
   */
  public boolean checkNow(String name) {
    return entry(name) instanceof ReloadEntry r && !closed.get() && r.versioned.checkNow();
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed.get();
  }

  /**
   * Refuses new leases and releases every model: each closes now if no lease holds it, else when its last lease is
   * given back. Idempotent.
   */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      List<RuntimeException> failures = new ArrayList<>();
      entries.values().forEach(e -> {
        try {
          e.close();
        } catch (RuntimeException ex) {
          failures.add(ex);
        }
      });
      LOG.info("fusedtf models released: {}", entries.keySet());
      if (!failures.isEmpty()) {
        RuntimeException first = failures.get(0);
        failures.subList(1, failures.size()).forEach(first::addSuppressed);
        throw first;
      }
    }
  }

  private Entry entry(String name) {
    Entry e = name == null ? null : entries.get(name);
    if (e == null) {
      throw new UnknownModelException(name, "no model named '" + name + "'; models are " + entries.keySet());
    }
    return e;
  }

  private static IllegalStateException shutDown(String name) {
    return new IllegalStateException("model '" + name + "' is shut down: the application is stopping");
  }

  @Override
  public String toString() {
    return "FusedModelRegistry" + entries.keySet() + (closed.get() ? " (closed)" : "");
  }

  // ------------------------------------------------------------------------------------------ entries

  private interface Entry {
    ModelLease lease();

    ModelStatus status();

    void close();
  }

  /** A model loaded once; reference counted: the registry holds one reference, each lease another. */
  private static final class PathEntry implements Entry {
    private final String name;
    private final Path dir;
    private final FusedModel model;
    private final AtomicInteger refs = new AtomicInteger(1);
    private final AtomicBoolean released = new AtomicBoolean();

    PathEntry(String name, Path dir, FusedModel model) {
      this.name = name;
      this.dir = dir;
      this.model = model;
    }

    @Override
    public ModelLease lease() {
      while (true) {
        int n = refs.get();
        if (n <= 0) {
          throw shutDown(name);
        }
        if (refs.compareAndSet(n, n + 1)) {
          return new Lease(name, model, OptionalLong.empty(), this::release);
        }
      }
    }

    private void release() {
      if (refs.decrementAndGet() == 0) {
        model.close();
        LOG.debug("fusedtf model '{}' closed", name);
      }
    }

    @Override
    public ModelStatus status() {
      boolean open = !released.get() && !model.isClosed();
      return new ModelStatus(name, dir, false, null, Map.of(), model.report(), open);
    }

    @Override
    public void close() {
      if (released.compareAndSet(false, true)) {
        release();
      }
    }
  }

  /** A {@link VersionedModel}, which counts its own leases per version. */
  private static final class ReloadEntry implements Entry {
    private final String name;
    private final Path base;
    private final VersionedModel versioned;
    private volatile boolean closed;

    ReloadEntry(String name, Path base, VersionedModel versioned) {
      this.name = name;
      this.base = base;
      this.versioned = versioned;
    }

    @Override
    public ModelLease lease() {
      VersionedModel.Lease l;
      try {
        l = versioned.acquire();
      } catch (IllegalStateException e) {
        throw shutDown(name);
      }
      return new Lease(name, l.model(), OptionalLong.of(l.version()), l::close);
    }

    @Override
    public ModelStatus status() {
      if (closed) {
        return new ModelStatus(name, base, true, null, versioned.rejected(), null, false);
      }
      try (VersionedModel.Lease l = versioned.acquire()) {
        return new ModelStatus(name, base, true, l.version(), versioned.rejected(), l.model().report(), true);
      } catch (IllegalStateException e) {
        return new ModelStatus(name, base, true, null, versioned.rejected(), null, false);
      }
    }

    @Override
    public void close() {
      closed = true;
      versioned.close();
    }
  }

  private static final class Lease implements ModelLease {
    private final String name;
    private final FusedModel model;
    private final OptionalLong version;
    private final Runnable release;
    private final AtomicBoolean released = new AtomicBoolean();

    Lease(String name, FusedModel model, OptionalLong version, Runnable release) {
      this.name = name;
      this.model = model;
      this.version = version;
      this.release = release;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public FusedModel model() {
      if (released.get()) {
        throw new IllegalStateException("lease of model '" + name + "' was given back");
      }
      return model;
    }

    @Override
    public OptionalLong version() {
      return version;
    }

    @Override
    public void close() {
      if (released.compareAndSet(false, true)) {
        release.run();
      }
    }

    @Override
    public String toString() {
      return "ModelLease{" + name + (version.isPresent() ? ", version " + version.getAsLong() : "")
          + (released.get() ? ", released" : "") + "}";
    }
  }
}
