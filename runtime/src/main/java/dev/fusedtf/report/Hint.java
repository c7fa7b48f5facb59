package dev.fusedtf.report;

/**
 * Advice for the user: a placeholder that selects BatchNorm statistics or feeds a dropout, with the pin that would
 * let the BatchNorms fold, or a likely output of a graph without signatures.
 *
 * @param node the node the hint is about
 * @param kind {@code training-flag}, {@code keep-prob}, {@code dropout-rate} or {@code output}
 * @param suggestion what to pass, e.g. {@code --set is_training:0=false}
 * @param reason why, in words
 */
public record Hint(String node, String kind, String suggestion, String reason) {}
