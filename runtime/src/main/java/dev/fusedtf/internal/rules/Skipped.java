package dev.fusedtf.internal.rules;

import dev.fusedtf.report.SkipCode;

/**
 * A BatchNorm (or BatchNorm-like chain) a rule looked at and cannot fold.
 *
 * @param node the BatchNorm's node name
 * @param code the stable reason code
 * @param reason the reason in words, naming the nodes involved
 */
public record Skipped(String node, SkipCode code, String reason) implements Match {}
