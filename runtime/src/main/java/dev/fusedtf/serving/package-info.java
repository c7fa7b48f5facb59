/**
 * Serving a model all day: {@link dev.fusedtf.serving.Prediction} (the outputs of one
 * {@link dev.fusedtf.FusedModel#predict(String, java.util.Map)} call, owning their tensors) and
 * {@link dev.fusedtf.serving.Input} (an input as a plain Java array and a shape);
 * {@link dev.fusedtf.serving.MicroBatcher} (concurrent single requests stacked into one call);
 * {@link dev.fusedtf.serving.VersionedModel} (hot reload of numbered versions, with leases counted by
 * {@link dev.fusedtf.serving.RefCounted}); {@link dev.fusedtf.internal.serve.WarmupRecords} (TF Serving's warm-up file).
 */
package dev.fusedtf.serving;
