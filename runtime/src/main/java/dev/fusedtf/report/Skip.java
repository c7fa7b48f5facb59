package dev.fusedtf.report;

/**
 * One BatchNorm (or BatchNorm-like chain) found on the serving path and left alone.
 *
 * @param bn name of the node
 * @param reason why, in words naming the nodes involved
 * @param code the stable code of the reason
 * @param function the function body it sits in, or null at the top level
 * @param rule the rule that looked at it last
 */
public record Skip(String bn, String reason, SkipCode code, String function, String rule) {}
