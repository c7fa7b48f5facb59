package dev.fusedtf.errors;

/**
 * Thrown when a request was valid but running it failed inside TensorFlow (out of memory, a kernel error); the cause
 * is TensorFlow's exception. The model stays usable for the next request.
 */
public class PredictionException extends FusedTfException {
  private final String signature;

  /** An exception for signature {@code signature} with TensorFlow's {@code cause}. */
  public PredictionException(String signature, String message, Throwable cause) {
    super(message, cause);
    this.signature = signature;
  }

  /** The signature that was run. */
  public String signature() {
    return signature;
  }
}
