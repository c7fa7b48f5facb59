package dev.fusedtf.fold;

/**
 * One BatchNorm (or affine chain) folded away.
 *
 * @param bn name of the BatchNorm node (the node that replaces it keeps this name)
 * @param into name of the node whose weights absorbed it (the conv / matmul)
 * @param pattern the matched pattern, e.g. {@code Conv2D+BiasAdd+FusedBatchNormV3}
 * @param function the function body it sits in, or null at the top level
 * @param pass the pass that folded it
 * @param note extra facts (for example a shared kernel folded into a copy), or null
 */
public record Fold(String bn, String into, String pattern, String function, String pass, String note) {}
