/**
 * The exceptions FusedTF throws, all unchecked: {@link dev.fusedtf.errors.FusedTfException} and its subtypes for
 * models ({@link dev.fusedtf.errors.ModelLoadException}, {@link dev.fusedtf.errors.CheckFailedException}) and failed
 * runs ({@link dev.fusedtf.errors.PredictionException}), and {@link dev.fusedtf.errors.InvalidInputException} (an
 * {@code IllegalArgumentException}) for bad requests.
 */
package dev.fusedtf.errors;
