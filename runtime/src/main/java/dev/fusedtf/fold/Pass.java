package dev.fusedtf.fold;

import dev.fusedtf.graph.ModelGraph;
import dev.fusedtf.weights.WeightResolver;

/**
 * A {@code Pass} is one graph rewrite: find a pattern, check that folding it is safe, rewrite, report. A pass
 * is a pure function of its input: it never mutates the {@link ModelGraph} it is given.
 */
public interface Pass {
  /** A stable name, used to disable the pass and in reports. */
  String name();

  /**
   * Runs the pass once over every body on the serving path.
   *
   * @param graph the graph to rewrite (not modified)
   * @param weights resolves weight values in {@code graph}
   */
  PassResult run(ModelGraph graph, WeightResolver weights);
}
