package dev.fusedtf.report;

import com.google.gson.Gson;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code FoldReport} says exactly what loading or fusing a model did: every BatchNorm (or Scale) removed
 * ({@link #folds()}: one entry per BatchNorm, nothing else), every other change to the graph ({@link #rewrites()}),
 * every BatchNorm left alone with its reason and code ({@link #skipped()}), the placeholders pinned, node counts on the
 * serving path, the check's figures (final outputs and each fold's own tensor), and which graph is served and why.
 *
 * <p>{@link #toJson()} is a stable contract: {@code folds} ({@code bn}, {@code into}, {@code pattern}),
 * {@code rewrites}, {@code skipped} ({@code bn}, {@code reason}, {@code code}), {@code nodesBefore},
 * {@code nodesAfter} and {@code check} ({@code maxAbsDiff}, {@code maxRelDiff}, {@code passed}, {@code folds}) keep
 * their names and meaning. NaN and infinite figures are written as {@code null}.
 *
 * @param model the model's path or name
 * @param source the format read: {@code saved-model}, {@code checkpoint} or {@code frozen-graph}
 * @param served which graph is served (or written)
 * @param folds BatchNorms and Scale layers removed
 * @param rewrites every other change
 * @param skipped BatchNorms left alone, with reasons
 * @param pins placeholders replaced by constants
 * @param hints advice: placeholders worth pinning, likely outputs
 * @param nodesBefore nodes on the serving path (top level + reachable function bodies) before the rules ran
 * @param nodesAfter the same after
 * @param rounds rounds the rules took to settle (the last one changes nothing)
 * @param check the check, or null when it did not run ({@code inspect})
 * @param fallbackReason why the original is served (or the rewritten model unverified) although rules applied, or null
 * @param timingsMs load-phase durations in milliseconds ({@code load}, {@code fold}, {@code check}, ...)
 * @param warmup what warm-up at load did, or null
 * @param speedup the original and the rewritten model timed at load, or null
 */
public record FoldReport(String model, String source, Served served, List<Fold> folds, List<Rewrite> rewrites,
    List<Skip> skipped, List<Pin> pins, List<Hint> hints, int nodesBefore, int nodesAfter, int rounds,
    CheckResult check, String fallbackReason, Map<String, Long> timingsMs, WarmupResult warmup, Speedup speedup) {

  private static final Gson GSON = ReportJson.builder().create();

  /** Copies the lists. */
  public FoldReport {
    folds = folds == null ? List.of() : List.copyOf(folds);
    rewrites = rewrites == null ? List.of() : List.copyOf(rewrites);
    skipped = skipped == null ? List.of() : List.copyOf(skipped);
    pins = pins == null ? List.of() : List.copyOf(pins);
    hints = hints == null ? List.of() : List.copyOf(hints);
    timingsMs = timingsMs == null ? Map.of() : new LinkedHashMap<>(timingsMs);
  }

  /** Whether a rewritten graph is the one served (checked, or unverified by option). */
  public boolean isFusedServed() {
    return served != null && served.isRewritten();
  }

  /** This report with warm-up and speed figures and the load timings. */
  public FoldReport withServing(Map<String, Long> timings, WarmupResult warmup, Speedup speedup) {
    return new FoldReport(model, source, served, folds, rewrites, skipped, pins, hints, nodesBefore, nodesAfter, rounds,
        check, fallbackReason, timings, warmup, speedup);
  }

  /** This report under another model name (a report read from the disk cache). */
  public FoldReport withModel(String name) {
    return new FoldReport(name, source, served, folds, rewrites, skipped, pins, hints, nodesBefore, nodesAfter, rounds,
        check, fallbackReason, timingsMs, warmup, speedup);
  }

  /** Reads a report written by {@link #toJson()}. */
  public static FoldReport fromJson(String json) {
    return GSON.fromJson(json, FoldReport.class);
  }

  /** The report as pretty-printed JSON. */
  public String toJson() {
    return GSON.toJson(this);
  }

  /** A human-readable multi-line summary. */
  public String toText() {
    StringBuilder sb = new StringBuilder();
    sb.append("model: ").append(model).append(source != null ? " (" + source + ")" : "").append('\n');
    sb.append("folded: ").append(folds.size()).append(", skipped: ").append(skipped.size())
        .append(", other rewrites: ").append(rewrites.size())
        .append(", nodes on serving path: ").append(nodesBefore).append(" -> ").append(nodesAfter)
        .append(" (").append(rounds).append(rounds == 1 ? " round" : " rounds").append(")\n");
    for (Pin p : pins) {
      sb.append("  pin   ").append(p.name()).append(" = ").append(p.value()).append(" (").append(p.dtype())
          .append(")\n");
    }
    for (Fold f : folds) {
      sb.append("  fold  ").append(f.bn()).append("  into ").append(f.into()).append("  [").append(f.pattern())
          .append(']');
      appendFunction(sb, f.function());
      if (f.note() != null) {
        sb.append("  (").append(f.note()).append(')');
      }
      sb.append('\n');
    }
    for (Rewrite r : rewrites) {
      sb.append("  rewrite  ").append(r.kind());
      if (!r.nodes().isEmpty()) {
        sb.append(' ').append(r.nodes().get(0)).append(r.nodes().size() > 1 ? " (+" + (r.nodes().size() - 1) + ")" : "");
      }
      sb.append(": ").append(r.detail());
      appendFunction(sb, r.function());
      sb.append('\n');
    }
    for (Skip s : skipped) {
      sb.append("  skip  ").append(s.bn()).append(" [").append(s.code()).append("]: ").append(s.reason());
      appendFunction(sb, s.function());
      sb.append('\n');
    }
    for (Hint h : hints) {
      sb.append("  hint  ").append(h.node()).append(": ").append(h.reason());
      if (h.suggestion() != null) {
        sb.append(" -> ").append(h.suggestion());
      }
      sb.append('\n');
    }
    if (check != null) {
      appendCheck(sb, check);
    }
    if (speedup != null) {
      sb.append(String.format("speed at load (%s, batch %d, A/B interleaved): original %.3f ms, fused %.3f ms "
          + "(median), ratio %.2f: %s%n", speedup.signature(), speedup.batch(), speedup.original().medianMs(),
          speedup.fused().medianMs(), speedup.ratio(), speedup.faster() ? "faster"
          : "NOT faster here (within noise or slower)"));
    }
    if (warmup != null) {
      sb.append(String.format("warm-up: %d runs + %d records; first call %.1f ms, first call after warm-up %.1f ms%n",
          warmup.runs(), warmup.records(), warmup.firstCallMs(), warmup.afterWarmupMs()));
    }
    sb.append("served: ").append(served);
    if (fallbackReason != null) {
      sb.append(" (").append(fallbackReason).append(')');
    }
    sb.append('\n');
    return sb.toString();
  }

  private static void appendCheck(StringBuilder sb, CheckResult check) {
    sb.append(String.format("check: %s  max abs diff %.3g, max rel diff %.3g (tolerance %.1g abs / %.1g rel)%n",
        check.passed() ? "PASSED" : "FAILED", check.maxAbsDiff(), check.maxRelDiff(), check.absTolerance(),
        check.relTolerance()));
    if (!CheckResult.REFERENCE_ORIGINAL.equals(check.reference())) {
      sb.append("  compared against: ").append(check.reference()).append('\n');
    }
    if (check.originalError() != null) {
      sb.append("  original cannot run on this machine: ").append(check.originalError()).append('\n');
    }
    int compared = (int) check.folds().stream().filter(FoldDiff::compared).count();
    if (!check.folds().isEmpty()) {
      double worst = check.folds().stream().filter(FoldDiff::compared).mapToDouble(FoldDiff::maxRelDiff).max()
          .orElse(Double.NaN);
      sb.append(String.format("  folds compared at their own tensor: %d of %d, worst rel diff %.3g%n", compared,
          check.folds().size(), worst));
    }
    for (FoldDiff f : check.folds()) {
      if (!f.passed()) {
        sb.append(String.format("  FOLD FAILED %s: max abs diff %.3g, max rel diff %.3g%n", f.bn(), f.maxAbsDiff(),
            f.maxRelDiff()));
      } else if (f.note() != null) {
        sb.append("  fold ").append(f.bn()).append(" not compared: ").append(f.note()).append('\n');
      }
    }
    for (Unverified u : check.unverified()) {
      sb.append("  unverified signature '").append(u.signature()).append("': ").append(u.reason()).append('\n');
    }
    for (Sensitivity s : check.sensitivity()) {
      if (s.flagged()) {
        sb.append(String.format("  insensitive output %s/%s: moves by %.2g between probes; the per-fold figures "
            + "decide%n", s.signature(), s.output(), s.relChange()));
      }
    }
    if (!check.nondeterministic().isEmpty()) {
      sb.append("  nondeterministic: ").append(String.join(", ", check.nondeterministic())).append('\n');
    }
    if (check.note() != null) {
      sb.append("  note: ").append(check.note()).append('\n');
    }
  }

  private static void appendFunction(StringBuilder sb, String function) {
    if (function != null) {
      sb.append("  in ").append(function);
    }
  }
}
