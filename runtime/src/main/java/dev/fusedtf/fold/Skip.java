package dev.fusedtf.fold;

/**
 * One BatchNorm (or BatchNorm-like chain) found and left alone.
 *
 * @param bn name of the node
 * @param reason why it was not folded, in words naming the nodes involved
 * @param function the function body it sits in, or null at the top level
 * @param pass the pass that looked at it
 */
public record Skip(String bn, String reason, String function, String pass) {}
