package dev.fusedtf.spring;

import dev.fusedtf.errors.FusedTfException;

/**
 * The {@code ModelStartupException} stops start-up: a model in {@code fusedtf.models} is configured wrongly or does
 * not load. Its message names the model ({@code fusedtf.models.<name>}) and says why.
 */
public class ModelStartupException extends FusedTfException {
  private final String model;

  /** Model {@code model} cannot be served, for this reason. */
  public ModelStartupException(String model, String message, Throwable cause) {
    super(message, cause);
    this.model = model;
  }

  /** The model's name in {@code fusedtf.models}. */
  public String model() {
    return model;
  }
}
