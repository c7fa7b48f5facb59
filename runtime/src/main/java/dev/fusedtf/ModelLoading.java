package dev.fusedtf;

import dev.fusedtf.errors.CheckFailedException;
import dev.fusedtf.errors.FusedTfException;
import dev.fusedtf.internal.check.DefaultProbes;
import dev.fusedtf.internal.fuse.FuseStep;
import dev.fusedtf.internal.fuse.FusedDiskCache;
import dev.fusedtf.internal.measure.AbTimer;
import dev.fusedtf.internal.serve.Warmup;
import dev.fusedtf.internal.serve.WarmupRecords;
import dev.fusedtf.internal.source.LoadedGraph;
import dev.fusedtf.internal.source.OriginalModel;
import dev.fusedtf.internal.source.SessionBuilder;
import dev.fusedtf.internal.serve.ModelMeters;
import dev.fusedtf.metrics.FusedTfMetrics;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.report.Served;
import dev.fusedtf.report.Speedup;
import dev.fusedtf.report.WarmupResult;
import dev.fusedtf.spi.ProbeSupplier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;

/**
 * The load sequence behind {@link FusedModel#load}: the disk cache, then the original, the fuse step (fold, rebuild,
 * check, verdict), the optional speed measurement, the cache store, warm-up, and the served model. Whatever is not
 * served is closed.
 */
final class ModelLoading {
  private static final Logger LOG = LoggerFactory.getLogger(ModelLoading.class);

  private final ModelSource source;
  private final FusedModelOptions options;
  private final Map<String, Long> timings = new LinkedHashMap<>();
  private final ModelMeters metrics;

  ModelLoading(ModelSource source, FusedModelOptions options) {
    this.source = source;
    this.options = options;
    this.metrics = ModelMeters.of(options.meterRegistry(), modelTag());
  }

  /** The {@code model} tag: the option, or the model path's last element. */
  private String modelTag() {
    if (options.modelName() != null) {
      return options.modelName();
    }
    Path name = source.path().toAbsolutePath().normalize().getFileName();
    return name != null ? name.toString() : source.path().toString();
  }

  FoldReport inspect() {
    long t = System.nanoTime();
    try (OriginalModel original = source.open(options)) {
      timings.put("load", ms(t));
      return FuseStep.inspect(original, options.settings(), timings);
    }
  }

  /**
   * What a load hands to the model it makes: the graph to serve (owned by the caller), the report, the probes for
   * the request-path warm-up, and where the source's files are (for writing).
   */
  record Loaded(LoadedGraph served, FoldReport report, ProbeSupplier probes, Path sourceDir,
      Path variablesPrefix, boolean warmRequestPath) {}

  /**
   * The fuse step's choice: the rewritten graph to serve (null: the original), the report, the speed figures, and
   * the checkpoint the rewritten graph still restores variables from (or null).
   */
  private record Chosen(LoadedGraph fused, FoldReport report, Speedup speedup, Path variablesPrefix) {}

  /** The disk cache and this model's key in it. */
  private record CacheSlot(FusedDiskCache cache, String key) {}

  /** Loads and makes the model: in the foreground, or serving the original while it fuses in the background. */
  FusedModel load(String name) {
    Loaded l;
    boolean background = false; // then the background thread records the load phases
    try {
      CacheSlot slot = cacheSlot();
      Loaded cached = slot != null ? cached(slot) : null;
      if (cached != null) {
        return make(name, cached);
      }
      FusedDiskCache cache = slot != null ? slot.cache() : null;
      String key = slot != null ? slot.key() : null;
      long t = System.nanoTime();
      OriginalModel original = source.open(options);
      timings.put("load", ms(t));
      if (options.fuseInBackground()) {
        FusedModel m = serveWhileFusing(name, original, cache, key);
        if (m != null) {
          background = true;
          return m;
        }
      }
      l = loadFused(original, cache, key);
    } finally {
      if (!background) {
        metrics.recordLoadPhases(timings);
      }
    }
    return make(name, l);
  }

  /** The disk cache and key when the options name one and it can be used, else null. */
  private CacheSlot cacheSlot() {
    if (options.fusedCacheDir() == null || !source.isSavedModel()) {
      return null;
    }
    try {
      return new CacheSlot(new FusedDiskCache(options.fusedCacheDir(), options.fusedCacheMaxBytes()),
          FusedDiskCache.key(source.path(), options.artifactKey()));
    } catch (IOException | RuntimeException e) {
      LOG.warn("{}: fused-model cache not used: {}", source.path(), e.toString());
      return null;
    }
  }

  /** The checked model stored in the cache, loaded, or null on a miss or an entry that cannot be loaded. */
  private Loaded cached(CacheSlot slot) {
    try {
      Optional<FusedDiskCache.Entry> hit = slot.cache().find(slot.key(), source.path(), options.artifactKey());
      return hit.isPresent() ? loadCached(hit.get()) : null;
    } catch (IOException | RuntimeException e) {
      LOG.warn("{}: fused-model cache entry not used: {}", source.path(), e.toString());
      return null;
    }
  }

