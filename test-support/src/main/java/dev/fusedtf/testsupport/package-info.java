/**
 * Builders of real TensorFlow models from Java, for tests, the demo and the benchmarks: {@link
 * dev.fusedtf.testsupport.NetBuilder} (SavedModels in the TF1 and Keras layouts), {@link
 * dev.fusedtf.testsupport.CheckpointWriter} (V2 checkpoints), {@link dev.fusedtf.testsupport.DemoModels} (the demo's
 * models). This module depends on TensorFlow Java only, never on the FusedTF runtime.
 */
package dev.fusedtf.testsupport;
