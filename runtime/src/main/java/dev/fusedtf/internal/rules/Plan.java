package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.BodyEditor;
import dev.fusedtf.report.Fold;
import dev.fusedtf.report.Rewrite;
import java.util.Set;

/**
 * A {@code Plan} is a matched, checked rewrite: the nodes it reads or changes, what it will be reported as, and the
 * edit. Every guard ran in the rule's {@code match}; the edit cannot fail for a reason a user should see.
 *
 * @param touched every node the edit replaces or removes, or whose current form it relies on; two plans that
 *     touch the same node are never applied in the same pass (the second waits for the next round)
 * @param change the report entry
 * @param edit the edit, applied to the editor of the body the rule matched in
 */
public record Plan(Set<String> touched, Change change, Edit edit) implements Match {
  /** Copies the touched set. */
  public Plan {
    touched = Set.copyOf(touched);
  }

  /** The only code that edits a graph. */
  @FunctionalInterface
  public interface Edit {
    /** Applies the rewrite to {@code editor} (the body the rule matched in). */
    void apply(BodyEditor editor);
  }

  /** What a plan is reported as: a fold (a BatchNorm or Scale removed) or another rewrite. */
  public sealed interface Change permits FoldChange, RewriteChange {}

  /**
   * A BatchNorm or Scale removed.
   *
   * @param fold the report entry
   * @param checkNode the node whose output 0 must be equal in the original and the rewritten graph (it keeps the
   *     BatchNorm's role under its name), for the per-fold check; null when there is none
   */
  public record FoldChange(Fold fold, String checkNode) implements Change {}

  /** Any other change. */
  public record RewriteChange(Rewrite rewrite) implements Change {}
}