  private FusedModel make(String name, Loaded l) {
    FusedModel m;
    try {
      m = new FusedModel(name, FusedModel.State.of(l.served(), l.report(), l.variablesPrefix(), l.served()), metrics,
          options, l.sourceDir(), false);
    } catch (RuntimeException e) {
      l.served().close();
      throw e;
    }
    if (l.warmRequestPath()) {
      m.warmRequestPath(l.probes());
    }
    return m;
  }

  /** Folds, checks and chooses; serves the choice, closing the original unless it is the one served. */
  private Loaded loadFused(OriginalModel original, FusedDiskCache cache, String key) {
    LoadedGraph served = null;
    try {
      Chosen c = fuseAndChoose(original, cache, key);
      served = c.fused();
      Path variablesPrefix = c.variablesPrefix();
      if (served != null) {
        original.close();
      } else {
        served = original.takeForServing();
        variablesPrefix = original.variablesPrefix();
      }
      WarmupResult warmup = warmup(served);
      FoldReport report = c.report().withServing(timings, warmup, c.speedup());
      return new Loaded(served, report, probes(served), original.directory(), variablesPrefix,
          options.warmupRuns() > 0);
    } catch (RuntimeException e) {
      original.close();
      if (served != null) {
        served.close();
      }
      throw e;
    }
  }

  /** The fuse step, the optional speed measurement and the cache store; the original stays open. */
  private Chosen fuseAndChoose(OriginalModel original, FusedDiskCache cache, String key) {
    FuseStep.Outcome o = FuseStep.run(original, options.settings(), timings);
    FoldReport report = o.report();
    LoadedGraph served = o.fused();
    Speedup speedup = null;
    try {
      if (served != null && (options.measureSpeedup() || options.serveFaster())) {
        speedup = measureSpeedup(original.loaded(), served);
        if (options.serveFaster() && speedup != null && !speedup.faster()) {
          served.close();
          served = null;
          report = new FoldReport(report.model(), report.source(), Served.ORIGINAL, report.folds(),
              report.rewrites(), report.skipped(), report.pins(), report.hints(), report.nodesBefore(),
              report.nodesAfter(), report.rounds(), report.check(), String.format(
              "the rewritten model is not faster here (median ratio %.3f, A/B interleaved at batch 1): "
              + "serveFaster serves the original", speedup.ratio()), timings, null, null);
        }
      }
      Path variablesPrefix = null;
      if (served != null) {
        if (SessionBuilder.hasVariables(served.meta().getGraphDef())) {
          variablesPrefix = original.variablesPrefix();
        }
        if (cache != null && report.served() == Served.FUSED) {
          cache.store(key, source.path(), options.artifactKey(), served.meta(), variablesPrefix != null, report);
        }
      }
      return new Chosen(served, report, speedup, variablesPrefix);
    } catch (RuntimeException e) {
      if (served != null) {
        served.close();
      }
      throw e;
    }
  }

  /**
   * Serves the original at once (after its first run, so a model that cannot run still fails here) and fuses on a
   * background thread, which swaps the rewritten model in when it is accepted. Null when the original cannot run on
   * this machine: then only the foreground load (which may rewrite its layout) can serve it.
   */
  private FusedModel serveWhileFusing(String name, OriginalModel original, FusedDiskCache cache, String key) {
    FusedModel m;
    try {
      long t = System.nanoTime();
      String error = FuseStep.firstRun(original, options.settings());
      timings.put("originalFirstRun", ms(t));
      if (error != null) {
        // a broken model, or one whose channels-first layout only a rewrite can run here: the foreground load
        // decides which, and fails with the reason or serves the rewrite
        LOG.info("{}: the original does not run as it is ({}); fusing in the foreground", name, error);
        return null;
      }
      FoldReport pending = new FoldReport(name, original.format(), Served.ORIGINAL, List.of(), List.of(), List.of(),
          List.of(), original.hints(), 0, 0, 0, null, PENDING, timings, null, null);
      m = new FusedModel(name, FusedModel.State.of(original.loaded(), pending, original.variablesPrefix(), original),
          metrics, options, original.directory(), true);
    } catch (RuntimeException e) {
      original.close();
      throw e;
    }
    if (options.warmupRuns() > 0) {
      m.warmRequestPath(probes(original.loaded()));
    }
    Thread worker = new Thread(() -> fuseBehind(m, original, cache, key), "fusedtf-fuse-" + modelTag());
    worker.setDaemon(true);
    worker.start();
    return m;
  }

  /** The fallback reason of a model whose background fuse has not finished. */
  static final String PENDING = "fusing in the background: the original is served until the rewritten model has "
      + "passed its check";

