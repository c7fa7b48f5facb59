package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import java.util.Set;
import org.tensorflow.proto.NodeDef;

/**
 * A {@code Rule} is one rewrite: it names the op types it looks at, and for a node of such a type answers, without
 * changing anything, with a {@link Match}: a {@link Plan} (whose edit the {@link Pipeline} applies and records), a
 * {@link Skipped} (a BatchNorm it cannot fold, with the code and the reason) or {@link Match#none()}.
 *
 * <p>A rule never sees an editor: the only code that edits a graph is a plan's edit, and the pipeline records every
 * plan it applies, so a rule cannot change the graph without saying what it did.
 */
public interface Rule {
  /** A stable name, used to disable the rule and in reports. */
  String name();

  /** The op types {@link #match} is called for. */
  Set<String> targetOps();

  /**
   * Looks at {@code node} (of one of the {@link #targetOps()}) in {@code body}. Read-only.
   *
   * @param ctx the graph being rewritten, its weights and the settings
   */
  Match match(RuleContext ctx, Body body, NodeDef node);
}
