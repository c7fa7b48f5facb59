/**
 * A shared, reference-counted cache of loaded models: {@link dev.fusedtf.cache.FusedModelCache}, built on
 * Caffeine.
 */
package dev.fusedtf.cache;
