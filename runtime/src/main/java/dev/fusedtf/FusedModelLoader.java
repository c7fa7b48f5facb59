package dev.fusedtf;

import dev.fusedtf.cache.FusedDiskCache;
import dev.fusedtf.check.CheckResult;
import dev.fusedtf.check.EquivalenceCheck;
import dev.fusedtf.check.ProbeSupplier;
import dev.fusedtf.fold.Pipeline;
import dev.fusedtf.formats.Pruner;
import dev.fusedtf.formats.SavedModelFiles;
import dev.fusedtf.formats.ServingRoots;
import dev.fusedtf.graph.Body;
import dev.fusedtf.measure.AbTimer;
import dev.fusedtf.measure.Speedup;
import dev.fusedtf.measure.WarmupResult;
import dev.fusedtf.metrics.FusedTfMetrics;
import dev.fusedtf.serving.Warmup;
import dev.fusedtf.serving.WarmupRecords;
import dev.fusedtf.weights.SessionVariableStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;

/** The load sequence behind {@link FusedModel#load}: load, fold, rebuild, check, choose, close the other. */
final class FusedModelLoader {
  private static final Logger LOG = LoggerFactory.getLogger(FusedModelLoader.class);

  private final Path dir;
  private final FusedModelOptions options;
  private final Map<String, Long> timings = new LinkedHashMap<>();
  private final FusedTfMetrics metrics;

  FusedModelLoader(Path dir, FusedModelOptions options) {
    this.dir = dir;
    this.options = options;
    this.metrics = FusedTfMetrics.of(options.meterRegistry(), modelTag(dir, options));
  }

  /** The {@code model} tag: the option, or the directory's name. */
  static String modelTag(Path dir, FusedModelOptions options) {
    if (options.modelName() != null) {
      return options.modelName();
    }
    Path name = dir.toAbsolutePath().normalize().getFileName();
    return name != null ? name.toString() : dir.toString();
  }

  /** Loads the original model as {@code SavedModelBundle.load} would, with clear errors. */
  static SavedModelBundle loadBundle(Path dir, FusedModelOptions options) {
    if (!Files.isDirectory(dir)) {
      throw new FusedTfException("model directory does not exist: " + dir);
    }
    if (!Files.exists(dir.resolve("saved_model.pb")) && !Files.exists(dir.resolve("saved_model.pbtxt"))) {
      throw new FusedTfException("not a SavedModel (no saved_model.pb or saved_model.pbtxt): " + dir);
    }
    try {
      SavedModelBundle.Loader l = SavedModelBundle.loader(dir.toString()).withTags(options.tags());
      if (options.config() != null) {
        l = l.withConfigProto(options.config());
      }
      return l.load();
    } catch (RuntimeException e) {
      throw new FusedTfException("cannot load SavedModel " + dir + " with tags " + String.join(",", options.tags())
          + ": " + e.getMessage(), e);
    }
  }

  /** Top-level nodes any signature fetches. */
  static Set<String> fetchNodes(MetaGraphDef meta) {
    return ServingRoots.signatureNodes(meta, true);
  }

  /** Top-level nodes any signature feeds. */
  static Set<String> fedNodes(MetaGraphDef meta) {
    return ServingRoots.signatureNodes(meta, false);
  }

  private Pipeline.Result fold(SavedModelBundle original, MetaGraphDef meta) {
    long t = System.nanoTime();
    Pipeline pipeline = options.pipeline();
    SessionVariableStore vars = new SessionVariableStore(original.session(), original.graph(),
        Body.topLevel(meta.getGraphDef().getNodeList()));
    // nodes no signature, init op or restore needs (a TF1 training graph's gradients and optimizer) go first:
    // a fold must not leave a dead reader pointing at a node it removed
    GraphDef serving = Pruner.prune(meta.getGraphDef(), ServingRoots.of(meta, true));
    vars.prefetchServing(new dev.fusedtf.graph.ModelGraph(serving, fetchNodes(meta)));
    Pipeline.Result r = pipeline.run(serving, fetchNodes(meta), fedNodes(meta), vars);
    timings.put("fold", ms(t));
    return r;
  }

  FoldReport inspect() {
    long t = System.nanoTime();
    try (SavedModelBundle original = loadBundle(dir, options)) {
      timings.put("load", ms(t));
      Pipeline.Result r = fold(original, original.metaGraphDef());
      return new FoldReport(dir.toString(), "original", r.folds(), r.skips(), r.nodesBefore(), r.nodesAfter(), null,
          null, timings, r.rewrites());
    }
  }

