package dev.fusedtf;

import dev.fusedtf.internal.rules.Rule;

/** Test access to options the public API does not offer: an extra rule (a deliberately broken fold). */
public final class TestOptions {
  private TestOptions() {}

  /** {@code b} with {@code rule} run after the built-in rules. */
  public static FusedModelOptions.Builder withRule(FusedModelOptions.Builder b, Rule rule) {
    return b.extraRule(rule);
  }
}
