package dev.fusedtf.internal.check;

import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.spi.ProbeSupplier;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TString;

/**
 * The probes the check uses when the user gives none: seeded random values from each input's declared shape and
 * dtype ({@link ProbeInputs}), and for a string input that the graph decodes with {@code DecodeWav}, one second of
 * 16 kHz noise as WAV bytes (the batch size does not apply to such a scalar).
 */
public final class DefaultProbes {
  private DefaultProbes() {}

  /** Probes for the signatures of {@code graph}. */
  public static ProbeSupplier of(long seed, GraphDef graph) {
    Set<String> wavInputs = new HashSet<>();
    for (NodeDef n : graph.getNodeList()) {
      if (n.getOp().equals("DecodeWav") && n.getInputCount() > 0) {
        wavInputs.add(TensorRef.parse(n.getInput(0)).node());
      }
    }
    return (sig, batch, index) -> {
      long s = seed + 31L * index + batch;
      boolean wav = sig.getInputs().values().stream()
          .anyMatch(d -> d.dataType == DataType.DT_STRING && wavInputs.contains(TensorRef.parse(d.name).node()));
      if (!wav) {
        return ProbeInputs.generate(sig, batch, s);
      }
      Map<String, Tensor> out = new LinkedHashMap<>();
      for (Map.Entry<String, Signature.TensorDescription> e : sig.getInputs().entrySet()) {
        if (e.getValue().dataType != DataType.DT_STRING || !wavInputs.contains(TensorRef.parse(e.getValue().name).node())) {
          out.values().forEach(Tensor::close);
          throw new IllegalArgumentException("input '" + e.getKey() + "' beside a WAV input needs explicit probes");
        }
        out.put(e.getKey(), TString.tensorOfBytes(NdArrays.scalarOfObject(WavProbe.noise(16000, 16000, s))));
      }
      return out;
    };
  }
}
