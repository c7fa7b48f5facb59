package dev.fusedtf.report;

/**
 * One BatchNorm or Caffe-style Scale layer removed from the serving path: absorbed into the weights of the linear op
 * before or after it, or (a decomposed BatchNorm with nothing linear to fold into) reduced from its statistics
 * arithmetic to one precomputed multiply-add.
 *
 * @param bn name of the BatchNorm (or Scale) node; the node that replaces it keeps this name
 * @param into the node whose weights absorbed it (the conv or matmul), or the multiply that now carries it
 * @param pattern what was matched, e.g. {@code Conv2D+BiasAdd+FusedBatchNormV3}
 * @param function the function body it sits in, or null at the top level
 * @param rule the rule that folded it
 * @param note extra facts (a shared kernel folded into a copy), or null
 */
public record Fold(String bn, String into, String pattern, String function, String rule, String note) {}
