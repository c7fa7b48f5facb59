package dev.fusedtf.internal.source;

import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.report.Hint;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code OriginalModel} is a model as read from its source, loaded and runnable: a SavedModel through
 * {@code SavedModelBundle}, or a TF1 checkpoint or frozen graph frozen into constants with a signature over the
 * named inputs and outputs. It gives the fuse step the graph, its variable values and a session to compare with.
 */
public interface OriginalModel extends AutoCloseable {
  /** The model's path, as given. */
  String name();

  /** {@code saved-model}, {@code checkpoint} or {@code frozen-graph}. */
  String format();

  /** The loaded original. */
  LoadedGraph loaded();

  /** Where variable values come from (read without changing the loaded graph where possible). */
  VariableStore variables();

  /** The checkpoint prefix the rebuilt graph restores remaining variables from, or null. */
  Path variablesPrefix();

  /** The SavedModel directory (assets, warm-up records), or null for graphs without one. */
  Path directory();

  /** Advice found while reading (likely outputs of a graph without signatures). */
  List<Hint> hints();

  /**
   * The original as it was loaded, for serving: the same object when reading weights left its graph untouched, or a
   * fresh load when reading added ops to it. The caller owns the result.
   */
  LoadedGraph takeForServing();

  /** Frees what is still owned. */
  @Override
  void close();
}
