package dev.fusedtf.internal.source;

import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.BodyEditor;
import dev.fusedtf.internal.graph.GraphEditor;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.internal.weights.WeightResolver;
import java.util.Set;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code Freezer} turns every variable read on the serving path into a constant holding the variable's
 * current value: a top-level {@code VariableV2} becomes a {@code Const} of the same name; a
 * {@code ReadVariableOp} (top level or inside a function body, its handle traced through the call chain) becomes
 * a {@code Const} of the same name. The result needs no checkpoint: TF Java's exporter, which silently drops
 * resource variables, is never involved.
 */
public final class Freezer {
  private static final Set<String> REF_VARIABLES = Set.of("VariableV2", "Variable");

  private Freezer() {}

  /**
   * @throws ModelLoadException when a variable on the serving path cannot be read
   */
  public static GraphDef freeze(ModelGraph graph, VariableStore variables) {
    return freeze(graph, variables, true).graph();
  }

  /** A frozen graph and how many variable reads became constants. */
  public record Frozen(GraphDef graph, int constants) {}

  /**
   * Freezes what can be frozen; with {@code strict}, a variable that cannot be read is an error, otherwise it stays
   * a variable (of a dtype folding does not handle, say).
   */
  public static Frozen freeze(ModelGraph graph, VariableStore variables, boolean strict) {
    int frozen = 0;
    WeightResolver resolver = new WeightResolver(graph, variables);
    GraphEditor editor = new GraphEditor(graph);
    Set<String> topClosure = graph.topLevelClosure();
    for (Body body : graph.servingBodies()) {
      for (NodeDef n : body.nodes()) {
        boolean topVar = !body.isFunction() && REF_VARIABLES.contains(n.getOp()) && topClosure.contains(n.getName());
        boolean read = n.getOp().equals("ReadVariableOp") && (body.isFunction() || topClosure.contains(n.getName()));
        if (!topVar && !read) {
          continue;
        }
        TensorRef ref = TensorRef.of(n.getName(), body.isFunction() ? OpOutputs.firstOutputArg(n.getOp()) + ":0" : "");
        WeightResolver.Resolved r = resolver.resolve(body, ref);
        if (!r.known()) {
          if (strict) {
            throw new ModelLoadException("cannot freeze " + n.getOp() + " '" + n.getName() + "' in " + body.label()
                + ": " + r.reason());
          }
          continue; // stays a variable, restored from the checkpoint
        }
        frozen++;
        BodyEditor ed = editor.edit(body);
        NodeDef constant = Nodes.constant(n.getName(), TensorCodec.encode(r.value()), n.getDevice()).toBuilder()
            .addAllInput(Body.controlInputs(n)).build();
        ed.replace(constant);
        if (body.isFunction()) {
          ed.redirectFirstOutput(n.getName(), OpOutputs.firstOutputArg(n.getOp()),
              OpOutputs.firstOutputRef(body, n.getName(), "Const"));
        }
      }
    }
    return new Frozen(editor.changed() ? editor.build() : graph.graphDef(), frozen);
  }
}
