package dev.fusedtf.fold;

import dev.fusedtf.graph.ModelGraph;
import dev.fusedtf.weights.VariableStore;
import dev.fusedtf.weights.WeightResolver;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.proto.GraphDef;

/**
 * The {@code Pipeline} runs passes in a fixed order, round after round, until a round changes nothing (or a
 * round limit is hit). Any pass can be disabled by name. Folds accumulate over rounds; skips are those of the
 * last round, when nothing more could fold.
 */
public final class Pipeline {
  private static final Logger LOG = LoggerFactory.getLogger(Pipeline.class);
  private static final int MAX_ROUNDS = 8;

  private final List<Pass> passes;

  /**
   * A pipeline of these passes, in this order, minus those named in {@code disabled}.
   *
   * @throws IllegalArgumentException when {@code disabled} names no pass
   */
  public Pipeline(List<Pass> passes, Collection<String> disabled) {
    Set<String> off = Set.copyOf(disabled);
    Set<String> known = new java.util.TreeSet<>();
    passes.forEach(p -> known.add(p.name()));
    for (String name : off) {
      if (!known.contains(name)) {
        throw new IllegalArgumentException("unknown pass '" + name + "'; passes: " + String.join(", ", known));
      }
    }
    List<Pass> on = new ArrayList<>();
    for (Pass p : passes) {
      if (!off.contains(p.name())) {
        on.add(p);
      }
    }
    this.passes = List.copyOf(on);
  }

  /** The default passes, in order. */
  public static List<Pass> defaultPasses() {
    return List.of(new NchwToNhwcPass(), new ResolveTrainingFlagPass(), new FoldBatchNormPass(),
        new FoldAffinePass(), new FoldForwardPass());
  }

  /** Names of the passes that will run. */
  public List<String> passNames() {
    return passes.stream().map(Pass::name).toList();
  }

  /** The outcome of a pipeline run. */
  public record Result(GraphDef graph, boolean changed, List<Fold> folds, List<Skip> skips, int nodesBefore,
      int nodesAfter, int rounds, List<Fold> rewrites) {}

  /**
   * Rewrites {@code input} to a fixed point.
   *
   * @param input the original graph (not modified)
   * @param fetchNodes top-level nodes the signatures fetch
   * @param variables variable values for weight resolution
   */
  public Result run(GraphDef input, Collection<String> fetchNodes, VariableStore variables) {
    return run(input, fetchNodes, Set.of(), variables);
  }

  /**
   * Rewrites {@code input} to a fixed point, knowing which top-level nodes the signatures feed.
   *
   * @param fedNodes top-level nodes the signatures feed (their values are the caller's, never fixed)
   */
  public Result run(GraphDef input, Collection<String> fetchNodes, Collection<String> fedNodes,
      VariableStore variables) {
    ModelGraph graph = new ModelGraph(input, fetchNodes, fedNodes);
    int before = graph.servingNodeCount();
    List<Fold> folds = new ArrayList<>();
    List<Fold> rewrites = new ArrayList<>();
    Map<String, Skip> skips = new LinkedHashMap<>();
    boolean changed = false;
    int round = 0;
    while (round < MAX_ROUNDS) {
      round++;
      boolean roundChanged = false;
      skips.clear();
      for (Pass pass : passes) {
        PassResult r = pass.run(graph, new WeightResolver(graph, variables));
        folds.addAll(r.folds());
        rewrites.addAll(r.rewrites());
        for (Skip s : r.skips()) {
          skips.put(s.function() + "/" + s.bn(), s);
        }
        if (r.changed()) {
          graph = new ModelGraph(r.graph(), fetchNodes, fedNodes);
          roundChanged = true;
          changed = true;
        }
      }
      if (!roundChanged) {
        break;
      }
      if (round == MAX_ROUNDS) {
        LOG.warn("passes {} still changed the graph after {} rounds; stopping there", passNames(), round);
      }
    }
    LOG.debug("pipeline {}: {} folds, {} skips in {} rounds", passNames(), folds.size(), skips.size(), round);
    return new Result(graph.graphDef(), changed, mergeByNode(folds), new ArrayList<>(skips.values()), before,
        graph.servingNodeCount(), round, List.copyOf(rewrites));
  }

  /** One entry per folded node: a node rewritten twice (precomputed, then folded forward) reads "a then b". */
  private static List<Fold> mergeByNode(List<Fold> folds) {
    Map<String, Fold> byNode = new LinkedHashMap<>();
    for (Fold f : folds) {
      String key = f.function() + "/" + f.bn();
      Fold prev = byNode.get(key);
      byNode.put(key, prev == null ? f : new Fold(f.bn(), f.into(), prev.pattern() + " then " + f.pattern(),
          f.function(), prev.pass() + "," + f.pass(), f.note() != null ? f.note() : prev.note()));
    }
    return List.copyOf(byNode.values());
  }
}
