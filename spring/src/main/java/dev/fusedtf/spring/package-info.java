/**
 * The FusedTF Spring Boot starter: models from {@code fusedtf.models.*} properties loaded into a
 * {@link dev.fusedtf.spring.FusedModelRegistry} at start-up and lent out as {@link dev.fusedtf.spring.ModelLease}s,
 * health and info contributors for Actuator, FusedTF's meters in the application's {@code MeterRegistry}, and an
 * optional TF Serving-shaped REST API ({@link dev.fusedtf.spring.FusedTfRestController}).
 *
 * <pre>{@code
 * @RestController
 * class Scores {
 *   private final FusedModelRegistry models;
 *   Scores(FusedModelRegistry models) { this.models = models; }
 *
 *   @PostMapping("/score")
 *   float[] score(@RequestBody float[] mfcc) {
 *     try (ModelLease lease = models.lease("kws");
 *          Prediction p = lease.model().predictInputs(Map.of("input_1", Input.of(mfcc, 1, 49, 10, 1)))) {
 *       return p.floats("dense");
 *     }
 *   }
 * }
 * }</pre>
 */
package dev.fusedtf.spring;