  private void fuseBehind(FusedModel m, OriginalModel original, FusedDiskCache cache, String key) {
    try {
      Chosen c = fuseAndChoose(original, cache, key);
      if (c.fused() != null) {
        FoldReport report;
        try {
          report = c.report().withServing(timings, warmup(c.fused()), c.speedup());
        } catch (RuntimeException e) {
          c.fused().close();
          throw e;
        }
        if (m.finishBackgroundFuse(FusedModel.State.of(c.fused(), report, c.variablesPrefix(), c.fused()), report,
            null)) {
          LOG.info("{}: fused in the background, now serving the rewritten model ({} folds)", m.name(),
              report.folds().size());
        }
      } else {
        m.finishBackgroundFuse(null, c.report().withServing(timings, null, c.speedup()), null);
      }
    } catch (Throwable e) {
      LOG.error("{}: the background fuse failed; the original stays served: {}", m.name(), e.toString());
      FoldReport r = e instanceof CheckFailedException cf ? cf.report() : m.report();
      FoldReport failed = new FoldReport(r.model(), r.source(), Served.ORIGINAL, r.folds(), r.rewrites(),
          r.skipped(), r.pins(), r.hints(), r.nodesBefore(), r.nodesAfter(), r.rounds(), r.check(),
          "the background fuse failed, the original stays served: " + e.getMessage(), timings, null, null);
      m.finishBackgroundFuse(null, failed, e);
    } finally {
      metrics.recordLoadPhases(timings);
    }
  }

  /** Serves a fused model from the disk cache: no fold, no check; the stored report, with this load's times. */
  private Loaded loadCached(FusedDiskCache.Entry entry) throws IOException {
    long t = System.nanoTime();
    MetaGraphDef meta = SavedModel.parseFrom(Files.readAllBytes(entry.dir().resolve("saved_model.pb")))
        .getMetaGraphs(0);
    Path prefix = entry.linkedVariables() ? entry.dir().resolve("variables").resolve("variables").toAbsolutePath()
        : null;
    LoadedGraph g = SessionBuilder.build(meta, options.config(), prefix, source.path().resolve("assets"));
    timings.put("diskCacheLoad", ms(t));
    try {
      FoldReport stored = entry.report();
      LOG.info("{}: fused model loaded from the cache {} ({} folds, checked when stored)", source.path(),
          entry.dir(), stored.folds().size());
      WarmupResult warmup = warmup(g);
      FoldReport report = stored.withModel(source.path().toString()).withServing(timings, warmup, stored.speedup());
      return new Loaded(g, report, probes(g), source.path(),
          prefix != null ? source.path().resolve("variables").resolve("variables") : null, options.warmupRuns() > 0);
    } catch (RuntimeException e) {
      g.close();
      throw e;
    }
  }

  private ProbeSupplier probes(LoadedGraph g) {
    return options.probes() != null ? options.probes() : DefaultProbes.of(options.seed(), g.meta().getGraphDef());
  }

  /** Runs the warm-up on {@code g}, or returns null when there is none to run. */
  private WarmupResult warmup(LoadedGraph g) {
    Path dir = source.isSavedModel() ? source.path() : null;
    if (options.warmupRuns() == 0 && (dir == null || !Files.exists(dir.resolve(WarmupRecords.PATH)))) {
      return null;
    }
    long tw = System.nanoTime();
    WarmupResult w = Warmup.run(g.session(), g.servingSignatures(), options.warmupRuns(), probes(g), dir);
    timings.put("warmup", ms(tw));
    return w;
  }

  /** Times the original against the fused model on batch-1 probes of the default signature, A/B interleaved. */
  private Speedup measureSpeedup(LoadedGraph original, LoadedGraph fused) {
    List<Signature> sigs = fused.servingSignatures();
    if (sigs.isEmpty()) {
      return null;
    }
    Signature sig = sigs.stream().filter(x -> x.key().equals(Signature.DEFAULT_KEY)).findFirst().orElse(sigs.get(0));
    if (!options.pins().isEmpty()) {
      return null; // the original needs the pinned values fed: not timed like for like
    }
    Map<String, Tensor> in;
    try {
      in = probes(fused).probe(sig, 1, 0);
    } catch (RuntimeException e) {
      return null;
    }
    long t = System.nanoTime();
    try {
      AbTimer.Comparison c = AbTimer.compare(
          () -> original.session().run(sig, in).close(), () -> fused.session().run(sig, in).close(),
          5, 40, Duration.ofSeconds(2));
      Speedup sp = Speedup.of(sig.key(), 1, c.a(), c.b(), c.ratio());
      if (!sp.faster()) {
        LOG.warn("{}: the rewritten model is not faster here (median ratio {} at batch 1, A/B interleaved)",
            source.path(), String.format(java.util.Locale.ROOT, "%.3f", sp.ratio()));
      }
      return sp;
    } catch (RuntimeException e) {
      LOG.debug("speed-up not measured: {}", e.toString());
      return null;
    } finally {
      in.values().forEach(Tensor::close);
      timings.put("speedup", ms(t));
    }
  }

  private static long ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

}
