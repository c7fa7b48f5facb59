package dev.fusedtf.internal.check;

import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.report.CheckResult;
import dev.fusedtf.report.FoldDiff;
import dev.fusedtf.report.OutputDiff;
import dev.fusedtf.report.Sensitivity;
import dev.fusedtf.report.Unverified;
import dev.fusedtf.spi.ProbeSupplier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TString;

/**
 * The {@code EquivalenceCheck} runs the reference (the original) and the rewritten model on the same probe inputs,
 * signature by signature and batch size by batch size, and compares every output (float outputs within an
 * absolute or a relative tolerance, other dtypes exactly) and, through check-only copies of both graphs, the
 * tensor each fold produced. It also measures how much each output moves between two probes (an output that
 * barely moves cannot catch a wrong fold by itself) and whether the reference agrees with itself (stateful random
 * ops make it disagree).
 */
public final class EquivalenceCheck {
  /** An output whose relative change between two random probes is below this cannot vouch for a fold. */
  public static final double INSENSITIVE = 1e-3;

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

  /**
   * One fold's tensor in both check-only graphs.
   *
   * @param bn the folded node
   * @param function its function, or null
   * @param referenceFetch the tensor to fetch from the reference copy, or null
   * @param fusedFetch the tensor to fetch from the rewritten copy, or null
   * @param note why it cannot be compared, or null
   */
  public record FoldTap(String bn, String function, String referenceFetch, String fusedFetch, String note) {}

  /**
   * The check-only sessions and the folds they expose; null sessions when no copy could be built.
   *
   * @param reference the reference copy's session
   * @param fused the rewritten copy's session
   * @param taps one per fold
   */
  public record Taps(Session reference, Session fused, List<FoldTap> taps) {}

  /**
   * What the comparison needs.
   *
   * @param reference the reference session (the original, or its layout-only rewrite)
   * @param referenceKind {@link CheckResult#REFERENCE_ORIGINAL} or {@link CheckResult#REFERENCE_LAYOUT}
   * @param originalError why the original itself cannot run here, or null
   * @param fused the rewritten model's session
   * @param signatures the rewritten model's serving signatures
   * @param referenceFeeds extra feeds the reference needs (pinned placeholders, by tensor name); not closed here
   * @param taps the per-fold copies, or null
   * @param randomOps stateful random ops on the reference's serving path
   */
  public record Inputs(Session reference, String referenceKind, String originalError, Session fused,
      List<Signature> signatures, Map<String, Tensor> referenceFeeds, Taps taps, List<String> randomOps) {}