  FusedModel load() {
    try {
      return loadAndCheck();
    } finally {
      metrics.recordLoadPhases(timings);
    }
  }

  private FusedModel loadAndCheck() {
    String cacheKey = null;
    if (options.fusedCacheDir() != null) {
      try {
        cacheKey = FusedDiskCache.key(dir, options);
        Optional<FusedDiskCache.Entry> hit = new FusedDiskCache(options.fusedCacheDir()).find(cacheKey);
        if (hit.isPresent()) {
          return loadCached(hit.get());
        }
      } catch (IOException | RuntimeException e) {
        LOG.warn("{}: fused-model cache not used: {}", dir, e.toString());
        cacheKey = null;
      }
    }
    long t = System.nanoTime();
    SavedModelBundle original = loadBundle(dir, options);
    timings.put("load", ms(t));
    SavedModelBundle fused = null;
    try {
      MetaGraphDef meta = original.metaGraphDef();
      Pipeline.Result r = fold(original, meta);
      if (!r.changed()) {
        LOG.info("{}: nothing to fold ({} BatchNorm skipped)", dir, r.skips().size());
        SavedModelBundle served = original;
        original = null;
        return serve(served, meta, r, "original",
            CheckResult.unchanged(options.absTolerance(), options.relTolerance()), null, null);
      }
      MetaGraphDef fusedMeta = meta.toBuilder().setGraphDef(r.graph()).build();
      long tb = System.nanoTime();
      String loadFailure = null;
      try {
        fused = rebuild(fusedMeta);
      } catch (RuntimeException | IOException e) {
        loadFailure = "fused graph failed to load: " + e.getMessage();
      }
      timings.put("rebuild", ms(tb));
      CheckResult check;
      if (fused != null) {
        long tc = System.nanoTime();
        EquivalenceCheck eq = new EquivalenceCheck(options.absTolerance(), options.relTolerance(),
            options.probeBatches(), probes());
        check = eq.run(original.session(), fused.session(), servingSignatures(original));
        timings.put("check", ms(tc));
      } else {
        check = new CheckResult(false, Double.NaN, Double.NaN, options.absTolerance(), options.relTolerance(),
            List.of(), loadFailure);
      }
      if (check.passed()) {
        LOG.info("{}: folded {} BatchNorm(s), check passed (max abs diff {}, max rel diff {})", dir,
            r.folds().size(), check.maxAbsDiff(), check.maxRelDiff());
        Speedup speedup = options.measureSpeedup() ? measureSpeedup(original, fused) : null;
        original.close();
        original = null;
        SavedModelBundle served = fused;
        fused = null;
        FusedModel model = serve(served, fusedMeta, r, "fused", check, null, speedup);
        if (cacheKey != null) {
          new FusedDiskCache(options.fusedCacheDir()).store(cacheKey, dir, fusedMeta, model.report());
        }
        return model;
      }
      String why = "check failed: " + (check.note() != null ? check.note()
          : "max abs diff " + check.maxAbsDiff() + ", max rel diff " + check.maxRelDiff());
      if (options.strict()) {
        throw new CheckFailedException(dir + ": fused model rejected (strict mode): " + why,
            report(r, "original", check, why, null, null));
      }
      LOG.warn("{}: serving the original graph: {}", dir, why);
      SavedModelBundle served = original;
      original = null;
      return serve(served, meta, r, "original", check, why, null);
    } catch (RuntimeException e) {
      if (original != null) {
        original.close();
      }
      throw e;
    } finally {
      if (fused != null) {
        fused.close();
      }
    }
  }

  /** Serves a fused model from the on-disk cache: no fold, no check; the stored report, with this load's times. */
  private FusedModel loadCached(FusedDiskCache.Entry entry) {
    long t = System.nanoTime();
    SavedModelBundle bundle = loadBundle(entry.dir(), options);
    timings.put("diskCacheLoad", ms(t));
    try {
      FoldReport stored = entry.report();
      WarmupResult warmup = warmup(bundle);
      LOG.info("{}: fused model loaded from the cache {} ({} folds, checked when stored)", dir, entry.dir(),
          stored.folds().size());
      FoldReport report = new FoldReport(dir.toString(), stored.served(), stored.folds(), stored.skipped(),
          stored.nodesBefore(), stored.nodesAfter(), stored.check(), stored.fallbackReason(), timings,
          stored.rewrites(), warmup, stored.speedup());
      return warmRequestPath(new FusedModel(dir.toString(), bundle, bundle.metaGraphDef(), report, metrics));
    } catch (RuntimeException e) {
      bundle.close();
      throw e;
    }
  }

