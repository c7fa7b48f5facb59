package dev.fusedtf.fold;

import java.util.List;
import org.tensorflow.proto.GraphDef;

/**
 * What one run of a pass produced: the rewritten graph (null when nothing changed), what it folded, what it
 * skipped with reasons, and other rewrites it made that fold no BatchNorm (a layout change).
 */
public record PassResult(GraphDef graph, List<Fold> folds, List<Skip> skips, List<Fold> rewrites) {
  /** A result with no other rewrites. */
  public PassResult(GraphDef graph, List<Fold> folds, List<Skip> skips) {
    this(graph, folds, skips, List.of());
  }

  /** Whether the pass changed the graph. */
  public boolean changed() {
    return graph != null;
  }
}
