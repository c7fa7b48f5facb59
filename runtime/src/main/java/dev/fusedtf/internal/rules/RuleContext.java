package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.weights.ConstantEvaluator;
import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.internal.weights.WeightResolver;
import java.util.List;
import org.tensorflow.proto.NodeDef;

/**
 * What a rule may read: the graph as it is now (immutable), weight values, a constant evaluator, an analysis of
 * BatchNorm statistics, and whether layout rewrites are allowed on this device.
 */
public final class RuleContext {
  private final ModelGraph graph;
  private final WeightResolver weights;
  private final ConstantEvaluator eval;
  private final SideAnalysis sides;
  private final boolean cpu;

  /** A context over {@code graph} whose variables come from {@code variables}. */
  public RuleContext(ModelGraph graph, VariableStore variables, boolean cpu) {
    this.graph = graph;
    this.weights = new WeightResolver(graph, variables);
    this.eval = new ConstantEvaluator(weights);
    this.sides = new SideAnalysis(graph, eval);
    this.cpu = cpu;
  }

  /** The graph. */
  public ModelGraph graph() {
    return graph;
  }

  /** Weight values. */
  public WeightResolver weights() {
    return weights;
  }

  /** Constant expressions. */
  public ConstantEvaluator eval() {
    return eval;
  }

  /** Where a non-data operand comes from (statistics, a training switch). */
  public SideAnalysis sides() {
    return sides;
  }

  /** Whether the session runs on CPU (layout rewrites are for CPU only). */
  public boolean cpu() {
    return cpu;
  }

  /** Whether node {@code name} of {@code body} runs when the signatures run. */
  public boolean isLive(Body body, String name) {
    return graph.isLive(body, name);
  }

  /** Whether a signature fetches or feeds node {@code name} of {@code body}. */
  public boolean isProtected(Body body, String name) {
    return graph.isProtected(body, name);
  }

  /** Data uses of {@code name} by readers that run. */
  public List<Body.Use> liveUses(Body body, String name) {
    return graph.liveDataUses(body, name);
  }

  /** The only live reader of {@code node}'s data, or null when there are none, several, or a function return. */
  public NodeDef soleReader(Body body, NodeDef node) {
    List<Body.Use> uses = liveUses(body, node.getName());
    return uses.size() == 1 ? uses.get(0).consumer() : null;
  }
}
