package dev.fusedtf.fold;

import java.util.List;
import org.tensorflow.proto.GraphDef;

/**
 * What one run of a pass produced: the rewritten graph (null when nothing changed), what it folded and
 * what it skipped with reasons.
 */
public record PassResult(GraphDef graph, List<Fold> folds, List<Skip> skips) {
  /** Whether the pass changed the graph. */
  public boolean changed() {
    return graph != null;
  }
}
