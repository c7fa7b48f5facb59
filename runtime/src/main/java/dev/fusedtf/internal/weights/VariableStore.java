package dev.fusedtf.internal.weights;

import java.util.Optional;

/** Where variable values come from at fold time: a loaded session, a checkpoint, or a test's map. */
public interface VariableStore {
  /**
   * The current value of the top-level variable node {@code name}.
   *
   * @param resource true for a resource variable ({@code VarHandleOp}), false for a ref variable
   *     ({@code VariableV2}/{@code Variable})
   * @return the value, or empty when it cannot be read (uninitialised, unsupported dtype)
   */
  Optional<DenseTensor> read(String name, boolean resource);

  /** A store that knows no variables (for frozen graphs). */
  static VariableStore none() {
    return (name, resource) -> Optional.empty();
  }
}
