package dev.fusedtf;

import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.internal.source.GraphModel;
import dev.fusedtf.internal.source.GraphOriginal;
import dev.fusedtf.internal.source.ModelLocation;
import dev.fusedtf.internal.source.OriginalModel;
import dev.fusedtf.internal.source.SavedModelOriginal;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The {@code ModelSource} says where a model is and in which format: a SavedModel directory, a TF1 checkpoint (its
 * {@code .meta} graph and checkpoint prefix) or a frozen GraphDef ({@code .pb} binary or text). A checkpoint or
 * frozen graph has no signatures: name its input and output tensors ({@code Reshape:0}), or leave them empty to use
 * its placeholders and the ends of the graph they feed.
 *
 * <pre>{@code
 * ModelSource ckpt = ModelSource.checkpoint(Path.of("model.ckpt.meta"), null, List.of("x:0"), List.of("y:0"));
 * try (FusedModel model = FusedModel.load(ckpt, FusedModelOptions.builder().pin("is_training", false).build())) {
 *   ...
 * }
 * }</pre>
 */
public final class ModelSource {
  private final ModelLocation location;
  private final Path checkpointPrefix;
  private final List<String> inputs;
  private final List<String> outputs;

  private ModelSource(ModelLocation location, Path checkpointPrefix, List<String> inputs, List<String> outputs) {
    this.location = location;
    this.checkpointPrefix = checkpointPrefix;
    this.inputs = inputs == null ? List.of() : List.copyOf(inputs);
    this.outputs = outputs == null ? List.of() : List.copyOf(outputs);
  }

  /** A SavedModel directory (loaded with the options' tags). */
  public static ModelSource savedModel(Path dir) {
    Objects.requireNonNull(dir, "dir");
    return new ModelSource(new ModelLocation(ModelLocation.Kind.SAVED_MODEL, dir), null, List.of(), List.of());
  }

  /**
   * A TF1 checkpoint: its meta graph file and the checkpoint prefix (null: the meta path without {@code .meta}).
   *
   * @param inputs input tensor names, or empty for the graph's placeholders
   * @param outputs output tensor names, or empty to guess them
   */
  public static ModelSource checkpoint(Path metaFile, Path prefix, List<String> inputs, List<String> outputs) {
    Objects.requireNonNull(metaFile, "metaFile");
    return new ModelSource(new ModelLocation(ModelLocation.Kind.CHECKPOINT, metaFile), prefix, inputs, outputs);
  }

  /** A frozen GraphDef file, binary or text. */
  public static ModelSource frozenGraph(Path file, List<String> inputs, List<String> outputs) {
    Objects.requireNonNull(file, "file");
    return new ModelSource(new ModelLocation(ModelLocation.Kind.FROZEN_GRAPH, file), null, inputs, outputs);
  }

  /**
   * Whatever is at {@code path}: a SavedModel directory, a {@code .meta} file, a {@code .pb}/{@code .pbtxt} file, or a
   * directory holding exactly one of the last two.
   *
   * @throws ModelLoadException when nothing there is a model, or a directory is ambiguous
   */
  public static ModelSource detect(Path path, Path checkpointPrefix, List<String> inputs, List<String> outputs) {
    Objects.requireNonNull(path, "path");
    return new ModelSource(ModelLocation.of(path), checkpointPrefix, inputs, outputs);
  }

  /** The model's path. */
  public Path path() {
    return location.path();
  }

  /** {@code saved-model}, {@code checkpoint} or {@code frozen-graph}. */
  public String format() {
    return switch (location.kind()) {
      case SAVED_MODEL -> "saved-model";
      case CHECKPOINT -> "checkpoint";
      case FROZEN_GRAPH -> "frozen-graph";
    };
  }

  /** Whether it is a SavedModel directory. */
  public boolean isSavedModel() {
    return location.kind() == ModelLocation.Kind.SAVED_MODEL;
  }

  /** Loads the original model. */
  OriginalModel open(FusedModelOptions options) {
    return switch (location.kind()) {
      case SAVED_MODEL -> SavedModelOriginal.open(location.path(), options.tags(), options.config(),
          options.runOptions(), options.verifyFingerprint());
      case CHECKPOINT, FROZEN_GRAPH -> {
        GraphModel g = location.open(checkpointPrefix, inputs, outputs);
        yield GraphOriginal.open(g, options.config());
      }
    };
  }

  @Override
  public String toString() {
    return format() + ":" + location.path();
  }
}
