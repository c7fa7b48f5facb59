package dev.fusedtf.internal.fuse;

import dev.fusedtf.errors.CheckFailedException;
import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.internal.check.DefaultProbes;
import dev.fusedtf.internal.check.EquivalenceCheck;
import dev.fusedtf.internal.check.TapGraph;
import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.rules.Pipeline;
import dev.fusedtf.internal.rules.Plan;
import dev.fusedtf.internal.rules.Rule;
import dev.fusedtf.internal.rules.Rules;
import dev.fusedtf.internal.source.LoadedGraph;
import dev.fusedtf.internal.source.OriginalModel;
import dev.fusedtf.internal.source.Pruner;
import dev.fusedtf.internal.source.SavedModelOriginal;
import dev.fusedtf.internal.source.ServedGraph;
import dev.fusedtf.internal.source.ServingRoots;
import dev.fusedtf.internal.source.SessionBuilder;
import dev.fusedtf.internal.source.Signatures;
import dev.fusedtf.report.CheckResult;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.report.Hint;
import dev.fusedtf.report.Rewrite;
import dev.fusedtf.report.Served;
import dev.fusedtf.report.Unverified;
import dev.fusedtf.spi.ProbeSupplier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code FuseStep} is the one pipeline every model goes through, whatever its source: pin placeholders, prune to
 * the serving roots, run the rules to a fixed point, make the result lean (weights frozen, unused arguments and
 * nodes gone), build it in memory, check it against the original (every signature, every fold's own tensor), and
 * decide which graph to serve ({@link #verdict}). The result is an {@link Outcome}: the report, and the rewritten
 * graph loaded and ready when it is the one to serve.
 */
public final class FuseStep {
  private static final Logger LOG = LoggerFactory.getLogger(FuseStep.class);
  private static final Set<String> RANDOM_OPS = Set.of("RandomUniform", "RandomUniformInt", "RandomStandardNormal",
      "TruncatedNormal", "RandomShuffle", "Multinomial", "RandomGamma", "RandomPoisson", "RandomPoissonV2");

  private FuseStep() {}

  /**
   * What fusing produced.
   *
   * @param report the report (no serving figures yet)
   * @param fused the rewritten graph, loaded, when it is the one to serve (the caller owns it); else null
   * @param fusedMeta the rewritten MetaGraphDef, when the rules changed anything (served or not); else null
   */
  public record Outcome(FoldReport report, LoadedGraph fused, MetaGraphDef fusedMeta) {
    /** Which graph to serve. */
    public Served served() {
      return report.served();
    }
  }

  /** The pipeline for these settings: the default rules minus the disabled ones, plus the extra ones. */
  static Pipeline pipeline(FuseSettings s) {
    List<Rule> rules = new ArrayList<>(Rules.defaults());
    rules.addAll(s.extraRules());
    return new Pipeline(rules, s.disabledRules());
  }

  /** The probes the check uses. */
  static ProbeSupplier probes(FuseSettings s, GraphDef graph) {
    return s.probes() != null ? s.probes() : DefaultProbes.of(s.seed(), graph);
  }

  /** What would fold and what would not, and why, without building or checking anything. */
  public static FoldReport inspect(OriginalModel original, FuseSettings s, Map<String, Long> timings) {
    long t = System.nanoTime();
    try (Pins pins = Pins.apply(original.loaded().meta(), s.pins())) {
      Prepared p = prepare(original, pins.meta());
      Pipeline.Result r = pipeline(s).run(p.serving(), p.fetch(), p.fed(), original.variables(), s.cpu());
      timings.put("fold", ms(t));
      List<Rewrite> rewrites = new ArrayList<>(pins.rewrites());
      rewrites.addAll(r.rewrites());
      return new FoldReport(original.name(), original.format(), Served.ORIGINAL, r.foldEntries(), rewrites, r.skips(),
          pins.pins(), hints(original, p, r), r.nodesBefore(), r.nodesAfter(), r.rounds(), null, null, timings, null,
          null);
    }
  }

  /** The serving graph of a (pinned) MetaGraphDef and its signature nodes. */
  private record Prepared(GraphDef serving, Set<String> fetch, Set<String> fed) {}

  private static Prepared prepare(OriginalModel original, MetaGraphDef meta) {
    Set<String> fetch = ServingRoots.signatureNodes(meta, true);
    Set<String> fed = ServingRoots.signatureNodes(meta, false);
    // nodes no signature, init op or restore needs (a TF1 training graph's gradients and optimizer) go first
    GraphDef serving = Pruner.prune(meta.getGraphDef(), ServingRoots.of(meta, true));
    if (original instanceof SavedModelOriginal sm) {
      sm.sessionVariables().prefetchServing(new ModelGraph(serving, fetch));
    }
    return new Prepared(serving, fetch, fed);
  }

  /** Folds, rebuilds, checks and decides. The original stays open and owned by the caller. */
  public static Outcome run(OriginalModel original, FuseSettings s, Map<String, Long> timings) {
    try (Pins pins = Pins.apply(original.loaded().meta(), s.pins())) {
      long t = System.nanoTime();
      MetaGraphDef meta = pins.meta();
      Prepared p = prepare(original, meta);
      Pipeline.Result r = pipeline(s).run(p.serving(), p.fetch(), p.fed(), original.variables(), s.cpu());
      timings.put("fold", ms(t));
      List<Rewrite> rewrites = new ArrayList<>(pins.rewrites());
      rewrites.addAll(r.rewrites());
      List<Hint> hints = hints(original, p, r);
      ProbeSupplier probes = probes(s, meta.getGraphDef());
      List<Signature> sigs = Signatures.serving(meta, original.loaded().graph());
      long ts = System.nanoTime();
      String originalError = smoke(original.loaded().session(), sigs, probes, pins.feeds());
      timings.put("originalFirstRun", ms(ts));
      boolean changed = r.changed() || !pins.pins().isEmpty();
      boolean layout = r.rewrites().stream().anyMatch(w -> w.kind() == Rewrite.Kind.LAYOUT);
      if (originalError != null && !layout) {
        // not a channels-first op this CPU lacks a kernel for: the model itself is broken
        throw new ModelLoadException(original.name() + ": the model cannot run: " + originalError
            + advice(originalError));
      }
      if (!changed) {
        LOG.info("{}: nothing to rewrite ({} BatchNorm skipped)", original.name(), r.skips().size());
        FoldReport report = new FoldReport(original.name(), original.format(), Served.ORIGINAL, List.of(), rewrites,
            r.skips(), pins.pins(), hints, r.nodesBefore(), r.nodesAfter(), r.rounds(),
            CheckResult.unchanged(s.absTolerance(), s.relTolerance()), null, timings, null, null);
        return new Outcome(report, null, null);
      }
      long tb = System.nanoTime();
      ServedGraph.Lean lean = ServedGraph.of(meta.toBuilder().setGraphDef(r.graph()).build(), original.variables(),
          true);
      rewrites.addAll(lean.rewrites());
      MetaGraphDef fusedMeta = lean.meta();
      Path assets = original.directory() != null ? original.directory().resolve("assets") : null;
      LoadedGraph fused = null;
      String loadFailure = null;
      try {
        fused = SessionBuilder.build(fusedMeta, s.config(), original.variablesPrefix(), assets);
      } catch (RuntimeException e) {
        loadFailure = "the rewritten graph failed to load: " + e.getMessage();
      }
      timings.put("rebuild", ms(tb));
      // counted before inlining, as nodesBefore is: inlining moves nodes, it removes none
      int nodesAfter = new ModelGraph(lean.functional().getGraphDef(), p.fetch(), p.fed()).servingNodeCount();
      try {
        long tc = System.nanoTime();
        CheckResult check = fused == null ? CheckResult.failed(s.absTolerance(), s.relTolerance(), loadFailure)
            : check(original, s, meta, p, r, fused, lean.functional(), probes, pins.feeds(), originalError);
        timings.put("check", ms(tc));
        Verdict v = verdict(check, s);
        FoldReport report = new FoldReport(original.name(), original.format(), v.served(), r.foldEntries(), rewrites,
            r.skips(), pins.pins(), hints, r.nodesBefore(), nodesAfter, r.rounds(), check, v.reason(), timings, null,
            null);
        if (v.served() == Served.ORIGINAL) {
          if (s.strict()) {
            throw new CheckFailedException(original.name() + ": rewritten model rejected (strict mode): " + v.reason(),
                report);
          }
          if (originalError != null) {
            throw new ModelLoadException(original.name() + ": the model cannot run on this machine ("
                + originalError + ") and the rewritten model was not accepted: " + v.reason());
          }
          LOG.warn("{}: serving the original graph: {}", original.name(), v.reason());
          if (fused != null) {
            fused.close();
          }
          return new Outcome(report, null, fusedMeta);
        }
        if (v.served() == Served.FUSED_UNVERIFIED) {
          LOG.warn("{}: serving the rewritten graph UNVERIFIED: {}", original.name(), v.reason());
        } else {
          LOG.info("{}: {} fold(s), {} rewrite(s), check passed (max abs diff {}, max rel diff {})", original.name(),
              r.folds().size(), rewrites.size(), check.maxAbsDiff(), check.maxRelDiff());
        }
        LoadedGraph served = fused;
        fused = null;
        return new Outcome(report, served, fusedMeta);
      } finally {
        if (fused != null) {
          fused.close();
        }
      }
    }
  }

  /** The decision, and why when it is not the plain "checked and fused". */
  record Verdict(Served served, String reason) {}

  /**
   * The one place that decides what is served once the rules changed the graph: the rewritten graph when every
   * signature and fold checked out; the original when a comparison failed; when only part could not be checked
   * (a signature without probes, an original that cannot run here), the rewritten graph unverified if the option
   * allows it, else the original.
   */
  static Verdict verdict(CheckResult check, FuseSettings s) {
    if (check.passed()) {
      return new Verdict(Served.FUSED, null);
    }
    boolean numericFailure = check.outputs().stream().anyMatch(d -> !d.passed()) || check.foldFailed()
        || !check.nondeterministic().isEmpty() || (check.outputs().isEmpty() && check.unverified().isEmpty());
    String why = "check failed: " + describe(check);
    if (numericFailure || (check.note() != null && check.note().contains("failed to"))) {
      return new Verdict(Served.ORIGINAL, why);
    }
    String unverified = "not every signature could be verified: " + String.join("; ",
        check.unverified().stream().map(u -> "'" + u.signature() + "' " + u.reason()).toList());
    if (s.serveUnverified()) {
      return new Verdict(Served.FUSED_UNVERIFIED, unverified + " (served anyway: serveUnverified is set)");
    }
    return new Verdict(Served.ORIGINAL, unverified + " (set serveUnverified to serve the rewritten model anyway)");
  }

  private static String describe(CheckResult c) {
    if (c.note() != null) {
      return c.note();
    }
    return "max abs diff " + c.maxAbsDiff() + ", max rel diff " + c.maxRelDiff();
  }

  /**
   * Runs the original once per signature at batch 1 (the cold first run the check would pay anyway); null when it
   * runs, else the first error (a probe that cannot be made is not an error here).
   */
  private static String smoke(Session session, List<Signature> sigs, ProbeSupplier probes, Map<String, Tensor> feeds) {
    for (Signature sig : sigs) {
      Map<String, Tensor> in;
      try {
        in = probes.probe(sig, 1, 0);
      } catch (RuntimeException e) {
        continue;
      }
      try {
        Session.Runner runner = session.runner();
        for (Map.Entry<String, Signature.TensorDescription> e : sig.getInputs().entrySet()) {
          runner.feed(e.getValue().name, in.get(e.getKey()));
        }
        feeds.forEach(runner::feed);
        sig.getOutputs().values().forEach(d -> runner.fetch(d.name));
        runner.run().close();
      } catch (IllegalArgumentException e) {
        String unfed = unfedPlaceholder(e.getMessage());
        if (unfed != null) {
          throw new ModelLoadException("signature '" + sig.key() + "' cannot run: it needs placeholder '" + unfed
              + "' fed, and no signature input feeds it; pin it to a constant (FusedModelOptions.pin(\"" + unfed
              + "\", value), or --set " + unfed + ":0=VALUE: false for a training flag, 1.0 for a keep probability)",
              e);
        }
        // TFInvalidArgumentException: the model rejects this probe (too small for a VALID conv, say); the check
        // reports the signature unverified, but the model itself may be fine
        LOG.debug("probe rejected by signature '{}': {}", sig.key(), e.getMessage());
      } catch (RuntimeException e) {
        return "signature '" + sig.key() + "': " + e.getMessage();
      } finally {
        in.values().forEach(Tensor::close);
      }
    }
    return null;
  }

  /** What to check, for the failures a user can fix. */
  static String advice(String error) {
    if (error.contains("Could not find variable") || error.contains("not initialized") || error.contains("uninitialized")) {
      return " (its variables are missing or incomplete: is the variables/ folder, with variables.index and its data "
          + "shards, next to saved_model.pb?)";
    }
    if (error.contains("Not found: Op type not registered") || error.contains("Op type not registered")) {
      return " (the model uses an op this TensorFlow runtime does not have)";
    }
    return "";
  }

  /** The placeholder named by TensorFlow's "You must feed a value for placeholder tensor 'x'" error, or null. */
  static String unfedPlaceholder(String message) {
    if (message == null) {
      return null;
    }
    java.util.regex.Matcher m = java.util.regex.Pattern
        .compile("must feed a value for placeholder tensor '([^']+)'").matcher(message);
    return m.find() ? m.group(1) : null;
  }

  private static CheckResult check(OriginalModel original, FuseSettings s, MetaGraphDef meta, Prepared p,
      Pipeline.Result r, LoadedGraph fused, MetaGraphDef fusedFunctional, ProbeSupplier probes,
      Map<String, Tensor> pinFeeds, String originalError) {
    Session reference = original.loaded().session();
    String kind = CheckResult.REFERENCE_ORIGINAL;
    GraphDef referenceGraph = ServedGraph.of(meta.toBuilder().setGraphDef(p.serving()).build(),
        original.variables()).meta().getGraphDef();
    LoadedGraph layoutReference = null;
    List<AutoCloseable> toClose = new ArrayList<>();
    boolean layoutChanged = r.rewrites().stream().anyMatch(w -> w.kind() == Rewrite.Kind.LAYOUT);
    MetaGraphDef layoutMeta = layoutChanged || originalError != null ? layoutOnlyMeta(original, meta, p) : null;
    if (layoutMeta != null) {
      // a fold's tensor in the rewritten graph is channels-last: compare it with the same layout of the original
      referenceGraph = layoutMeta.getGraphDef();
    }
    try {
      if (originalError != null) {
        layoutReference = layoutOnly(original, s, layoutMeta, probes);
        if (layoutReference == null) {
          List<Unverified> all = fused.servingSignatures().stream().map(sig -> new Unverified(sig.key(),
              "the original cannot run on this machine and no layout-only rewrite of it does either")).toList();
          return new CheckResult(false, Double.NaN, Double.NaN, s.absTolerance(), s.relTolerance(), List.of(),
              List.of(), all, List.of(), CheckResult.REFERENCE_ORIGINAL, originalError, List.of(),
              "original cannot run on this machine: " + originalError);
        }
        toClose.add(layoutReference);
        reference = layoutReference.session();
        referenceGraph = layoutReference.meta().getGraphDef();
        kind = CheckResult.REFERENCE_LAYOUT;
      }
      EquivalenceCheck.Taps taps = taps(referenceGraph, fusedFunctional, meta, r, s, original, toClose);
      List<String> random = randomOps(referenceGraph, p.fetch());
      EquivalenceCheck eq = new EquivalenceCheck(s.absTolerance(), s.relTolerance(), s.probeBatches(), probes);
      return eq.run(new EquivalenceCheck.Inputs(reference, kind, originalError, fused.session(), fused.servingSignatures(),
          kind.equals(CheckResult.REFERENCE_ORIGINAL) ? pinFeeds : Map.of(), taps, random));
    } finally {
      for (AutoCloseable c : toClose) {
        try {
          c.close();
        } catch (Exception e) {
          LOG.debug("closing a check session: {}", e.toString());
        }
      }
    }
  }

  /** The original with only its channels-first chains rewritten channels-last, if that runs here. */
  /** The original with only its channels-first chains rewritten channels-last (lean), or null when none is. */
  private static MetaGraphDef layoutOnlyMeta(OriginalModel original, MetaGraphDef meta, Prepared p) {
    List<String> others = Rules.names().stream().filter(n -> !n.equals("nchw-to-nhwc")).toList();
    Pipeline.Result r = new Pipeline(Rules.defaults(), others).run(p.serving(), p.fetch(), p.fed(),
        original.variables(), true);
    if (!r.changed()) {
      return null;
    }
    return ServedGraph.of(meta.toBuilder().setGraphDef(r.graph()).build(), original.variables()).meta();
  }

  /** A session over the layout-only rewrite, if it runs here. */
  private static LoadedGraph layoutOnly(OriginalModel original, FuseSettings s, MetaGraphDef lm,
      ProbeSupplier probes) {
    if (lm == null) {
      return null;
    }
    try {
      LoadedGraph g = SessionBuilder.build(lm, s.config(), original.variablesPrefix(), null);
      if (smoke(g.session(), g.servingSignatures(), probes, Map.of()) != null) {
        g.close();
        return null;
      }
      return g;
    } catch (RuntimeException e) {
      LOG.debug("layout-only reference failed: {}", e.toString());
      return null;
    }
  }


  /** Check-only copies of the reference and the rewritten graph that return each fold's tensor. */
  private static EquivalenceCheck.Taps taps(GraphDef referenceGraph, MetaGraphDef fusedMeta, MetaGraphDef meta,
      Pipeline.Result r, FuseSettings s, OriginalModel original, List<AutoCloseable> toClose) {
    if (r.folds().isEmpty()) {
      return null;
    }
    List<TapGraph.Tap> taps = new ArrayList<>();
    Map<String, Plan.FoldChange> byKey = new LinkedHashMap<>();
    int i = 0;
    for (Plan.FoldChange f : r.folds()) {
      if (f.checkNode() == null) {
        continue;
      }
      String key = "t" + i++;
      byKey.put(key, f);
      taps.add(new TapGraph.Tap(key, f.fold().function(), f.checkNode()));
    }
    Set<String> fetch = ServingRoots.signatureNodes(fusedMeta, true);
    TapGraph.Tapped a = TapGraph.build(referenceGraph, taps, fetch);
    TapGraph.Tapped b = TapGraph.build(fusedMeta.getGraphDef(), taps, fetch);
    List<EquivalenceCheck.FoldTap> foldTaps = new ArrayList<>();
    for (Map.Entry<String, Plan.FoldChange> e : byKey.entrySet()) {
      String why = a.missing().getOrDefault(e.getKey(), b.missing().get(e.getKey()));
      foldTaps.add(new EquivalenceCheck.FoldTap(e.getValue().fold().bn(), e.getValue().fold().function(),
          a.fetches().get(e.getKey()), b.fetches().get(e.getKey()), why));
    }
    ConfigProto checkConfig = checkConfig(s.config());
    try {
      LoadedGraph ra = SessionBuilder.build(meta.toBuilder().setGraphDef(a.graph()).build(), checkConfig,
          original.variablesPrefix(), null);
      toClose.add(ra);
      LoadedGraph rb = SessionBuilder.build(fusedMeta.toBuilder().setGraphDef(b.graph()).build(), checkConfig,
          original.variablesPrefix(), null);
      toClose.add(rb);
      return new EquivalenceCheck.Taps(ra.session(), rb.session(), foldTaps);
    } catch (RuntimeException e) {
      LOG.warn("per-fold check copies could not be built: {}", e.toString());
      return new EquivalenceCheck.Taps(null, null, foldTaps);
    }
  }

  /** The session config of check-only copies: the user's, with Grappler off (they run a few times only). */
  private static ConfigProto checkConfig(ConfigProto base) {
    ConfigProto.Builder b = base != null ? base.toBuilder() : ConfigProto.newBuilder();
    GraphOptions.Builder g = b.getGraphOptions().toBuilder();
    g.setRewriteOptions(g.getRewriteOptions().toBuilder().setDisableMetaOptimizer(true));
    return b.setGraphOptions(g).build();
  }

  private static List<String> randomOps(GraphDef graph, Set<String> fetch) {
    ModelGraph mg = new ModelGraph(graph, fetch);
    List<String> out = new ArrayList<>();
    for (Body b : mg.servingBodies()) {
      for (NodeDef n : b.nodes()) {
        if (RANDOM_OPS.contains(n.getOp()) && mg.isLive(b, n.getName())) {
          out.add(n.getOp() + " '" + n.getName() + "'" + (b.isFunction() ? " in " + b.functionName() : ""));
        }
      }
    }
    return out;
  }

  private static List<Hint> hints(OriginalModel original, Prepared p, Pipeline.Result r) {
    List<Hint> out = new ArrayList<>(original.hints());
    out.addAll(Hints.of(p.serving(), p.fetch(), p.fed(), r));
    return out;
  }

  private static long ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }
}
