package dev.fusedtf.spring;

import dev.fusedtf.FusedModel;
import java.util.OptionalLong;

/**
 * The {@code ModelLease} is a model borrowed from the {@link FusedModelRegistry} for one or more requests: while it is
 * open the model stays open, even across a hot reload or application shutdown. Close it when done, best with
 * try-with-resources; closing twice is harmless. Not for sharing between threads.
 *
 * <pre>{@code
 * try (ModelLease lease = registry.lease("kws");
 *      Prediction p = lease.model().predictInputs(Map.of("x", Input.of(data, 1, 49, 10, 1)))) {
 *   float[] scores = p.floats("y");
 * }
 * }</pre>
 */
public interface ModelLease extends AutoCloseable {
  /** The name of the model in {@code fusedtf.models}. */
  String name();

  /** The model; do not close it, and do not use it after {@link #close()}. */
  FusedModel model();

  /** The version being served, for a model loaded with {@code reload}; empty for one loaded with {@code path}. */
  OptionalLong version();

  /** Gives the model back; the last lease out of a replaced or shut-down model closes it. */
  @Override
  void close();
}
