package dev.fusedtf.cache;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Ticker;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import dev.fusedtf.FusedModel;
import dev.fusedtf.internal.serve.RefCounted;
import dev.fusedtf.internal.fuse.ModelFingerprint;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.errors.FusedTfException;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineStatsCounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code FusedModelCache} loads each model once and shares it: {@link #get(Path, FusedModelOptions)} returns
 * a {@link Lease} on a {@link FusedModel}, loading (folding, checking) it only when no entry of the same key
 * exists. The key is the model directory's real path, the options, and a fingerprint of the model's files
 * (sizes, modification times, SHA-256 of the graph and the variable index), so a model rewritten in place gets a
 * new entry, and the entries of its older versions are invalidated.
 *
 * <pre>{@code
 * FusedModelCache cache = FusedModelCache.builder().maximumSize(4).expireAfterAccess(Duration.ofMinutes(30))
 *     .meterRegistry(registry).build();
 * try (FusedModelCache.Lease lease = cache.get(Path.of("/models/resnet"), FusedModelOptions.defaults());
 *      Prediction p = lease.model().predict(inputs)) {
 *   ...
 * }
 * }</pre>
 *
 * <p>Models are reference-counted: a model that is evicted, expires or is invalidated leaves the cache at once
 * but is closed only when its last lease is released, so a caller never sees its model closed under it. Leases
 * are cheap; take one per request or hold one for a while, and always close it. {@link #close()} closes every
 * idle model now and the leased ones when their leases are released.
 *
 * <p>Statistics are always recorded ({@link #stats()}); with a {@link MeterRegistry} they are also published
 * through Micrometer's {@link CaffeineStatsCounter} ({@code cache.gets}, {@code cache.loads},
 * {@code cache.evictions}, {@code cache.size}, tagged {@code cache=<name>}). Thread-safe. Options are compared
 * with {@code equals}: passes, probe suppliers and registries count by identity, so reuse the same objects.
 */
public final class FusedModelCache implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FusedModelCache.class);
  private static final int MAX_ATTEMPTS = 100;

  private final String name;
  private final AsyncCache<Key, Entry> cache;
  private volatile boolean closed;

  private FusedModelCache(Builder b) {
    this.name = b.name;
    Caffeine<Object, Object> c = Caffeine.newBuilder();
    if (b.maximumSize >= 0) {
      c.maximumSize(b.maximumSize);
    }
    if (b.expireAfterAccess != null) {
      c.expireAfterAccess(b.expireAfterAccess);
    }
    if (b.executor != null) {
      c.executor(b.executor);
    }
    if (b.ticker != null) {
      c.ticker(b.ticker);
    }
    CaffeineStatsCounter counter = b.meterRegistry == null ? null : new CaffeineStatsCounter(b.meterRegistry, name);
    if (counter != null) {
      c.recordStats(() -> counter);
    } else {
      c.recordStats();
    }
    this.cache = c.removalListener((Key k, Entry e, RemovalCause cause) -> {
      if (e != null) {
        e.retire(cause);
      }
    }).buildAsync();
    if (counter != null) {
      counter.registerSizeMetric(cache.synchronous());
    }
  }

  /** A builder: no size bound, no expiry, no metrics, Caffeine's default executor. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A lease on the model in {@code dir} loaded with {@code options}: the cached one, or a new one loaded now in
   * the calling thread (concurrent callers of the same key wait for that load instead of loading again).
   *
   * @throws FusedTfException if the model cannot be loaded (nothing is cached then)
   * @throws IllegalStateException if this cache is closed
   */
  public Lease get(Path dir, FusedModelOptions options) {
    if (dir == null || options == null) {
      throw new IllegalArgumentException("FusedModelCache.get needs a model directory and options, got " + dir + ", "
          + options);
    }
    for (int attempt = 1; ; attempt++) {
      ensureOpen();
      Key key = Key.of(dir, options);
      @SuppressWarnings("unchecked")
      CompletableFuture<Entry>[] created = new CompletableFuture[1];
      CompletableFuture<Entry> future = cache.get(key, (k, executor) -> created[0] = new CompletableFuture<>());
      if (created[0] != null) {
        load(key, created[0]);
      }
      Entry entry = join(future);
      if (created[0] != null) {
        invalidateOlderVersions(key);
      }
      Lease lease = entry.acquire();
      if (lease != null) {
        if (closed) {
          lease.close();
          cache.synchronous().invalidate(key);
          throw new IllegalStateException("model cache " + name + " is closed");
        }
        return lease;
      }
      // the entry was retired between lookup and lease: it has left the cache, so look again
      if (attempt >= MAX_ATTEMPTS) {
        throw new IllegalStateException("model cache " + name + ": " + dir + " keeps being evicted; is maximumSize "
            + "too small?");
      }
    }
  }

  /** A lease on the model in {@code dir} loaded with default options. @see #get(Path, FusedModelOptions) */
  public Lease get(Path dir) {
    return get(dir, FusedModelOptions.defaults());
  }

  /** Removes every entry of {@code dir} (any options, any version); leased models close when released. */
  public void invalidate(Path dir) {
    Path real = Key.realPath(dir);
    List<Key> keys = new ArrayList<>();
    for (Key k : cache.asMap().keySet()) {
      if (k.dir().equals(real)) {
        keys.add(k);
      }
    }
    cache.synchronous().invalidateAll(keys);
  }

  /** Removes every entry; leased models close when released. */
  public void invalidateAll() {
    cache.synchronous().invalidateAll();
  }

  /** Runs pending maintenance now: evictions, expiry, removal notifications. */
  public void cleanUp() {
    cache.synchronous().cleanUp();
  }

  /** The approximate number of entries. */
  public long size() {
    return cache.synchronous().estimatedSize();
  }

  /** Hit, miss, load and eviction counts. */
  public CacheStats stats() {
    return cache.synchronous().stats();
  }

  /** The cache's name (its {@code cache} tag in metrics). */
  public String name() {
    return name;
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }

  /**
   * Empties the cache: idle models are closed now, leased ones when their last lease is released. Later
   * {@link #get} calls throw {@link IllegalStateException}. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<Entry> entries = new ArrayList<>();
    for (CompletableFuture<Entry> f : cache.asMap().values()) {
      Entry e = f.getNow(null);
      if (e != null) {
        entries.add(e);
      }
    }
    cache.synchronous().invalidateAll();
    entries.forEach(e -> e.retire(RemovalCause.EXPLICIT)); // now, whatever the listener executor
    cache.synchronous().cleanUp();
  }

  @Override
  public String toString() {
    return "FusedModelCache{" + name + ", size=" + size() + (closed ? ", closed" : "") + "}";
  }

  private static void load(Key key, CompletableFuture<Entry> future) {
    try {
      LOG.debug("loading {} for the model cache", key.dir());
      future.complete(new Entry(FusedModel.load(key.dir(), key.options())));
    } catch (Throwable t) {
      future.completeExceptionally(t);
    }
  }

  private static Entry join(CompletableFuture<Entry> future) {
    try {
      return future.join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new FusedTfException("model load failed: " + cause, cause);
    }
  }

  private void invalidateOlderVersions(Key loaded) {
    List<Key> stale = new ArrayList<>();
    for (Key k : cache.asMap().keySet()) {
      if (k.dir().equals(loaded.dir()) && k.options().equals(loaded.options())
          && !k.fingerprint().equals(loaded.fingerprint())) {
        stale.add(k);
      }
    }
    if (!stale.isEmpty()) {
      LOG.info("{} changed on disk: retiring {} older version(s)", loaded.dir(), stale.size());
      cache.synchronous().invalidateAll(stale);
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("model cache " + name + " is closed");
    }
  }

  /** Cache key: real path, options, file fingerprint. */
  record Key(Path dir, FusedModelOptions options, String fingerprint) {
    static Key of(Path dir, FusedModelOptions options) {
      if (!Files.isDirectory(dir)) {
        throw new dev.fusedtf.errors.ModelLoadException("model directory does not exist: " + dir);
      }
      Path real = realPath(dir);
      try {
        return new Key(real, options, ModelFingerprint.of(real));
      } catch (IOException e) {
        throw new dev.fusedtf.errors.ModelLoadException("cannot read model files in " + dir + ": " + e.getMessage(), e);
      }
    }

    static Path realPath(Path dir) {
      try {
        return dir.toRealPath();
      } catch (IOException e) {
        return dir.toAbsolutePath().normalize();
      }
    }
  }

  /**
   * A cached model: the cache holds the owner's reference of a {@link RefCounted}, each lease one more; retiring
   * the entry drops the owner's reference, so the model closes when it is retired and no lease is left.
   */
  private static final class Entry {
    private final FusedModel model;
    private final RefCounted ref;
    private final AtomicBoolean retired = new AtomicBoolean();

    Entry(FusedModel model) {
      this.model = model;
      this.ref = new RefCounted(model);
    }

    Lease acquire() {
      if (!ref.tryRetain()) {
        return null;
      }
      if (retired.get()) { // retired while we retained: give the reference back
        ref.release();
        return null;
      }
      return new Lease(this);
    }

    void release() {
      ref.release();
    }

    void retire(RemovalCause cause) {
      if (retired.compareAndSet(false, true)) {
        LOG.debug("{} removed from the cache ({}); closing when its {} lease(s) are released", model.name(), cause,
            ref.references() - 1);
        ref.release();
      }
    }
  }

  /**
   * The {@code Lease} is the right to use one cached model until {@link #close()}: the model stays open at least
   * that long. Close every lease exactly once (further closes do nothing); do not close the model itself.
   */
  public static final class Lease implements AutoCloseable {
    private final Entry entry;
    private final AtomicBoolean released = new AtomicBoolean();

    private Lease(Entry entry) {
      this.entry = entry;
    }

    /** The leased model. @throws IllegalStateException after {@link #close()} */
    public FusedModel model() {
      if (released.get()) {
        throw new IllegalStateException("lease on " + entry.model.name() + " was released");
      }
      return entry.model;
    }

    /** Releases the lease; the model closes if it has left the cache and this was its last lease. */
    @Override
    public void close() {
      if (released.compareAndSet(false, true)) {
        entry.release();
      }
    }

    @Override
    public String toString() {
      return "Lease{" + entry.model.name() + (released.get() ? ", released" : "") + "}";
    }
  }

  /** Builds a {@link FusedModelCache}. */
  public static final class Builder {
    private long maximumSize = -1;
    private Duration expireAfterAccess;
    private MeterRegistry meterRegistry;
    private String name = "fusedtf-models";
    private Executor executor;
    private Ticker ticker;

    private Builder() {}

    /** At most this many models (entries) are kept; the least valuable is evicted beyond it. */
    public Builder maximumSize(long maximumSize) {
      if (maximumSize < 0) {
        throw new IllegalArgumentException("maximumSize must be >= 0");
      }
      this.maximumSize = maximumSize;
      return this;
    }

    /** A model not leased anew for this long expires. */
    public Builder expireAfterAccess(Duration duration) {
      if (duration == null || duration.isNegative()) {
        throw new IllegalArgumentException("expireAfterAccess must be >= 0");
      }
      this.expireAfterAccess = duration;
      return this;
    }

    /** Publishes cache statistics to {@code registry} (default: none). */
    public Builder meterRegistry(MeterRegistry registry) {
      this.meterRegistry = registry;
      return this;
    }

    /** The cache's name, its {@code cache} tag in metrics (default {@code fusedtf-models}). */
    public Builder name(String name) {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("name must not be blank");
      }
      this.name = name;
      return this;
    }

    /**
     * Where Caffeine runs maintenance and removal notifications (default: its own,
     * {@code ForkJoinPool.commonPool()}); {@code Runnable::run} makes them synchronous, as tests want.
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /** The time source of expiry (default: system nanoTime); for tests. */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /** The cache. */
    public FusedModelCache build() {
      return new FusedModelCache(this);
    }
  }
}
