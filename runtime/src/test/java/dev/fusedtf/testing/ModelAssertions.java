package dev.fusedtf.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.FusedModel;
import dev.fusedtf.internal.check.ProbeInputs;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** Independent checks of a fused model against the plain {@code SavedModelBundle} of the same directory. */
public final class ModelAssertions {
  private ModelAssertions() {}

  /**
   * Runs every output of the default signature on random inputs at each batch size with the original bundle and
   * with the fused model, and asserts max |diff| <= atol or max|diff|/max|orig| <= rtol. Returns the max abs diff.
   */
  public static double assertSameOutputs(Path dir, FusedModel fused, double atol, double rtol, int... batches) {
    double worst = 0;
    try (SavedModelBundle original = SavedModelBundle.load(dir.toString(), "serve")) {
      Signature sig = fused.defaultSignature();
      for (int batch : batches) {
        Map<String, Tensor> in = ProbeInputs.generate(sig, batch, 1234 + batch);
        try (Result a = original.session().run(sig, in); Result b = fused.call(sig.key(), in)) {
          for (String out : sig.getOutputs().keySet()) {
            DenseTensor x = TensorCodec.fromTensor(a.get(out).orElseThrow());
            DenseTensor y = TensorCodec.fromTensor(b.get(out).orElseThrow());
            assertEquals(java.util.Arrays.toString(x.shape()), java.util.Arrays.toString(y.shape()));
            double abs = 0;
            double scale = 0;
            for (int i = 0; i < x.size(); i++) {
              abs = Math.max(abs, Math.abs(x.get(i) - y.get(i)));
              scale = Math.max(scale, Math.abs(x.get(i)));
            }
            assertTrue(abs <= atol || abs / scale <= rtol,
                "output " + out + " batch " + batch + ": max abs diff " + abs + ", scale " + scale);
            worst = Math.max(worst, abs);
          }
        } finally {
          in.values().forEach(Tensor::close);
        }
      }
    }
    return worst;
  }

  /**
   * The largest absolute difference between the default signature's outputs of {@code a} and of {@code b} (a
   * {@code SavedModelBundle} loaded from what {@code a} wrote) on the same random input at {@code batch}.
   */
  public static double maxDiff(FusedModel a, SavedModelBundle b, int batch) {
    Signature sig = a.defaultSignature();
    Map<String, Tensor> in = ProbeInputs.generate(sig, batch, 77);
    double worst = 0;
    try (Result x = a.call(sig.key(), in); Result y = b.session().run(sig, in)) {
      for (String out : sig.getOutputs().keySet()) {
        DenseTensor p = TensorCodec.fromTensor(x.get(out).orElseThrow());
        DenseTensor q = TensorCodec.fromTensor(y.get(out).orElseThrow());
        assertEquals(java.util.Arrays.toString(p.shape()), java.util.Arrays.toString(q.shape()));
        for (int i = 0; i < p.size(); i++) {
          worst = Math.max(worst, Math.abs(p.get(i) - q.get(i)));
        }
      }
    } finally {
      in.values().forEach(Tensor::close);
    }
    return worst;
  }

  /** Whether plain TensorFlow can run the model's default signature on this machine (NCHW needs oneDNN). */
  public static boolean originalRuns(Path dir) {
    try (SavedModelBundle b = SavedModelBundle.load(dir.toString(), "serve")) {
      Signature sig = b.signatures().stream().filter(s -> s.key().equals("serving_default")).findFirst().orElseThrow();
      Map<String, Tensor> in = ProbeInputs.generate(sig, 1, 1);
      try (Result r = b.session().run(sig, in)) {
        return true;
      } catch (RuntimeException e) {
        return false;
      } finally {
        in.values().forEach(Tensor::close);
      }
    }
  }

  /** Number of nodes of these op types on the top level and in every function of {@code g}. */
  public static int countOps(GraphDef g, String... ops) {
    java.util.Set<String> set = java.util.Set.of(ops);
    int n = 0;
    for (NodeDef node : g.getNodeList()) {
      n += set.contains(node.getOp()) ? 1 : 0;
    }
    for (FunctionDef f : g.getLibrary().getFunctionList()) {
      for (NodeDef node : f.getNodeDefList()) {
        n += set.contains(node.getOp()) ? 1 : 0;
      }
    }
    return n;
  }
}
