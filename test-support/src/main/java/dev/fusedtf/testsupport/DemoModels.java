package dev.fusedtf.testsupport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The {@code DemoModels} writes the demo SavedModels in the layout Keras uses (ops in function bodies, weights as
 * resource variables), covering the shapes real networks have:
 *
 * <ul>
 *   <li>{@code resnet-style}: Conv2D with bias -> BatchNorm -> ReLU, residual adds, and a Dense -> BatchNorm
 *       head (BatchNorm on 2-D input, which Keras writes as decomposed arithmetic);</li>
 *   <li>{@code mobilenetv2-style}: 1x1 expand -> BN -> ReLU6 -> depthwise 3x3 -> BN -> ReLU6 -> 1x1 project -> BN,
 *       residual adds;</li>
 *   <li>{@code conv-bn-relu}: Conv2D -> FusedBatchNormV3 -> ReLU with no bias, the one pattern TensorFlow's own
 *       run-time fusion already handles on CPU (a control: folding should neither help nor hurt much).</li>
 * </ul>
 */
public final class DemoModels {
  private static final String VERSION = "demo-models v2";

  private DemoModels() {}

  /** A demo model on disk: its name, its folder, and a one-line description. */
  public record Demo(String name, Path dir, String description) {}

  /**
   * Writes the demo models under {@code root} (one folder each), reusing folders already written there by the
   * same version of this class. Returns them in a fixed order.
   */
  public static List<Demo> writeAll(Path root) {
    List<Demo> out = new ArrayList<>();
    out.add(write(root, "resnet-style", "ResNet-style: 3x3 Conv2D with bias -> BatchNorm -> ReLU, residual adds, Dense -> BatchNorm head, 40x40x16",
        DemoModels::resnet));
    out.add(write(root, "mobilenetv2-style",
        "MobileNetV2-style: expand 1x1 -> BN -> ReLU6 -> depthwise 3x3 -> BN -> ReLU6 -> project 1x1 -> BN, 40x40x16",
        DemoModels::mobilenet));
    out.add(write(root, "conv-bn-relu", "Conv2D (no bias) -> FusedBatchNormV3 -> ReLU: already fused by TF at run time",
        DemoModels::convBnRelu));
    return out;
  }

  private static Demo write(Path root, String name, String description, Consumer<NetBuilder> net) {
    Path dir = root.resolve(name);
    Path marker = dir.resolve("DEMO_VERSION");
    try {
      if (Files.exists(marker) && Files.readString(marker).equals(VERSION)) {
        return new Demo(name, dir, description);
      }
      if (Files.exists(dir)) {
        ModelFiles.deleteTree(dir);
      }
      NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, name.hashCode());
      net.accept(b);
      b.write(dir);
      Files.writeString(marker, VERSION);
      return new Demo(name, dir, description);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot write demo model " + dir, e);
    }
  }

  static void resnet(NetBuilder b) {
    String x = b.input("image", -1, 40, 40, 16);
    String h = b.relu(b.batchNorm(b.conv2d(x, "stem", 3, 3, 16, 32, 1, "SAME", true, false), "stem_bn", 32), "stem_relu");
    for (int i = 1; i <= 3; i++) {
      String a = b.relu(b.batchNorm(b.conv2d(h, "block" + i + "_conv1", 3, 3, 32, 32, 1, "SAME", true, false),
          "block" + i + "_bn1", 32), "block" + i + "_relu1");
      String c = b.batchNorm(b.conv2d(a, "block" + i + "_conv2", 3, 3, 32, 32, 1, "SAME", true, false),
          "block" + i + "_bn2", 32);
      h = b.relu(b.add(h, c, "block" + i + "_add"), "block" + i + "_out");
    }
    String pooled = b.mean(h, "avg_pool", 1, 2);
    // Dense -> BatchNorm head: Keras writes BN on 2-D input as decomposed arithmetic (Rsqrt, Mul, Sub, AddV2)
    String fc = b.relu(b.decomposedBatchNorm(b.dense(pooled, "fc", 32, 64, true, false), "fc_bn", 64, null),
        "fc_relu");
    b.output("logits", b.dense(fc, "head", 64, 10, true, false));
  }

  static void mobilenet(NetBuilder b) {
    String x = b.input("image", -1, 40, 40, 16);
    String h = x;
    for (int i = 1; i <= 3; i++) {
      String e = b.relu6(b.batchNorm(b.conv2d(h, "block" + i + "_expand", 1, 1, 16, 96, 1, "SAME", false, false),
          "block" + i + "_expand_bn", 96), "block" + i + "_expand_relu");
      String d = b.relu6(b.batchNorm(b.depthwise(e, "block" + i + "_dw", 3, 96, 1, false), "block" + i + "_dw_bn", 96),
          "block" + i + "_dw_relu");
      String p = b.batchNorm(b.conv2d(d, "block" + i + "_project", 1, 1, 96, 16, 1, "SAME", false, false),
          "block" + i + "_project_bn", 16);
      h = b.add(h, p, "block" + i + "_add");
    }
    String pooled = b.mean(h, "avg_pool", 1, 2);
    b.output("logits", b.dense(pooled, "head", 16, 10, true, false));
  }

  static void convBnRelu(NetBuilder b) {
    String x = b.input("image", -1, 40, 40, 16);
    String h = x;
    int c = 16;
    for (int i = 1; i <= 3; i++) {
      h = b.relu(b.batchNorm(b.conv2d(h, "conv" + i, 3, 3, c, 32, 1, "SAME", false, false), "bn" + i, 32), "relu" + i);
      c = 32;
    }
    b.output("logits", b.dense(b.mean(h, "avg_pool", 1, 2), "head", 32, 10, true, false));
  }
}
