package dev.fusedtf.internal.source;

import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.weights.SessionVariableStore;
import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.report.Hint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.RunOptions;

/** A SavedModel directory loaded with {@code SavedModelBundle}, as plain TensorFlow Java would load it. */
public final class SavedModelOriginal implements OriginalModel {
  private final Path dir;
  private final String[] tags;
  private final ConfigProto config;
  private final RunOptions runOptions;
  private SavedModelBundle bundle;
  private final LoadedGraph loaded;
  private final SessionVariableStore variables;

  private SavedModelOriginal(Path dir, String[] tags, ConfigProto config, RunOptions runOptions,
      boolean verifyFingerprint) {
    this.dir = dir;
    if (verifyFingerprint) {
      FingerprintCheck.verify(dir);
    }
    this.tags = tags.clone();
    this.config = config;
    this.runOptions = runOptions;
    this.bundle = load(dir, tags, config, runOptions);
    try {
      SignatureTensors.validate(bundle.metaGraphDef(), bundle.graph(), dir.toString());
    } catch (RuntimeException e) {
      bundle.close();
      throw e;
    }
    SavedModelBundle b = bundle;
    this.loaded = new LoadedGraph(b.graph(), b.session(), b.metaGraphDef(),
        b.signatures(), b::close);
    this.variables = new SessionVariableStore(b.session(), b.graph(), Body.topLevel(b.metaGraphDef().getGraphDef()
        .getNodeList()));
  }

  /**
   * Loads the SavedModel in {@code dir}.
   *
   * @throws ModelLoadException naming what is missing or broken
   */
  public static SavedModelOriginal open(Path dir, String[] tags, ConfigProto config, RunOptions runOptions,
      boolean verifyFingerprint) {
    return new SavedModelOriginal(dir, tags, config, runOptions, verifyFingerprint);
  }

  /** Loads the SavedModel as {@code SavedModelBundle.load} would, with clear errors. */
  public static SavedModelBundle load(Path dir, String[] tags, ConfigProto config, RunOptions runOptions) {
    if (!Files.isDirectory(dir)) {
      throw new ModelLoadException("model directory does not exist: " + dir);
    }
    if (!Files.exists(dir.resolve("saved_model.pb")) && !Files.exists(dir.resolve("saved_model.pbtxt"))) {
      throw new ModelLoadException("not a SavedModel (no saved_model.pb or saved_model.pbtxt): " + dir);
    }
    try {
      SavedModelBundle.Loader l = SavedModelBundle.loader(dir.toString()).withTags(tags);
      if (config != null) {
        l = l.withConfigProto(config);
      }
      if (runOptions != null) {
        l = l.withRunOptions(runOptions);
      }
      return l.load();
    } catch (RuntimeException e) {
      throw new ModelLoadException("cannot load SavedModel " + dir + " with tags " + String.join(",", tags) + ": "
          + e.getMessage(), e);
    }
  }

  @Override
  public String name() {
    return dir.toString();
  }

  @Override
  public String format() {
    return "saved-model";
  }

  @Override
  public LoadedGraph loaded() {
    return loaded;
  }

  @Override
  public VariableStore variables() {
    return variables;
  }

  /** The variable store, for prefetching. */
  public SessionVariableStore sessionVariables() {
    return variables;
  }

  @Override
  public Path variablesPrefix() {
    Path p = dir.resolve("variables").resolve("variables");
    return Files.exists(dir.resolve("variables").resolve("variables.index")) ? p.toAbsolutePath() : null;
  }

  @Override
  public Path directory() {
    return dir;
  }

  @Override
  public List<Hint> hints() {
    return List.of();
  }

  @Override
  public LoadedGraph takeForServing() {
    if (bundle == null) {
      throw new IllegalStateException("the original was already taken");
    }
    if (variables.addedOps()) {
      bundle.close(); // its graph gained read ops: serve a fresh, untouched load
      bundle = null;
      SavedModelBundle fresh = load(dir, tags, config, runOptions);
      return new LoadedGraph(fresh.graph(), fresh.session(), fresh.metaGraphDef(),
          fresh.signatures(), fresh::close);
    }
    bundle = null;
    return loaded;
  }

  @Override
  public void close() {
    if (bundle != null) {
      bundle.close();
      bundle = null;
    }
  }
}
