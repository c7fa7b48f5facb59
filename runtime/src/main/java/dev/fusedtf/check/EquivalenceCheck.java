package dev.fusedtf.check;

import dev.fusedtf.weights.TensorProtos;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TString;

/**
 * The {@code EquivalenceCheck} runs the original and the fused model on the same probe inputs, signature by
 * signature and batch size by batch size, and compares every output: float outputs within an absolute or a
 * relative tolerance, other dtypes exactly.
 */
public final class EquivalenceCheck {
  private final double atol;
  private final double rtol;
  private final int[] batches;
  private final ProbeSupplier probes;

  /**
   * @param atol absolute tolerance: an output passes when max |fused - original| is at most this
   * @param rtol relative tolerance: ... or when that divided by max |original| is at most this
   * @param batches probe batch sizes (for the first unknown dimension)
   * @param probes where probe inputs come from
   */
  public EquivalenceCheck(double atol, double rtol, int[] batches, ProbeSupplier probes) {
    this.atol = atol;
    this.rtol = rtol;
    this.batches = batches.clone();
    this.probes = probes;
  }

  /** Runs {@code signatures} on both sessions and compares. */
  public CheckResult run(Session original, Session fused, List<Signature> signatures) {
    List<OutputDiff> diffs = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    double maxAbs = 0;
    double maxRel = 0;
    boolean passed = true;
    for (Signature sig : signatures) {
      if (sig.getOutputs().isEmpty()) {
        continue;
      }
      for (int bi = 0; bi < batches.length; bi++) {
        int batch = batches[bi];
        Map<String, Tensor> inputs;
        try {
          inputs = probes.probe(sig, batch, bi);
        } catch (IllegalArgumentException e) {
          notes.add("signature '" + sig.key() + "' not compared: " + e.getMessage());
          break;
        }
        try (Result a = original.run(sig, inputs); Result b = fused.run(sig, inputs)) {
          for (String out : sig.getOutputs().keySet()) {
            OutputDiff d = diff(sig.key(), out, batch, a.get(out).orElseThrow(), b.get(out).orElseThrow(), atol, rtol);
            diffs.add(d);
            maxAbs = Math.max(maxAbs, d.maxAbsDiff());
            maxRel = Math.max(maxRel, d.maxRelDiff());
            passed &= d.passed();
          }
        } catch (RuntimeException e) {
          passed = false;
          notes.add("signature '" + sig.key() + "' batch " + batch + " failed to run: " + e.getMessage());
        } finally {
          inputs.values().forEach(Tensor::close);
        }
      }
    }
    if (diffs.isEmpty() && notes.isEmpty()) {
      notes.add("no signature output to compare");
    }
    if (diffs.isEmpty()) {
      passed = false;
    }
    return new CheckResult(passed, maxAbs, maxRel, atol, rtol, List.copyOf(diffs),
        notes.isEmpty() ? null : String.join("; ", notes));
  }

  /**
   * How output {@code out} differs between {@code a} (original) and {@code b}: float outputs by max absolute and
   * relative (to max |a|) difference, others exactly (infinite difference when unequal, or when dtype or shape
   * differ).
   */
  public static OutputDiff diff(String sig, String out, int batch, Tensor a, Tensor b, double atol, double rtol) {
    if (a.dataType() != b.dataType() || !a.shape().equals(b.shape())) {
      return new OutputDiff(sig, out, batch, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, false);
    }
    if (TensorProtos.isSupported(a.dataType())) {
      double[] x = TensorProtos.fromTensor(a).values();
      double[] y = TensorProtos.fromTensor(b).values();
      double abs = 0;
      double scale = 0;
      boolean nanMismatch = false;
      for (int i = 0; i < x.length; i++) {
        if (Double.isNaN(x[i]) || Double.isNaN(y[i])) {
          nanMismatch |= Double.isNaN(x[i]) != Double.isNaN(y[i]);
          continue;
        }
        abs = Math.max(abs, Math.abs(x[i] - y[i]));
        scale = Math.max(scale, Math.abs(x[i]));
      }
      if (nanMismatch) {
        return new OutputDiff(sig, out, batch, Double.NaN, Double.NaN, false);
      }
      double rel = scale > 0 ? abs / scale : (abs == 0 ? 0 : Double.POSITIVE_INFINITY);
      return new OutputDiff(sig, out, batch, abs, rel, abs <= atol || rel <= rtol);
    }
    boolean same;
    if (a.dataType() == DataType.DT_STRING) {
      List<byte[]> xs = new ArrayList<>();
      List<byte[]> ys = new ArrayList<>();
      ((TString) a).asBytes().scalars().forEach(s -> xs.add(s.getObject()));
      ((TString) b).asBytes().scalars().forEach(s -> ys.add(s.getObject()));
      same = xs.size() == ys.size();
      for (int i = 0; same && i < xs.size(); i++) {
        same = Arrays.equals(xs.get(i), ys.get(i));
      }
    } else {
      byte[] x = new byte[(int) a.numBytes()];
      byte[] y = new byte[(int) b.numBytes()];
      a.asRawTensor().data().read(x);
      b.asRawTensor().data().read(y);
      same = Arrays.equals(x, y);
    }
    return new OutputDiff(sig, out, batch, same ? 0 : Double.POSITIVE_INFINITY, same ? 0 : Double.POSITIVE_INFINITY, same);
  }
}
