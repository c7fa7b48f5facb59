package dev.fusedtf.internal.fuse;

import dev.fusedtf.internal.rules.Rule;
import dev.fusedtf.spi.ProbeSupplier;
import java.util.List;
import java.util.Map;
import org.tensorflow.proto.ConfigProto;

/**
 * What the fuse step needs to know, taken from the public options.
 *
 * @param config the session config for rebuilt graphs, or null
 * @param absTolerance the check's absolute tolerance
 * @param relTolerance the check's relative tolerance
 * @param probeBatches probe batch sizes
 * @param seed seed of the random probes
 * @param probes user probes, or null for the default ones
 * @param disabledRules rule names not to run
 * @param extraRules rules run after the default ones (tests)
 * @param pins placeholder name to value (as text: {@code true}, {@code 0.5})
 * @param strict fail instead of serving the original when the rewritten model is not accepted
 * @param serveUnverified serve the rewritten model when part of it could not be checked
 * @param cpu whether the model runs on CPU (layout rules)
 */
public record FuseSettings(ConfigProto config, double absTolerance, double relTolerance, int[] probeBatches, long seed,
    ProbeSupplier probes, List<String> disabledRules, List<Rule> extraRules, Map<String, String> pins, boolean strict,
    boolean serveUnverified, boolean cpu) {

  /** Copies the collections. */
  public FuseSettings {
    probeBatches = probeBatches.clone();
    disabledRules = List.copyOf(disabledRules);
    extraRules = List.copyOf(extraRules);
    pins = Map.copyOf(pins);
  }
}
