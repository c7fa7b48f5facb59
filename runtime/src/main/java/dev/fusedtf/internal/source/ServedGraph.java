package dev.fusedtf.internal.source;

import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.report.Rewrite;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;

/**
 * Makes a rewritten graph lean for serving: every variable the signatures read becomes a constant, function
 * arguments nothing reads any more (the variable handles a Keras function was passed) go, and the graph is pruned
 * to what the signatures and init ops need. When no variable is left, the saver goes too and the result needs no
 * checkpoint; otherwise the saver stays and the remaining variables are restored at load.
 */
public final class ServedGraph {
  private ServedGraph() {}

  /**
   * The lean MetaGraphDef and what was done.
   *
   * @param meta the MetaGraphDef to serve
   * @param functional the same graph before its function calls were inlined (the per-fold check taps tensors
   *     inside function bodies by their names there); equal to {@code meta} when nothing was inlined
   * @param rewrites the freeze, prune and inline steps taken
   */
  public record Lean(MetaGraphDef meta, MetaGraphDef functional, List<Rewrite> rewrites) {}

  /** {@link #of(MetaGraphDef, VariableStore, boolean)} without inlining (a check reference, not served). */
  public static Lean of(MetaGraphDef meta, VariableStore variables) {
    return of(meta, variables, false);
  }

  /**
   * Makes {@code meta} (whose graph the rules rewrote) lean, reading variables from {@code variables}; with
   * {@code inline}, top-level function calls are also replaced by their bodies ({@link FunctionInliner}).
   */
  public static Lean of(MetaGraphDef meta, VariableStore variables, boolean inline) {
    List<Rewrite> rewrites = new ArrayList<>();
    Set<String> roots = ServingRoots.of(meta, false);
    Freezer.Frozen frozen = Freezer.freeze(new ModelGraph(meta.getGraphDef(), roots), variables, false);
    if (frozen.constants() > 0) {
      rewrites.add(new Rewrite(Rewrite.Kind.FREEZE, List.of(), null, "serving-graph",
          frozen.constants() + " variable reads on the serving path turned into constants"));
    }
    UnusedArguments.Stripped stripped = UnusedArguments.strip(frozen.graph());
    if (stripped.removed() > 0) {
      rewrites.add(new Rewrite(Rewrite.Kind.PRUNE, List.of(), null, "serving-graph", stripped.removed()
          + " function arguments nothing reads any more (variable handles) removed with their inputs"));
    }
    int before = stripped.graph().getNodeCount();
    GraphDef pruned = Pruner.prune(stripped.graph(), roots);
    MetaGraphDef.Builder out = meta.toBuilder().setGraphDef(pruned);
    if (SessionBuilder.hasVariables(pruned)) {
      pruned = Pruner.prune(stripped.graph(), ServingRoots.of(meta, true)); // variables remain: keep their restore
      out.setGraphDef(pruned);
    } else {
      out.clearSaverDef();
      out.clearObjectGraphDef();
    }
    if (pruned.getNodeCount() < before) {
      rewrites.add(new Rewrite(Rewrite.Kind.PRUNE, List.of(), null, "serving-graph", (before - pruned.getNodeCount())
          + " top-level nodes no signature or init op needs removed"));
    }
    MetaGraphDef functional = out.build();
    if (!inline || SessionBuilder.hasVariables(pruned)) {
      return new Lean(functional, functional, rewrites);
    }
    FunctionInliner.Inlined flat = FunctionInliner.inline(pruned);
    if (flat.calls() == 0) {
      return new Lean(functional, functional, rewrites);
    }
    GraphDef flatPruned = Pruner.prune(flat.graph(), roots);
    rewrites.add(new Rewrite(Rewrite.Kind.INLINE, List.of(), null, "serving-graph", flat.calls()
        + " function call(s) on the serving path replaced by their bodies (one flat graph, no function runtime per"
        + " call)"));
    return new Lean(functional.toBuilder().setGraphDef(flatPruned).build(), functional, rewrites);
  }
}
