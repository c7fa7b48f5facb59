package dev.fusedtf.errors;

/**
 * Thrown for a bad request, before anything runs: an unknown signature, a missing, unknown or null input, a wrong
 * dtype or shape, a request over the configured size limits. The message names the signature, the input, what was
 * expected and what was given. It is an {@link IllegalArgumentException}, so code written against TensorFlow Java
 * (whose {@code TFInvalidArgumentException} is one too) keeps catching it.
 */
public class InvalidInputException extends IllegalArgumentException {
  private final String signature;
  private final String input;

  /**
   * @param signature the signature key, or null when the request names none that exists
   * @param input the input name, or null when the problem is not one input's
   * @param message what is wrong
   */
  public InvalidInputException(String signature, String input, String message) {
    super(message);
    this.signature = signature;
    this.input = input;
  }

  /** The signature of the request, or null. */
  public String signature() {
    return signature;
  }

  /** The input at fault, or null. */
  public String input() {
    return input;
  }
}
