package dev.fusedtf.report;

/** Why a BatchNorm (or Scale) was left in the graph: a stable code beside each skip's message. */
public enum SkipCode {
  /** The BatchNorm runs in training mode ({@code is_training} true or absent). */
  TRAINING_MODE,
  /** Its mean and variance are computed from the current batch ({@code tf.nn.moments}), not moving averages. */
  BATCH_STATISTICS,
  /**
   * Its statistics are chosen at run time by a training switch (a {@code tf.cond}/{@code Select} on a placeholder
   * or an input the signatures feed): pin the placeholder to fold it.
   */
  TRAINING_SWITCH,
  /** An activation, pooling or other non-linear op sits between the linear op and the BatchNorm. */
  ACTIVATION_BETWEEN,
  /** Nothing linear (conv, depthwise, matmul) produces its input, and no conv reads its output exactly. */
  NO_LINEAR_OP,
  /** A tensor the fold would change is read by another node as well. */
  MULTI_CONSUMER,
  /** The weights are shared with something the fold cannot copy them for (a function bound to different values). */
  SHARED_WEIGHTS,
  /** A node the fold would remove or change is fetched or fed directly by a signature. */
  FETCHED,
  /** A weight or statistic is not a constant or a readable variable. */
  NOT_CONSTANT,
  /** Folding forward through a convolution with zero padding would not be exact. */
  PADDING,
  /** The data formats (channels first or last) of the ops involved disagree. */
  LAYOUT_MISMATCH,
  /** Channel counts or broadcast shapes do not match. */
  SHAPE_MISMATCH,
  /** A dtype the fold does not handle. */
  UNSUPPORTED_DTYPE,
  /** An output other than the normalised tensor (batch mean, variance, reserve space) is read. */
  OUTPUT_READ,
  /** Anything else; the message says what. */
  UNSUPPORTED
}
