package dev.fusedtf.internal.weights;

/**
 * The {@code WeightOrigin} says where a tensor's value comes from, as traced through the graph: a constant
 * node, a variable (found through Identity/ReadVariableOp and through function arguments up the call chain),
 * or nothing known, with the reason.
 */
public sealed interface WeightOrigin {

  /** A {@code Const} node's value. */
  record Constant(String node, DenseTensor value) implements WeightOrigin {}

  /** A top-level variable node: {@code VarHandleOp} (resource) or {@code VariableV2}. */
  record Variable(String node, boolean resource) implements WeightOrigin {}

  /** The value is not known at fold time. */
  record Unknown(String reason) implements WeightOrigin {}
}
