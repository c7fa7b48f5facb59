package dev.fusedtf.report;

/**
 * A signature the check could not compare.
 *
 * @param signature the signature key
 * @param reason why
 */
public record Unverified(String signature, String reason) {}
