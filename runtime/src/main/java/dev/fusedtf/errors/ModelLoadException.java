package dev.fusedtf.errors;

/**
 * Thrown when a model cannot be loaded or cannot run: files missing or corrupt, variables that cannot be restored, a
 * signature naming a tensor that does not exist, an op the runtime lacks, a checksum that does not match. The message
 * names what is wrong; TensorFlow's own exception, if any, is the cause.
 */
public class ModelLoadException extends FusedTfException {
  /** An exception with a message. */
  public ModelLoadException(String message) {
    super(message);
  }

  /** An exception with a message and a cause. */
  public ModelLoadException(String message, Throwable cause) {
    super(message, cause);
  }
}
