package dev.fusedtf.errors;

/** Thrown when a model cannot be loaded, folded, checked or served. Unchecked, like TensorFlow Java's own. */
public class FusedTfException extends RuntimeException {
  /** An exception with a message. */
  public FusedTfException(String message) {
    super(message);
  }

  /** An exception with a message and a cause. */
  public FusedTfException(String message, Throwable cause) {
    super(message, cause);
  }
}
