package dev.fusedtf.report;

/** Which graph a loaded model serves. */
public enum Served {
  /** The rewritten graph, checked against the original. */
  FUSED("fused"),
  /** The original graph: nothing to rewrite, or the rewritten graph was not accepted (see the fallback reason). */
  ORIGINAL("original"),
  /**
   * The rewritten graph although part of it could not be checked (a signature that could not be probed, or an
   * original that cannot run on this machine): only when an option allows it, and the report says why.
   */
  FUSED_UNVERIFIED("fused-unverified");

  private final String label;

  Served(String label) {
    this.label = label;
  }

  /** The label used in JSON and text reports. */
  public String label() {
    return label;
  }

  /** Whether a rewritten graph is served. */
  public boolean isRewritten() {
    return this != ORIGINAL;
  }

  /** The value with this label. @throws IllegalArgumentException for an unknown label */
  public static Served ofLabel(String label) {
    for (Served s : values()) {
      if (s.label.equals(label)) {
        return s;
      }
    }
    throw new IllegalArgumentException("unknown served value '" + label + "'");
  }

  @Override
  public String toString() {
    return label;
  }
}
