package dev.fusedtf.examples;

import dev.fusedtf.FusedArtifact;
import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.ModelSource;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code CheckpointToSavedModelExample} answers the question this project started from: "surgery of my
 * pre-trained ckpt and meta file for merging the BN layer into the previous conv layer". It reads a TF1
 * checkpoint + meta graph, folds every BatchNorm, checks the result, writes a SavedModel, and serves it.
 */
public final class CheckpointToSavedModelExample {
  private CheckpointToSavedModelExample() {}

  /** What the conversion did. */
  public record Converted(int folds, double maxRelDiff, Path savedModel, String servedFrom) {}

  /**
   * @param meta the {@code model.ckpt.meta} file
   * @param prefix the checkpoint prefix ({@code model.ckpt})
   * @param input the tensor to feed, e.g. {@code Reshape:0}
   * @param output the tensor to fetch, e.g. {@code conv2d_16/BiasAdd:0}
   * @param out where to write the fused SavedModel (must not exist)
   */
  public static Converted convert(Path meta, Path prefix, String input, String output, Path out) {
    ModelSource ckpt = ModelSource.checkpoint(meta, prefix, List.of(input), List.of(output));
    FusedArtifact fused = FusedArtifact.fuse(ckpt, FusedModelOptions.builder().strict(true).build());
    fused.writeSavedModel(out, false);
    // serve it: the written model loads like any SavedModel (nothing left to fold, so nothing is rebuilt)
    try (FusedModel served = FusedModel.load(out, "serve")) {
      return new Converted(fused.report().folds().size(), fused.report().check().maxRelDiff(), out,
          served.report().served().label());
    }
  }

  /** {@code CheckpointToSavedModelExample model.ckpt.meta model.ckpt Reshape:0 conv2d_16/BiasAdd:0 out-dir}. */
  public static void main(String[] args) {
    if (args.length != 5) {
      System.err.println("usage: CheckpointToSavedModelExample <meta> <prefix> <input:0> <output:0> <out-dir>");
      System.exit(2);
    }
    Converted c = convert(Path.of(args[0]), Path.of(args[1]), args[2], args[3], Path.of(args[4]));
    System.out.println("folded " + c.folds() + " BatchNorms, max rel diff " + c.maxRelDiff() + ", wrote "
        + c.savedModel());
  }
}
