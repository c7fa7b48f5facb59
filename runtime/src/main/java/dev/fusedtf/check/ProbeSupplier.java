package dev.fusedtf.check;

import java.util.Map;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;

/** Supplies the probe inputs of one signature at one batch size; the caller closes the returned tensors. */
@FunctionalInterface
public interface ProbeSupplier {
  /** Inputs for {@code signature} with batch size {@code batch} (probe number {@code index}). */
  Map<String, Tensor> probe(Signature signature, int batch, int index);

  /** Random probes from the signature's shapes and dtypes ({@link ProbeInputs}). */
  static ProbeSupplier random(long seed) {
    return (sig, batch, index) -> ProbeInputs.generate(sig, batch, seed + 31L * index + batch);
  }
}
