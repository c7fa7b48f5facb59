package dev.fusedtf.report;

/**
 * What warm-up at load did.
 *
 * @param runs warm-up calls made on probe inputs
 * @param records TF Serving warm-up records replayed ({@code assets.extra/tf_serving_warmup_requests})
 * @param firstCallMs the very first call after loading, i.e. what the first request would cost without warm-up
 * @param afterWarmupMs one call timed after warm-up: what the first real request costs
 */
public record WarmupResult(int runs, int records, double firstCallMs, double afterWarmupMs) {}
