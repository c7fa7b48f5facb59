package dev.fusedtf.internal.source;

import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.report.Hint;
import java.nio.file.Path;
import java.util.List;
import org.tensorflow.proto.ConfigProto;

/**
 * A TF1 checkpoint or frozen GraphDef ({@link GraphModel}): its graph, frozen into constants and pruned to the named
 * outputs, loaded in memory with a {@code serving_default} signature over the named inputs and outputs.
 */
public final class GraphOriginal implements OriginalModel {
  private final GraphModel model;
  private LoadedGraph loaded;

  private GraphOriginal(GraphModel model, LoadedGraph loaded) {
    this.model = model;
    this.loaded = loaded;
  }

  /** Loads {@code model}. @throws ModelLoadException when the graph cannot be loaded */
  public static GraphOriginal open(GraphModel model, ConfigProto config) {
    try {
      return new GraphOriginal(model, SessionBuilder.build(model.toMetaGraph(model.graphDef()), config, null, null));
    } catch (RuntimeException e) {
      throw new ModelLoadException("cannot load the graph of " + model.source() + ": " + e.getMessage(), e);
    }
  }

  /** The graph as read. */
  public GraphModel model() {
    return model;
  }

  @Override
  public String name() {
    return model.source();
  }

  @Override
  public String format() {
    return model.format();
  }

  @Override
  public LoadedGraph loaded() {
    return loaded;
  }

  @Override
  public VariableStore variables() {
    return VariableStore.none(); // frozen: every weight is a constant
  }

  @Override
  public Path variablesPrefix() {
    return null;
  }

  @Override
  public Path directory() {
    return null;
  }

  @Override
  public List<Hint> hints() {
    return model.hints();
  }

  @Override
  public LoadedGraph takeForServing() {
    LoadedGraph l = loaded;
    loaded = null;
    return l;
  }

  @Override
  public void close() {
    if (loaded != null) {
      loaded.close();
      loaded = null;
    }
  }
}
