package dev.fusedtf.internal.rules;

/** What a {@link Rule} found at a node: a {@link Plan}, a {@link Skipped}, or nothing ({@link #none()}). */
public sealed interface Match permits Plan, Skipped, Match.NoMatch {

  /** Nothing to do and nothing to report. */
  static Match none() {
    return NoMatch.INSTANCE;
  }

  /** The "nothing here" answer. */
  enum NoMatch implements Match { INSTANCE }
}