  /** Runs the comparison. */
  public CheckResult run(Inputs in) {
    List<OutputDiff> diffs = new ArrayList<>();
    List<Unverified> unverified = new ArrayList<>();
    List<Sensitivity> sensitivity = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    List<String> nondeterministic = new ArrayList<>();
    Map<String, double[]> foldFigures = new LinkedHashMap<>(); // bn key -> {abs, rel, scale}
    double maxAbs = 0;
    double maxRel = 0;
    boolean passed = true;
    for (Signature sig : in.signatures()) {
      boolean compared = false;
      for (int bi = 0; bi < batches.length; bi++) {
        int batch = batches[bi];
        Map<String, Tensor> inputs;
        try {
          inputs = probes.probe(sig, batch, bi);
        } catch (IllegalArgumentException e) {
          if (!compared) {
            unverified.add(new Unverified(sig.key(), "no probe inputs: " + e.getMessage()));
          }
          break;
        }
        try {
          SignatureRun.Outputs a;
          try {
            a = SignatureRun.run(in.reference(), sig, inputs, in.referenceFeeds());
          } catch (RuntimeException e) {
            if (!compared) {
              unverified.add(new Unverified(sig.key(), "the reference failed to run: " + e.getMessage()));
            }
            passed = false;
            break;
          }
          try {
            SignatureRun.Outputs b;
            try {
              b = SignatureRun.run(in.fused(), sig, inputs, Map.of());
            } catch (RuntimeException e) {
              passed = false;
              notes.add("signature '" + sig.key() + "' batch " + batch + ": the rewritten model failed to run: "
                  + e.getMessage());
              continue;
            }
            try {
              int i = 0;
              for (String out : sig.getOutputs().keySet()) {
                OutputDiff d = diff(sig.key(), out, batch, a.get(i), b.get(i), atol, rtol);
                diffs.add(d);
                maxAbs = Math.max(maxAbs, d.maxAbsDiff());
                maxRel = Math.max(maxRel, d.maxRelDiff());
                passed &= d.passed();
                i++;
              }
              compared = true;
            } finally {
              b.close();
            }
            if (bi == 0) {
              selfAgreement(in, sig, inputs, a, nondeterministic);
              sensitivity.addAll(sensitivity(in, sig, a, batch));
            }
            // a fold's error is per channel, the same at every batch size: the copies run on the first probe only
            // (the final outputs are still compared at every batch size)
            if (bi == 0 && in.taps() != null && in.taps().reference() != null) {
              compareTaps(in, sig, inputs, foldFigures, notes);
            }
          } finally {
            a.close();
          }
        } finally {
          inputs.values().forEach(Tensor::close);
        }
      }
    }
    List<FoldDiff> folds = foldDiffs(in, foldFigures);
    boolean foldsPass = folds.stream().allMatch(FoldDiff::passed);
    if (!foldsPass) {
      notes.add("a folded BatchNorm's own output differs beyond tolerance");
    }
    if (!nondeterministic.isEmpty()) {
      notes.add("the original disagrees with itself on the same input: it is nondeterministic ("
          + String.join(", ", in.randomOps().isEmpty() ? List.of("unknown op") : in.randomOps())
          + "), so the comparison cannot tell a wrong fold from noise");
      passed = false;
    }
    if (diffs.isEmpty() && unverified.isEmpty()) {
      notes.add("no signature output to compare");
      passed = false;
    }
    passed &= foldsPass && unverified.isEmpty() && !diffs.isEmpty();
    return new CheckResult(passed, diffs.isEmpty() ? Double.NaN : maxAbs, diffs.isEmpty() ? Double.NaN : maxRel,
        atol, rtol, diffs, folds, unverified, sensitivity, in.referenceKind(), in.originalError(),
        nondeterministic.isEmpty() ? List.of() : in.randomOps(), notes.isEmpty() ? null : String.join("; ", notes));
  }

  /** Runs the reference again on the same input: a stateful random op makes it disagree with itself. */
  private void selfAgreement(Inputs in, Signature sig, Map<String, Tensor> inputs, SignatureRun.Outputs first,
      List<String> nondeterministic) {
    if (in.randomOps().isEmpty()) {
      return;
    }
    SignatureRun.Outputs again = SignatureRun.run(in.reference(), sig, inputs, in.referenceFeeds());
    try {
      int i = 0;
      for (String out : sig.getOutputs().keySet()) {
        OutputDiff d = diff(sig.key(), out, 0, first.get(i), again.get(i), 0, 0);
        if (d.maxAbsDiff() != 0) {
          nondeterministic.add(sig.key() + "/" + out);
        }
        i++;
      }
    } finally {
      again.close();
    }
  }

  /** How much each float output of the reference moves between this probe and another one of the same batch. */
  private List<Sensitivity> sensitivity(Inputs in, Signature sig, SignatureRun.Outputs a, int batch) {
    Map<String, Tensor> other;
    try {
      other = probes.probe(sig, batch, 1000);
    } catch (RuntimeException e) {
      return List.of();
    }
    List<Sensitivity> out = new ArrayList<>();
    try {
      SignatureRun.Outputs c = SignatureRun.run(in.reference(), sig, other, in.referenceFeeds());
      try {
        int i = 0;
        for (String name : sig.getOutputs().keySet()) {
          if (TensorCodec.isSupported(a.get(i).dataType())) {
            OutputDiff d = diff(sig.key(), name, batch, a.get(i), c.get(i), 0, 0);
            double rel = d.maxRelDiff();
            out.add(new Sensitivity(sig.key(), name, rel, Double.isFinite(rel) && rel < INSENSITIVE));
          }
          i++;
        }
      } finally {
        c.close();
      }
    } catch (RuntimeException e) {
      return List.of();
    } finally {
      other.values().forEach(Tensor::close);
    }
    return out;
  }

