package dev.fusedtf.spring;

/**
 * The {@code ClientErrorException} is a request the client must fix, with the HTTP status the REST layer answers
 * (400 for a malformed or invalid request, 413 for one over a limit) and a message naming what is wrong.
 */
public class ClientErrorException extends RuntimeException {
  private final int status;

  /** A client error answered with {@code status}. */
  public ClientErrorException(int status, String message) {
    super(message);
    this.status = status;
  }

  /** The HTTP status. */
  public int status() {
    return status;
  }
}
