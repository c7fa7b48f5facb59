package dev.fusedtf.spring;

import dev.fusedtf.errors.FusedTfException;

/**
 * The {@code UnknownModelException} says that no model of that name (or no such version of it) is served; the REST
 * layer answers it with 404.
 */
public class UnknownModelException extends FusedTfException {
  private final String model;

  /** No model {@code model} (or not the version asked for), with why. */
  public UnknownModelException(String model, String message) {
    super(message);
    this.model = model;
  }

  /** The name asked for. */
  public String model() {
    return model;
  }
}
