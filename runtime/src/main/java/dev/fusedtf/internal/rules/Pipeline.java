package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.GraphEditor;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.report.Fold;
import dev.fusedtf.report.Rewrite;
import dev.fusedtf.report.Skip;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code Pipeline} runs rules in a fixed order, round after round, until a round applies no plan. In a round
 * each rule looks at every live node of its target op types in every serving body of the graph as it is after
 * the rules before it; plans that touch disjoint nodes are applied together, and one that overlaps a plan already
 * applied waits for the next round. Every applied plan is recorded; skips are those of the last round, when
 * nothing more could change.
 */
public final class Pipeline {
  private static final Logger LOG = LoggerFactory.getLogger(Pipeline.class);
  private static final int MAX_ROUNDS = 8;

  private final List<Rule> rules;

  /**
   * A pipeline of these rules, in this order, minus those named in {@code disabled}.
   *
   * @throws IllegalArgumentException when {@code disabled} names no rule
   */
  public Pipeline(List<Rule> rules, Collection<String> disabled) {
    Set<String> known = new TreeSet<>();
    rules.forEach(r -> known.add(r.name()));
    for (String name : disabled) {
      if (!known.contains(name)) {
        throw new IllegalArgumentException("unknown rule '" + name + "'; rules: " + String.join(", ", known));
      }
    }
    this.rules = rules.stream().filter(r -> !disabled.contains(r.name())).toList();
  }

  /** Names of the rules that will run, in order. */
  public List<String> ruleNames() {
    return rules.stream().map(Rule::name).toList();
  }

  /**
   * The outcome of a run.
   *
   * @param graph the rewritten graph (the input when nothing changed)
   * @param folds BatchNorms and Scales removed, with the node each one's check compares
   * @param rewrites the other changes
   * @param skips BatchNorms left alone (last round)
   * @param nodesBefore serving-path nodes before
   * @param nodesAfter serving-path nodes after
   * @param rounds rounds run (the last applied nothing, unless the limit was hit)
   */
  public record Result(GraphDef graph, List<Plan.FoldChange> folds, List<Rewrite> rewrites, List<Skip> skips,
      int nodesBefore, int nodesAfter, int rounds) {
    /** Whether any rule changed the graph. */
    public boolean changed() {
      return !folds.isEmpty() || !rewrites.isEmpty();
    }

    /** The folds as report entries. */
    public List<Fold> foldEntries() {
      return folds.stream().map(Plan.FoldChange::fold).toList();
    }
  }

  /**
   * Rewrites {@code input} to a fixed point. The input is not modified.
   *
   * @param fetchNodes top-level nodes the signatures fetch (they decide what is on the serving path, and stay)
   * @param fedNodes top-level nodes the signatures feed (their values are the caller's, never fixed)
   * @param variables variable values for weight resolution
   * @param cpu whether the model will run on CPU (layout rules apply only there)
   */
  public Result run(GraphDef input, Collection<String> fetchNodes, Collection<String> fedNodes, VariableStore variables,
      boolean cpu) {
    ModelGraph graph = new ModelGraph(input, fetchNodes, fedNodes);
    int before = graph.servingNodeCount();
    List<Plan.FoldChange> folds = new ArrayList<>();
    List<Rewrite> rewrites = new ArrayList<>();
    Map<String, Skip> skips = new LinkedHashMap<>();
    int round = 0;
    boolean settled = false;
    while (round < MAX_ROUNDS && !settled) {
      round++;
      skips.clear();
      boolean roundChanged = false;
      for (Rule rule : rules) {
        RuleContext ctx = new RuleContext(graph, variables, cpu);
        GraphEditor editor = new GraphEditor(graph);
        for (Body body : graph.servingBodies()) {
          Set<String> taken = new HashSet<>();
          for (NodeDef n : body.nodes()) {
            if (!rule.targetOps().contains(n.getOp()) || !graph.isLive(body, n.getName())) {
              continue;
            }
            Match m = rule.match(ctx, body, n);
            if (m instanceof Skipped s) {
              record(skips, body, rule, s);
            } else if (m instanceof Plan p) {
              if (p.touched().stream().anyMatch(taken::contains)) {
                roundChanged = true; // overlaps a plan applied in this pass: the next round looks again
                continue;
              }
              taken.addAll(p.touched());
              p.edit().apply(editor.edit(body));
              if (p.change() instanceof Plan.FoldChange f) {
                folds.add(f);
              } else if (p.change() instanceof Plan.RewriteChange r) {
                rewrites.add(r.rewrite());
              }
              skips.remove(key(body, n.getName()));
              roundChanged = true;
            }
          }
        }
        if (editor.changed()) {
          graph = new ModelGraph(editor.build(), fetchNodes, fedNodes);
        }
      }
      settled = !roundChanged;
    }
    if (!settled) {
      LOG.warn("rules {} still changed the graph after {} rounds; stopping there", ruleNames(), round);
    }
    LOG.debug("rules {}: {} folds, {} rewrites, {} skips in {} rounds", ruleNames(), folds.size(), rewrites.size(),
        skips.size(), round);
    return new Result(graph.graphDef(), List.copyOf(folds), List.copyOf(rewrites), new ArrayList<>(skips.values()),
        before, graph.servingNodeCount(), round);
  }

  private static String key(Body body, String node) {
    return body.label() + "/" + node;
  }

  /** A later rule's skip of the same node says why it finally stayed; the earlier reason is kept in front. */
  private static void record(Map<String, Skip> skips, Body body, Rule rule, Skipped s) {
    String k = key(body, s.node());
    Skip prev = skips.get(k);
    String reason = prev == null || prev.reason().equals(s.reason()) ? s.reason() : prev.reason() + "; " + s.reason();
    skips.put(k, new Skip(s.node(), reason, s.code(), body.functionName(), rule.name()));
  }
}
