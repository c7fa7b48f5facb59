package dev.fusedtf.report;

import java.util.List;

/**
 * One change to the graph that removes no BatchNorm: a bias {@code Add} turned into the linear op's bias, a layout
 * change, a resolved training switch, a pinned placeholder, a dropout removed, constants precomputed, pruning.
 *
 * @param kind what kind of change
 * @param nodes the nodes it changed (the first one names it)
 * @param function the function body, or null at the top level
 * @param rule the rule or step that made it
 * @param detail what was done, in words
 */
public record Rewrite(Kind kind, List<String> nodes, String function, String rule, String detail) {
  /** Copies the node list. */
  public Rewrite {
    nodes = List.copyOf(nodes);
  }

  /** The kinds of rewrite. */
  public enum Kind {
    /** A placeholder pinned to a constant. */
    PIN,
    /** A {@code Switch}/{@code Merge}, {@code If} or {@code Select} on a constant predicate resolved to one branch. */
    CONTROL_FLOW,
    /** A dropout that keeps everything (keep_prob 1, rate 0) removed exactly. */
    DROPOUT,
    /** A bias added with {@code Add}/{@code AddV2}/{@code Sub} after a linear op, folded into its bias. */
    BIAS_INTO_LINEAR,
    /** A constant multiply (no BatchNorm, no per-channel Scale) folded into a linear op's weights. */
    CONSTANT_INTO_LINEAR,
    /** A channels-first chain rewritten channels-last. */
    LAYOUT,
    /** Variables the serving path reads turned into constants. */
    FREEZE,
    /** Nodes, function arguments or functions nothing served needs, removed. */
    PRUNE,
    /** Function calls on the serving path replaced by the bodies they call. */
    INLINE
  }
}
