package dev.fusedtf.internal.rules;

import java.util.List;

/**
 * The rules, in the one order they run: layout first (so BatchNorms see channels-last convs), then control flow on
 * constant predicates (so BatchNorms see their moving statistics and the conv that feeds them), dropouts that keep
 * everything and arithmetic that changes nothing, then the folds
 * into the linear op before, then into the one after, and last the precompute of what could fold nowhere.
 */
public final class Rules {
  private Rules() {}

  /** The default rules, in order. */
  public static List<Rule> defaults() {
    return List.of(
        new RewriteNchwToNhwc(),
        new ResolveConstantSwitch(),
        new ResolveConstantIf(),
        new ResolveConstantSelect(),
        new RemoveIdleDropout(),
        new RemoveNeutralArithmetic(),
        new FoldBatchNormIntoLinear(),
        new FoldAffineIntoLinear(),
        new FoldBatchNormForward(),
        new PrecomputeBatchNormStatistics());
  }

  /** Names of the default rules, in order. */
  public static List<String> names() {
    return defaults().stream().map(Rule::name).toList();
  }

  /** The pipeline of the default rules minus {@code disabled}. */
  public static Pipeline pipeline(List<String> disabled) {
    return new Pipeline(defaults(), disabled);
  }
}