  private void compareTaps(Inputs in, Signature sig, Map<String, Tensor> inputs, Map<String, double[]> figures,
      List<String> notes) {
    List<FoldTap> taps = in.taps().taps().stream().filter(t -> t.note() == null).toList();
    if (taps.isEmpty()) {
      return;
    }
    SignatureRun.Outputs a = null;
    SignatureRun.Outputs b = null;
    try {
      a = SignatureRun.fetch(in.taps().reference(), sig, inputs, in.referenceFeeds(),
          taps.stream().map(FoldTap::referenceFetch).toList());
      b = SignatureRun.fetch(in.taps().fused(), sig, inputs, Map.of(),
          taps.stream().map(FoldTap::fusedFetch).toList());
      for (int i = 0; i < taps.size(); i++) {
        OutputDiff d = diff(sig.key(), taps.get(i).bn(), 0, a.get(i), b.get(i), atol, rtol);
        double[] f = figures.computeIfAbsent(key(taps.get(i)), k -> new double[] {0, 0, 1});
        f[0] = Math.max(f[0], d.maxAbsDiff());
        f[1] = Math.max(f[1], d.maxRelDiff());
        f[2] = Math.min(f[2], d.passed() ? 1 : 0);
      }
    } catch (RuntimeException e) {
      notes.add("the per-fold copies failed to run on signature '" + sig.key() + "': " + e.getMessage());
      for (FoldTap t : taps) {
        figures.putIfAbsent(key(t) + "#error", new double[] {Double.NaN, Double.NaN, 1});
      }
    } finally {
      if (a != null) {
        a.close();
      }
      if (b != null) {
        b.close();
      }
    }
  }

  private static String key(FoldTap t) {
    return t.function() + "/" + t.bn();
  }

  private static List<FoldDiff> foldDiffs(Inputs in, Map<String, double[]> figures) {
    if (in.taps() == null) {
      return List.of();
    }
    List<FoldDiff> out = new ArrayList<>();
    for (FoldTap t : in.taps().taps()) {
      double[] f = figures.get(key(t));
      if (t.note() != null) {
        out.add(new FoldDiff(t.bn(), t.function(), null, Double.NaN, Double.NaN, true, t.note()));
      } else if (f == null) {
        String why = in.taps().reference() == null ? "the check-only copies could not be built"
            : figures.containsKey(key(t) + "#error") ? "the check-only copies failed to run" : "no probe reached it";
        out.add(new FoldDiff(t.bn(), t.function(), t.fusedFetch(), Double.NaN, Double.NaN, true, why));
      } else {
        out.add(new FoldDiff(t.bn(), t.function(), t.fusedFetch(), f[0], f[1], f[2] > 0, null));
      }
    }
    return out;
  }

  /**
   * How output {@code out} differs between {@code a} (reference) and {@code b}: float outputs by max absolute and
   * relative (to max |a|) difference, others exactly (infinite difference when unequal, or when dtype or shape
   * differ).
   */
  public static OutputDiff diff(String sig, String out, int batch, Tensor a, Tensor b, double atol, double rtol) {
    if (a.dataType() != b.dataType() || !a.shape().equals(b.shape())) {
      return new OutputDiff(sig, out, batch, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, false);
    }
    if (TensorCodec.isSupported(a.dataType())) {
      double[] x = TensorCodec.fromTensor(a).values();
      double[] y = TensorCodec.fromTensor(b).values();
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
    return new OutputDiff(sig, out, batch, same ? 0 : Double.POSITIVE_INFINITY, same ? 0 : Double.POSITIVE_INFINITY,
        same);
  }
}
