package dev.fusedtf.spark;

import com.github.benmanes.caffeine.cache.stats.CacheStats;
import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.cache.FusedModelCache;
import dev.fusedtf.errors.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.spark.SparkFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code ExecutorModels} holds the models of one JVM (an executor, or the driver in local mode): one
 * {@link FusedModelCache}, created on first use and closed by a shutdown hook when the JVM ends. Each model (path and
 * options) is loaded once and shared by every task of the JVM; each task holds one lease while it scores.
 */
public final class ExecutorModels {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorModels.class);
  private static final AtomicInteger OPEN_LEASES = new AtomicInteger();
  private static final AtomicBoolean HOOK = new AtomicBoolean();
  private static FusedModelCache cache;

  private ExecutorModels() {}

  /** Leases currently held by tasks of this JVM (0 when no task is scoring). */
  public static int openLeases() {
    return OPEN_LEASES.get();
  }

  /** Statistics of this JVM's model cache (loads, hits); zeros before the first model. */
  public static synchronized CacheStats stats() {
    return cache == null ? CacheStats.empty() : cache.stats();
  }

  /**
   * Closes this JVM's models (leased ones when their leases are released); the next task loads them again. The
   * shutdown hook calls it; call it yourself to free a model's memory between jobs.
   */
  public static synchronized void closeAll() {
    if (cache != null) {
      cache.close();
      cache = null;
    }
  }

  private static synchronized FusedModelCache cache() {
    if (cache == null) {
      cache = FusedModelCache.builder().name("fusedtf-spark").build();
      if (HOOK.compareAndSet(false, true)) {
        Runtime.getRuntime().addShutdownHook(new Thread(ExecutorModels::closeAll, "fusedtf-spark-close-models"));
      }
    }
    return cache;
  }

  /** A lease on the model at {@code modelPath} (resolved as {@link #resolve} does) loaded with {@code options}. */
  static ModelLease acquire(String modelPath, FusedModelOptions options) {
    Path dir = resolve(modelPath);
    FusedModelCache.Lease lease = cache().get(dir, options);
    OPEN_LEASES.incrementAndGet();
    return new ModelLease(lease);
  }

  /**
   * The directory of {@code modelPath}: as given when absolute or present relative to the working directory, else
   * {@code SparkFiles.get(modelPath)} (files and archives shipped with the job). An archive unpacked into a folder
   * whose only entry is the model folder resolves to that folder.
   *
   * @throws ModelLoadException if it is nowhere
   */
  static Path resolve(String modelPath) {
    String p = modelPath.startsWith("file:") ? Path.of(java.net.URI.create(modelPath)).toString() : modelPath;
    Path given = Path.of(p);
    List<Path> tried = new ArrayList<>();
    tried.add(given.toAbsolutePath());
    if (Files.isDirectory(given)) {
      return descend(given.toAbsolutePath());
    }
    if (!given.isAbsolute()) {
      try {
        Path shipped = Path.of(SparkFiles.get(p));
        tried.add(shipped);
        if (Files.isDirectory(shipped)) {
          return descend(shipped);
        }
      } catch (RuntimeException e) { // no SparkEnv (not in a Spark JVM)
        LOG.debug("SparkFiles not available for {}: {}", p, e.toString());
      }
    }
    throw new ModelLoadException("model directory '" + modelPath + "' not found; tried " + tried
        + (given.isAbsolute() ? "" : " (a relative path is looked up in the working directory, then in SparkFiles: "
        + "ship the model with spark-submit --archives model.zip#" + p + ")"));
  }

  /** {@code dir}, or its only subfolder when {@code dir} has no saved_model.pb and that subfolder has one. */
  private static Path descend(Path dir) {
    if (Files.exists(dir.resolve("saved_model.pb")) || Files.exists(dir.resolve("saved_model.pbtxt"))) {
      return dir;
    }
    try (Stream<Path> s = Files.list(dir)) {
      List<Path> entries = s.toList();
      if (entries.size() == 1 && Files.isDirectory(entries.get(0))
          && (Files.exists(entries.get(0).resolve("saved_model.pb"))
          || Files.exists(entries.get(0).resolve("saved_model.pbtxt")))) {
        return entries.get(0);
      }
    } catch (IOException e) {
      LOG.debug("cannot list {}: {}", dir, e.toString());
    }
    return dir;
  }

  /** One task's lease on a cached model; {@link #close()} is idempotent and thread-safe. */
  static final class ModelLease implements AutoCloseable {
    private final FusedModelCache.Lease lease;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ModelLease(FusedModelCache.Lease lease) {
      this.lease = lease;
    }

    FusedModel model() {
      return lease.model();
    }

    @Override
    public void close() {
      if (closed.compareAndSet(false, true)) {
        OPEN_LEASES.decrementAndGet();
        lease.close();
      }
    }
  }
}