  /** One unrecorded call per signature through {@code model}'s request path, when warm-up is on. */
  private FusedModel warmRequestPath(FusedModel model) {
    if (options.warmupRuns() == 0) {
      return model;
    }
    for (Signature sig : model.signatures().values()) {
      Map<String, org.tensorflow.Tensor> in;
      try {
        in = probes().probe(sig, 1, 0);
      } catch (IllegalArgumentException e) {
        continue;
      }
      try {
        model.warmRequestPath(sig.key(), in);
      } catch (RuntimeException e) {
        LOG.debug("request-path warm-up of '{}' failed: {}", sig.key(), e.toString());
      } finally {
        in.values().forEach(org.tensorflow.Tensor::close);
      }
    }
    return model;
  }

  /** Runs the warm-up on {@code bundle}, or returns null when there is none to run. */
  private WarmupResult warmup(SavedModelBundle bundle) {
    if (options.warmupRuns() == 0 && !Files.exists(dir.resolve(WarmupRecords.PATH))) {
      return null;
    }
    long tw = System.nanoTime();
    WarmupResult w = Warmup.run(bundle.session(), servingSignatures(bundle), options.warmupRuns(), probes(), dir);
    timings.put("warmup", ms(tw));
    return w;
  }

  /** Warms the served bundle up, completes the report, and hands the model out (closing the bundle on failure). */
  private FusedModel serve(SavedModelBundle bundle, MetaGraphDef meta, Pipeline.Result r, String served,
      CheckResult check, String why, Speedup speedup) {
    try {
      WarmupResult warmup = warmup(bundle);
      return warmRequestPath(
          new FusedModel(dir.toString(), bundle, meta, report(r, served, check, why, warmup, speedup), metrics));
    } catch (RuntimeException e) {
      bundle.close();
      throw e;
    }
  }

  private FoldReport report(Pipeline.Result r, String served, CheckResult check, String why, WarmupResult warmup,
      Speedup speedup) {
    return new FoldReport(dir.toString(), served, r.folds(), r.skips(), r.nodesBefore(), r.nodesAfter(), check, why,
        timings, r.rewrites(), warmup, speedup);
  }

  private ProbeSupplier probes() {
    return options.probes() != null ? options.probes() : ProbeSupplier.random(options.seed());
  }

  /** Times the original against the fused model on batch-1 probes of the default signature, A/B interleaved. */
  private Speedup measureSpeedup(SavedModelBundle original, SavedModelBundle fused) {
    List<Signature> sigs = servingSignatures(original);
    if (sigs.isEmpty()) {
      return null;
    }
    Signature sig = sigs.stream().filter(x -> x.key().equals(Signature.DEFAULT_KEY)).findFirst().orElse(sigs.get(0));
    Map<String, org.tensorflow.Tensor> in;
    try {
      in = probes().probe(sig, 1, 0);
    } catch (IllegalArgumentException e) {
      return null;
    }
    long t = System.nanoTime();
    try {
      AbTimer.Comparison c = AbTimer.compare(
          () -> original.session().run(sig, in).close(), () -> fused.session().run(sig, in).close(),
          5, 40, java.time.Duration.ofSeconds(2));
      return new Speedup(sig.key(), 1, c.a(), c.b(), c.ratio());
    } finally {
      in.values().forEach(org.tensorflow.Tensor::close);
      timings.put("speedup", ms(t));
    }
  }

  /** Builds the fused model complete (import, then session, then variable restore) from a temporary SavedModel. */
  private SavedModelBundle rebuild(MetaGraphDef fusedMeta) throws IOException {
    Path tmp = Files.createTempDirectory("fusedtf-");
    try {
      SavedModelFiles.writeLinked(dir, fusedMeta, tmp);
      return loadBundle(tmp, options);
    } finally {
      SavedModelFiles.deleteTree(tmp);
    }
  }

  static List<Signature> servingSignatures(SavedModelBundle b) {
    List<Signature> out = new ArrayList<>();
    for (Signature s : b.signatures()) {
      if (!s.key().startsWith("__") && !s.getOutputs().isEmpty()) {
        out.add(s);
      }
    }
    return out;
  }

  private static long ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }
}
