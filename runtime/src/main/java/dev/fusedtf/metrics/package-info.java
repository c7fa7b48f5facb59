/**
 * Micrometer meters of models: {@link dev.fusedtf.metrics.FusedTfMetrics}. Recorded only into a registry the
 * application passes in; never into the global registry.
 */
package dev.fusedtf.metrics;
