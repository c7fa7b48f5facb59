package dev.fusedtf.examples;

import dev.fusedtf.FusedModel;
import dev.fusedtf.testsupport.DemoModels;
import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * The {@code DropInExample} shows the one-line change: a service's model-loading code before (plain
 * {@code SavedModelBundle}) and after ({@link FusedModel}), producing the same outputs.
 */
public final class DropInExample {
  private DropInExample() {}

  /** Outputs of the same request through both loaders. */
  public record Outputs(float[] before, float[] after, int folds) {}

  /** Before: what a service does today. */
  static float[] before(Path modelDir, float[] image, long... shape) {
    try (SavedModelBundle model = SavedModelBundle.load(modelDir.toString(), "serve");
         TFloat32 input = TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(image, true, false));
         Result out = model.function("serving_default").call(Map.of("image", input))) {
      return read((TFloat32) out.get(0));
    }
  }

  /** After: the same code with the type name swapped ({@code FusedModel} for {@code SavedModelBundle}). */
  static float[] after(Path modelDir, float[] image, long... shape) {
    try (FusedModel model = FusedModel.load(modelDir.toString(), "serve");
         TFloat32 input = TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(image, true, false));
         Result out = model.function("serving_default").call(Map.of("image", input))) {
      return read((TFloat32) out.get(0));
    }
  }

  /** Runs one request through both on the ResNet-style demo model written under {@code workDir}. */
  public static Outputs run(Path workDir) {
    Path model = DemoModels.writeAll(workDir).get(0).dir();
    float[] image = new float[40 * 40 * 16];
    for (int i = 0; i < image.length; i++) {
      image[i] = (float) Math.sin(i * 0.01);
    }
    int folds;
    try (FusedModel m = FusedModel.load(model, "serve")) {
      folds = m.report().folds().size();
    }
    return new Outputs(before(model, image, 1, 40, 40, 16), after(model, image, 1, 40, 40, 16), folds);
  }

  private static float[] read(TFloat32 t) {
    double[] d = dev.fusedtf.internal.weights.TensorCodec.fromTensor(t).values();
    float[] v = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      v[i] = (float) d[i];
    }
    return v;
  }

  /** Prints both outputs. */
  public static void main(String[] args) {
    Outputs o = run(Path.of(args.length > 0 ? args[0] : "target/example-models"));
    System.out.println("folds: " + o.folds());
    System.out.println("before: " + java.util.Arrays.toString(o.before()));
    System.out.println("after:  " + java.util.Arrays.toString(o.after()));
  }
}
