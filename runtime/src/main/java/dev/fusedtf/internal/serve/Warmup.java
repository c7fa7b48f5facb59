package dev.fusedtf.internal.serve;


import dev.fusedtf.spi.ProbeSupplier;
import dev.fusedtf.report.WarmupResult;
import dev.fusedtf.internal.weights.TensorCodec;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.TensorProto;

/**
 * The {@code Warmup} runs a freshly loaded model before it takes requests: TF Serving's warm-up records when the
 * model has them, then {@code runs} calls of each signature on probe inputs. The first call after a load pays
 * for graph optimisation and kernel set-up (80-110 ms measured on models whose steady call is 1-6 ms).
 */
public final class Warmup {
  private static final Logger LOG = LoggerFactory.getLogger(Warmup.class);

  private Warmup() {}

  /**
   * Warms {@code session} up; returns what it did, or null when there was nothing to run.
   *
   * @param modelDir the SavedModel directory (for its warm-up records), or null
   */
  public static WarmupResult run(Session session, List<Signature> signatures, int runs, ProbeSupplier probes,
      Path modelDir) {
    double first = -1;
    int calls = 0;
    int records = 0;
    Map<String, Signature> byKey = new LinkedHashMap<>();
    signatures.forEach(s -> byKey.put(s.key(), s));
    for (WarmupRecords.Request req : modelDir == null ? List.<WarmupRecords.Request>of() : WarmupRecords.read(modelDir)) {
      Signature sig = byKey.get(req.signature().isEmpty() ? Signature.DEFAULT_KEY : req.signature());
      if (sig == null) {
        LOG.warn("warm-up record for unknown signature '{}' skipped", req.signature());
        continue;
      }
      Map<String, Tensor> in = new LinkedHashMap<>();
      try {
        for (Map.Entry<String, TensorProto> e : req.inputs().entrySet()) {
          in.put(e.getKey(), TensorCodec.toTensor(e.getValue()));
        }
        InputValidator.validate(sig, in, InputValidator.Limits.NONE);
        double ms = timeMs(session, sig, in);
        first = first < 0 ? ms : first;
        records++;
      } catch (RuntimeException e) {
        LOG.warn("warm-up record for '{}' skipped: {}", sig.key(), e.getMessage());
      } finally {
        in.values().forEach(Tensor::close);
      }
    }
    Signature timed = null;
    Map<String, Tensor> last = null;
    try {
      for (Signature sig : signatures) {
        for (int i = 0; i < runs; i++) {
          Map<String, Tensor> in;
          try {
            in = probes.probe(sig, 1, i);
          } catch (IllegalArgumentException e) {
            LOG.debug("no warm-up probes for '{}': {}", sig.key(), e.getMessage());
            break;
          }
          boolean keep = false;
          try {
            double ms = timeMs(session, sig, in);
            first = first < 0 ? ms : first;
            calls++;
            keep = timed == null;
          } catch (RuntimeException e) {
            // a probe the model rejects (e.g. too small for a VALID conv) must not fail the load: warm-up is optional
            LOG.debug("warm-up call of '{}' failed: {}", sig.key(), e.getMessage());
            break;
          } finally {
            if (keep) {
              timed = sig;
              last = in;
            } else {
              in.values().forEach(Tensor::close);
            }
          }
        }
      }
      if (first < 0) {
        return null;
      }
      double after = timed != null ? timeMs(session, timed, last) : first;
      return new WarmupResult(calls, records, first, after);
    } finally {
      if (last != null) {
        last.values().forEach(Tensor::close);
      }
    }
  }

  private static double timeMs(Session session, Signature sig, Map<String, Tensor> in) {
    long t = System.nanoTime();
    try (Result r = session.run(sig, in)) {
      return (System.nanoTime() - t) / 1e6;
    }
  }
}
