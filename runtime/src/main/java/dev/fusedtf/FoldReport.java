package dev.fusedtf;

import com.google.gson.Gson;
import dev.fusedtf.check.CheckResult;
import dev.fusedtf.fold.Fold;
import dev.fusedtf.fold.Skip;
import dev.fusedtf.measure.Speedup;
import dev.fusedtf.measure.WarmupResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code FoldReport} tells what loading a model did: every BatchNorm found, folded (into which node, by
 * which pattern, in which function) or skipped (with the reason); node counts on the serving path before and
 * after; the check's figures; which graph is served and why.
 *
 * <p>{@link #toJson()} is a stable contract: the fields {@code folds}, {@code skipped}, {@code nodesBefore},
 * {@code nodesAfter} and {@code check} keep their names and meaning.
 *
 * @param model the model's path or name
 * @param served {@code "fused"} or {@code "original"}
 * @param folds what was folded
 * @param skipped what was left alone, with reasons
 * @param nodesBefore nodes on the serving path (top level + reachable function bodies) before folding
 * @param nodesAfter the same after folding
 * @param check the equivalence check, or null when it was not run (inspect)
 * @param fallbackReason why the original is served although folds were found, or null
 * @param timingsMs load-phase durations in milliseconds ({@code load}, {@code fold}, {@code check}, ...)
 * @param rewrites other rewrites that fold no BatchNorm (an NCHW chain turned NHWC)
 * @param warmup what warm-up at load did, or null when none ran
 * @param speedup the original and the fused model timed at load, or null when not measured
 */
public record FoldReport(String model, String served, List<Fold> folds, List<Skip> skipped, int nodesBefore,
    int nodesAfter, CheckResult check, String fallbackReason, Map<String, Long> timingsMs, List<Fold> rewrites,
    WarmupResult warmup, Speedup speedup) {

  private static final Gson GSON = ReportJson.builder().create();

  /** Canonical constructor: copies the lists. */
  public FoldReport {
    folds = List.copyOf(folds);
    skipped = List.copyOf(skipped);
    timingsMs = timingsMs == null ? Map.of() : new LinkedHashMap<>(timingsMs);
    rewrites = rewrites == null ? List.of() : List.copyOf(rewrites);
  }

  /** A report with no warm-up or speed figures (yet). */
  public FoldReport(String model, String served, List<Fold> folds, List<Skip> skipped, int nodesBefore,
      int nodesAfter, CheckResult check, String fallbackReason, Map<String, Long> timingsMs, List<Fold> rewrites) {
    this(model, served, folds, skipped, nodesBefore, nodesAfter, check, fallbackReason, timingsMs, rewrites, null,
        null);
  }

  /** Whether the fused graph is the one served. */
  public boolean isFusedServed() {
    return "fused".equals(served);
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
    sb.append("model: ").append(model).append('\n');
    sb.append("folded: ").append(folds.size()).append(", skipped: ").append(skipped.size())
        .append(", nodes on serving path: ").append(nodesBefore).append(" -> ").append(nodesAfter).append('\n');
    for (Fold f : folds) {
      sb.append("  fold  ").append(f.bn()).append("  into ").append(f.into()).append("  [").append(f.pattern())
          .append(']');
      if (f.function() != null) {
        sb.append("  in ").append(f.function());
      }
      if (f.note() != null) {
        sb.append("  (").append(f.note()).append(')');
      }
      sb.append('\n');
    }
    for (Fold f : rewrites) {
      sb.append("  rewrite  ").append(f.pattern()).append(" from ").append(f.bn());
      if (f.function() != null) {
        sb.append("  in ").append(f.function());
      }
      sb.append('\n');
    }
    for (Skip s : skipped) {
      sb.append("  skip  ").append(s.bn()).append(": ").append(s.reason());
      if (s.function() != null) {
        sb.append("  in ").append(s.function());
      }
      sb.append('\n');
    }
    if (check != null) {
      sb.append(String.format("check: %s  max abs diff %.3g, max rel diff %.3g (tolerance %.1g abs / %.1g rel)%n",
          check.passed() ? "PASSED" : "FAILED", check.maxAbsDiff(), check.maxRelDiff(), check.absTolerance(),
          check.relTolerance()));
      if (check.note() != null) {
        sb.append("  note: ").append(check.note()).append('\n');
      }
    }
    if (speedup != null) {
      sb.append(String.format("speed at load (%s, batch %d, A/B interleaved): original %.3f ms, fused %.3f ms "
          + "(median), ratio %.2f%n", speedup.signature(), speedup.batch(), speedup.original().medianMs(),
          speedup.fused().medianMs(), speedup.ratio()));
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
}
