/**
 * Serving types of {@link dev.fusedtf.FusedModel#predict(String, java.util.Map)}: {@link
 * dev.fusedtf.serving.Prediction} (the outputs of one call, which owns their tensors) and {@link
 * dev.fusedtf.serving.Input} (an input given as a plain Java array and a shape).
 */
package dev.fusedtf.serving;
