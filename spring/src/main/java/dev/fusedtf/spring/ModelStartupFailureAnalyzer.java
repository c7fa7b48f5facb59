package dev.fusedtf.spring;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * The {@code ModelStartupFailureAnalyzer} turns a {@link ModelStartupException} into Spring Boot's start-up failure
 * report: which model of {@code fusedtf.models} failed and why, and what to change.
 */
class ModelStartupFailureAnalyzer extends AbstractFailureAnalyzer<ModelStartupException> {
  @Override
  protected FailureAnalysis analyze(Throwable rootFailure, ModelStartupException cause) {
    String key = "fusedtf.models." + cause.model();
    return new FailureAnalysis(cause.getMessage(),
        "Fix " + key + ": 'path' names one SavedModel folder (holding saved_model.pb), 'reload' a folder of numbered "
            + "version folders (1, 2, ...); set exactly one. Or remove " + key + " to start without it.",
        cause);
  }
}
