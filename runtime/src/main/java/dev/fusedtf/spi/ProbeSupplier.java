package dev.fusedtf.spi;

import java.util.Map;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;

/**
 * The {@code ProbeSupplier} gives the check its inputs: for one signature at one batch size, one map of input name to
 * tensor. The caller closes the returned tensors. Without one, FusedTF generates seeded random inputs from each
 * signature's shapes and dtypes (and a WAV clip for a string input read by {@code DecodeWav}).
 *
 * <p>Throw {@link IllegalArgumentException} for a signature you cannot probe: it is reported as unverified.
 */
@FunctionalInterface
public interface ProbeSupplier {
  /**
   * Inputs for {@code signature}.
   *
   * @param signature the signature to probe
   * @param batch the batch size to use for the first unknown dimension
   * @param index the number of this probe (different indexes should give different inputs)
   */
  Map<String, Tensor> probe(Signature signature, int batch, int index);
}
