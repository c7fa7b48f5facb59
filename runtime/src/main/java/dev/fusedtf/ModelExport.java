package dev.fusedtf;

import dev.fusedtf.formats.Freezer;
import dev.fusedtf.formats.ModelWriter;
import dev.fusedtf.formats.Pruner;
import dev.fusedtf.formats.ServingRoots;
import dev.fusedtf.graph.Body;
import dev.fusedtf.graph.ModelGraph;
import dev.fusedtf.weights.SessionVariableStore;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.CollectionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;

/**
 * The {@code ModelExport} writes the model a {@link FusedModel} serves as a self-contained SavedModel: every
 * variable the signatures read is frozen into a constant (TF Java's own exporter silently drops resource
 * variables), the graph is pruned to what the signatures and init ops need (optimizer slots, training
 * functions, save/restore ops go), and the signatures keep their names and tensors. Plain
 * {@code SavedModelBundle.load} loads the result; no variables folder is needed.
 */
public final class ModelExport {

  private ModelExport() {}

  /**
   * Writes {@code model} to {@code out}.
   *
   * @param force replace an existing output
   * @throws FusedTfException if a variable cannot be read or the output cannot be written
   */
  public static void savedModel(FusedModel model, Path out, boolean force) {
    MetaGraphDef meta = model.metaGraphDef();
    Set<String> roots = ServingRoots.of(meta, false);
    MetaGraphDef.Builder b = meta.toBuilder().clearSaverDef().clearObjectGraphDef().clearCollectionDef();
    for (String c : ServingRoots.INIT_COLLECTIONS) {
      CollectionDef def = meta.getCollectionDefMap().get(c);
      if (def != null) {
        b.putCollectionDef(c, def);
      }
    }
    GraphDef graph = meta.getGraphDef();
    ModelGraph g = new ModelGraph(graph, roots);
    SessionVariableStore vars = new SessionVariableStore(model.session(), model.graph(),
        Body.topLevel(graph.getNodeList()));
    vars.prefetchServing(g);
    GraphDef frozen = Freezer.freeze(g, vars);
    GraphDef pruned = Pruner.prune(frozen, roots);
    b.setGraphDef(pruned);
    Path source = Path.of(model.name());
    ModelWriter.writeSavedModel(out, b.build(), source, force);
  }
}
