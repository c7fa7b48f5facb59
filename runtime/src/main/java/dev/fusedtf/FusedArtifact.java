package dev.fusedtf;

import dev.fusedtf.errors.FusedTfException;
import dev.fusedtf.internal.fuse.FuseStep;
import dev.fusedtf.internal.source.OriginalModel;
import dev.fusedtf.internal.source.SessionBuilder;
import dev.fusedtf.report.FoldReport;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.proto.MetaGraphDef;

/**
 * The {@code FusedArtifact} is a model fused and checked offline, ready to be written: the graph to serve (the
 * rewritten one when it was accepted, else the original), and the report. It is what {@code ./fusedtf fuse} writes;
 * {@link FusedModel#load} goes through the same steps and serves the result instead.
 *
 * <pre>{@code
 * ModelSource ckpt = ModelSource.checkpoint(Path.of("model.ckpt.meta"), null, List.of("x:0"), List.of("y:0"));
 * FusedArtifact fused = FusedArtifact.fuse(ckpt, FusedModelOptions.builder().pin("is_training", false).build());
 * fused.writeSavedModel(Path.of("fused-model"), false);
 * }</pre>
 */
public final class FusedArtifact {
  private final MetaGraphDef meta;
  private final FoldReport report;
  private final Path sourceDir;
  private final Path variablesPrefix;

  private FusedArtifact(MetaGraphDef meta, FoldReport report, Path sourceDir, Path variablesPrefix) {
    this.meta = meta;
    this.report = report;
    this.sourceDir = sourceDir;
    this.variablesPrefix = variablesPrefix;
  }

  /**
   * Folds and checks. When the rewritten model is not accepted the original is kept (strict mode throws instead),
   * exactly as {@link FusedModel#load} serves it.
   *
   * @throws FusedTfException if the model cannot be read or cannot run, or (strict mode) is not accepted
   */
  public static FusedArtifact fuse(ModelSource source, FusedModelOptions options) {
    Map<String, Long> timings = new LinkedHashMap<>();
    long t = System.nanoTime();
    try (OriginalModel original = source.open(options)) {
      timings.put("load", (System.nanoTime() - t) / 1_000_000);
      FuseStep.Outcome o = FuseStep.run(original, options.settings(), timings);
      MetaGraphDef meta;
      if (o.fused() != null) {
        meta = o.fused().meta();
        o.fused().close();
      } else {
        meta = original.loaded().meta();
      }
      Path prefix = SessionBuilder.hasVariables(meta.getGraphDef()) ? original.variablesPrefix() : null;
      return new FusedArtifact(meta, o.report(), original.directory(), prefix);
    }
  }

  /** What would fold and what would not, and why, without checking: the report's {@code check} is null. */
  public static FoldReport inspect(ModelSource source, FusedModelOptions options) {
    return FusedModel.inspect(source, options);
  }

  /** The report: folds, rewrites, skips, the check, what is written. */
  public FoldReport report() {
    return report;
  }

  /** The MetaGraphDef that would be written. */
  public MetaGraphDef metaGraphDef() {
    return meta;
  }

  /**
   * Writes a SavedModel (tag {@code serve}; a checkpoint or frozen graph gets a {@code serving_default} signature over
   * its inputs and outputs) that plain {@code SavedModelBundle.load} loads.
   *
   * @param force replace an existing output
   */
  public void writeSavedModel(Path dir, boolean force) {
    ModelWriting.savedModel(meta, report.served(), sourceDir, variablesPrefix, dir, force);
  }

  /** Writes a binary frozen GraphDef (weights as constants). */
  public void writeFrozenGraph(Path file, boolean force) {
    ModelWriting.frozenGraph(meta, file, force);
  }
}
