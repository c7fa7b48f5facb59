package dev.fusedtf;

import dev.fusedtf.errors.FusedTfException;
import dev.fusedtf.internal.source.ModelWriter;
import dev.fusedtf.internal.source.SessionBuilder;
import dev.fusedtf.report.Served;
import java.nio.file.Files;
import java.nio.file.Path;
import org.tensorflow.proto.MetaGraphDef;

/** Writes a served or fused model so that plain TensorFlow Java loads it. */
final class ModelWriting {
  private ModelWriting() {}

  /**
   * Writes a SavedModel: the original's files when the original is served, else the rewritten graph (weights as
   * constants) with the variables it still reads and the source's assets.
   */
  static void savedModel(MetaGraphDef meta, Served served, Path sourceDir, Path variablesPrefix, Path out,
      boolean force) {
    if (served == Served.ORIGINAL && sourceDir != null) {
      ModelWriter.copySavedModel(sourceDir, out, force);
      return;
    }
    boolean variables = SessionBuilder.hasVariables(meta.getGraphDef());
    if (variables && variablesPrefix == null) {
      throw new FusedTfException("cannot write " + out + ": the graph still reads variables and there is no "
          + "checkpoint to copy them from");
    }
    Path variablesDir = variables ? variablesPrefix.getParent() : null;
    ModelWriter.writeSavedModel(out, meta, sourceDir, variablesDir, force);
  }

  /** Writes a binary frozen GraphDef; only a graph without variables can be written so. */
  static void frozenGraph(MetaGraphDef meta, Path out, boolean force) {
    if (SessionBuilder.hasVariables(meta.getGraphDef())) {
      throw new FusedTfException("cannot write a frozen graph to " + out + ": the graph still holds variables "
          + "(of a dtype FusedTF does not freeze); write a SavedModel instead");
    }
    if (Files.isDirectory(out)) {
      throw new FusedTfException("cannot write a frozen graph to " + out + ": it is a directory");
    }
    ModelWriter.writeGraphDef(out, meta.getGraphDef(), force);
  }
}
