package dev.fusedtf.serving;

import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.internal.serve.RefCounted;
import dev.fusedtf.errors.ModelLoadException;
import java.util.List;
import java.util.Map;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code VersionedModel} serves the newest version of a model laid out as TF Serving does ({@code base/1},
 * {@code base/2}, ...) and hot-reloads: a newer version is loaded, folded and checked in the background, then
 * swapped in atomically. Requests in flight finish on the version they started with, which closes when its last
 * lease is released; requests never fail because of a swap. A version that fails to load or whose check does not
 * pass is never served: at start-up the newest version that loads and passes is served (older ones are tried in turn),
 * and a newer one that fails is not swapped in; {@link #rejected()} says which and why.
 *
 * <pre>{@code
 * try (VersionedModel m = VersionedModel.open(Path.of("/models/resnet"), options, Duration.ofSeconds(30));
 *      VersionedModel.Lease lease = m.acquire();
 *      Result r = lease.model().call(inputs)) { ... }
 * }</pre>
 */
public final class VersionedModel implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(VersionedModel.class);

  /** A version held for the duration of one or more requests; close it to release. */
  public static final class Lease implements AutoCloseable {
    private final RefCounted ref;
    private final long version;
    private boolean released;

    private Lease(RefCounted ref, long version) {
      this.ref = ref;
      this.version = version;
    }

    /** The model of this version. */
    public FusedModel model() {
      return ref.model();
    }

    /** The version number. */
    public long version() {
      return version;
    }

    @Override
    public synchronized void close() {
      if (!released) {
        released = true;
        ref.release();
      }
    }
  }

  private record Current(RefCounted ref, long version) {}

  private final Path base;
  private final FusedModelOptions options;
  private final AtomicReference<Current> current = new AtomicReference<>();
  private final Map<Long, String> rejected = new java.util.concurrent.ConcurrentSkipListMap<>();
  private final ScheduledExecutorService poller;
  private volatile boolean closed;

  private VersionedModel(Path base, FusedModelOptions options, Duration poll) {
    this.base = base;
    this.options = options;
    if (!Files.isDirectory(base)) {
      throw new ModelLoadException("model base folder does not exist: " + base
          + " (it should hold numbered version folders such as " + base.resolve("1") + ")");
    }
    List<Long> versions = versions();
    if (versions.isEmpty()) {
      throw new ModelLoadException("no numbered version folder holding a SavedModel under " + base);
    }
    for (int i = versions.size() - 1; i >= 0 && current.get() == null; i--) {
      long v = versions.get(i);
      FusedModel m = tryLoad(v);
      if (m != null) {
        current.set(new Current(new RefCounted(m), v));
      }
    }
    if (current.get() == null) {
      throw new ModelLoadException("no version under " + base + " loads and passes its check: " + rejected);
    }
    if (!rejected.isEmpty()) {
      LOG.warn("{}: serving version {}; newer versions rejected: {}", base, version(), rejected);
    }
    if (poll != null) {
      poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "fusedtf-reload-" + base.getFileName());
        t.setDaemon(true);
        return t;
      });
      poller.scheduleWithFixedDelay(() -> {
        try {
          checkNow();
        } catch (RuntimeException e) {
          LOG.warn("reload check of {} failed", base, e);
        }
      }, poll.toMillis(), poll.toMillis(), TimeUnit.MILLISECONDS);
    } else {
      poller = null;
    }
  }

  /**
   * Loads the newest version under {@code base} and, with a non-null {@code poll}, checks for newer ones at
   * that interval in the background.
   */
  public static VersionedModel open(Path base, FusedModelOptions options, Duration poll) {
    if (base == null || options == null) {
      throw new IllegalArgumentException("VersionedModel.open needs a base folder and options");
    }
    if (poll != null && (poll.isNegative() || poll.isZero())) {
      throw new IllegalArgumentException("poll interval must be positive, got " + poll);
    }
    return new VersionedModel(base, options, poll);
  }

  /** A lease on the current version. @throws IllegalStateException after close */
  public Lease acquire() {
    while (true) {
      if (closed) {
        throw new IllegalStateException("model " + base + " is closed");
      }
      Current c = current.get();
      if (c.ref().tryRetain()) {
        return new Lease(c.ref(), c.version());
      }
      Thread.onSpinWait(); // swapped out between get and retain: take the new one
    }
  }

  /** Runs {@code f} with the current version. */
  public <T> T with(Function<FusedModel, T> f) {
    try (Lease l = acquire()) {
      return f.apply(l.model());
    }
  }

  /** The version being served. */
  public long version() {
    return current.get().version();
  }

  /**
   * Looks for a version newer than the one served; loads, folds and checks it, and swaps it in if the fused
   * model passed its check. Returns whether it swapped.
   */
  public synchronized boolean checkNow() {
    Optional<Long> newest = newestVersion();
    if (closed || newest.isEmpty() || newest.get() <= version() || rejected.containsKey(newest.get())) {
      return false;
    }
    long v = newest.get();
    FusedModel next = tryLoad(v);
    if (next == null) {
      return false;
    }
    Current old = current.getAndSet(new Current(new RefCounted(next), v));
    old.ref().release();
    LOG.info("{}: now serving version {} (was {})", base, v, old.version());
    return true;
  }

  /**
   * Loads version {@code v}; null (with the reason recorded in {@link #rejected()}) when it fails to load or its
   * check does not pass, so a broken version is never served.
   */
  private FusedModel tryLoad(long v) {
    FusedModel next;
    try {
      next = FusedModel.load(base.resolve(Long.toString(v)), options);
    } catch (RuntimeException e) {
      LOG.warn("version {} of {} not loaded: {}", v, base, e.getMessage());
      rejected.put(v, "not loaded: " + e.getMessage());
      return null;
    }
    if (!next.check().passed()) {
      LOG.warn("version {} of {} not served: {}", v, base, next.report().fallbackReason());
      rejected.put(v, "check did not pass: " + next.report().fallbackReason());
      next.close();
      return null;
    }
    return next;
  }

  /** Versions that were not served, with why (failed to load, or their check did not pass). */
  public Map<Long, String> rejected() {
    return java.util.Collections.unmodifiableMap(rejected);
  }

  private Optional<Long> newestVersion() {
    List<Long> v = versions();
    return v.isEmpty() ? Optional.empty() : Optional.of(v.get(v.size() - 1));
  }

  /** The numbered folders holding a SavedModel, oldest first. */
  private List<Long> versions() {
    try (Stream<Path> s = Files.list(base)) {
      return s.filter(Files::isDirectory)
          .map(p -> p.getFileName().toString())
          .filter(n -> n.matches("\\d{1,18}"))
          .map(Long::parseLong)
          .filter(v -> Files.exists(base.resolve(Long.toString(v)).resolve("saved_model.pb"))
              || Files.exists(base.resolve(Long.toString(v)).resolve("saved_model.pbtxt")))
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new ModelLoadException("cannot list the versions under " + base + ": " + e.getMessage(), e);
    }
  }

  /** Stops polling and releases the served version (it closes once its last lease is released). */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (poller != null) {
      poller.shutdownNow();
    }
    current.get().ref().release();
  }
}
