package dev.fusedtf.internal.source;

import dev.fusedtf.errors.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where a model is and in which format: a SavedModel directory, a TF1 checkpoint (its {@code .meta} file, with
 * the checkpoint prefix beside it), or a frozen GraphDef ({@code .pb} / {@code .pbtxt}). A directory holding
 * exactly one {@code .meta} file, or exactly one GraphDef file and no SavedModel, stands for that file.
 *
 * @param kind the format
 * @param path the SavedModel directory, the {@code .meta} file, or the GraphDef file
 */
public record ModelLocation(Kind kind, Path path) {

  /** The formats FusedTF reads. */
  public enum Kind { SAVED_MODEL, CHECKPOINT, FROZEN_GRAPH }

  /**
   * Finds the model at {@code path}.
   *
   * @throws ModelLoadException when nothing there is a model, or a directory is ambiguous
   */
  public static ModelLocation of(Path path) {
    if (Files.isDirectory(path)) {
      if (Files.exists(path.resolve("saved_model.pb")) || Files.exists(path.resolve("saved_model.pbtxt"))) {
        return new ModelLocation(Kind.SAVED_MODEL, path);
      }
      List<Path> metas = list(path, ".meta");
      if (metas.size() == 1) {
        return new ModelLocation(Kind.CHECKPOINT, metas.get(0));
      }
      List<Path> graphs = list(path, ".pb");
      graphs.addAll(list(path, ".pbtxt"));
      if (metas.isEmpty() && graphs.size() == 1) {
        return new ModelLocation(Kind.FROZEN_GRAPH, graphs.get(0));
      }
      throw new ModelLoadException(path + " holds no SavedModel (saved_model.pb), and " + metas.size()
          + " .meta and " + graphs.size() + " .pb/.pbtxt files: name the file to read");
    }
    if (!Files.exists(path)) {
      throw new ModelLoadException("model does not exist: " + path);
    }
    String name = path.getFileName().toString();
    if (name.endsWith(".meta")) {
      return new ModelLocation(Kind.CHECKPOINT, path);
    }
    if (name.endsWith(".pb") || name.endsWith(".pbtxt")) {
      return new ModelLocation(Kind.FROZEN_GRAPH, path);
    }
    throw new ModelLoadException(path + " is not a SavedModel directory, a checkpoint .meta file or a GraphDef .pb");
  }

  /** The checkpoint prefix of a {@code .meta} file: the path without {@code .meta}. */
  public Path defaultCheckpointPrefix() {
    String name = path.getFileName().toString();
    return path.resolveSibling(name.substring(0, name.length() - ".meta".length()));
  }

  /**
   * Reads a checkpoint or frozen graph as a {@link GraphModel}. With no names given, the inputs are the graph's
   * Placeholders and the outputs the ends of the graph they feed.
   */
  public GraphModel open(Path checkpointPrefix, List<String> inputs, List<String> outputs) {
    return switch (kind) {
      case CHECKPOINT -> GraphModel.fromCheckpoint(path,
          checkpointPrefix != null ? checkpointPrefix : defaultCheckpointPrefix(), inputs, outputs);
      case FROZEN_GRAPH -> GraphModel.fromFrozenGraph(path, inputs, outputs);
      case SAVED_MODEL -> throw new IllegalStateException("a SavedModel is loaded with FusedModel.load");
    };
  }

  private static List<Path> list(Path dir, String suffix) {
    try (Stream<Path> s = Files.list(dir)) {
      return new java.util.ArrayList<>(s.filter(p -> p.getFileName().toString().endsWith(suffix))
          .filter(Files::isRegularFile).sorted().toList());
    } catch (IOException e) {
      throw new ModelLoadException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }
}
