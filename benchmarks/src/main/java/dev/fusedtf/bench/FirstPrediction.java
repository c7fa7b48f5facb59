package dev.fusedtf.bench;

import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.internal.check.ProbeInputs;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;

/**
 * The {@code FirstPrediction} harness measures, in one process, the time from calling load to the first prediction
 * returned (batch 1): plain {@code SavedModelBundle.load} + its first call, against {@code FusedModel.load} + its
 * first call in three ways: in the foreground (fold, check, then serve), in the background
 * ({@code fuseInBackground}: the original serves at once), and from the disk cache (a hit skips fold and check). The
 * four run in turn, round after round (one throw-away round first, so process start-up costs are not charged to
 * whichever runs first); the medians are reported. Each model is closed before the next load; a background model is
 * closed after its fuse has finished, outside the timed part.
 */
public final class FirstPrediction {
  /** How a model is loaded. */
  public enum Way {
    /** {@code SavedModelBundle.load} + call. */
    PLAIN("plain SavedModelBundle"),
    /** {@code FusedModel.load} (fold, check, serve) + call. */
    FOREGROUND("FusedModel.load"),
    /** {@code FusedModel.load} with {@code fuseInBackground} + call. */
    BACKGROUND("FusedModel.load, fuseInBackground"),
    /** {@code FusedModel.load} with a disk cache already holding the checked model + call. */
    DISK_CACHE("FusedModel.load, disk-cache hit");

    private final String label;

    Way(String label) {
      this.label = label;
    }

    /** How the report names it. */
    public String label() {
      return label;
    }
  }

  /**
   * The medians, in milliseconds, and every sample.
   *
   * @param medianMs median time to first prediction by way
   * @param samplesMs every counted sample by way
   */
  public record Figures(Map<Way, Double> medianMs, Map<Way, List<Double>> samplesMs) {
    /** Median of {@code way} over plain loading. */
    public double ratio(Way way) {
      return medianMs.get(way) / medianMs.get(Way.PLAIN);
    }

    /** A table for people. */
    public String toText() {
      StringBuilder b = new StringBuilder("time to first prediction (load + first call, batch 1; medians of "
          + samplesMs.get(Way.PLAIN).size() + " rounds in one process)\n");
      for (Way w : Way.values()) {
        b.append(String.format(Locale.ROOT, "  %-36s %8.1f ms   %5.2fx plain   samples %s%n", w.label(),
            medianMs.get(w), ratio(w), samplesMs.get(w).stream().map(v -> String.format(Locale.ROOT, "%.0f", v))
                .toList()));
      }
      return b.toString();
    }
  }

  private final Path model;
  private final String[] tags;
  private final String signature;
  private final PrintStream progress;

  /**
   * @param model the SavedModel directory
   * @param tags its tags
   * @param signature the signature to call
   * @param progress where progress lines go
   */
  public FirstPrediction(Path model, String[] tags, String signature, PrintStream progress) {
    this.model = model;
    this.tags = tags.clone();
    this.signature = signature;
    this.progress = progress;
  }

  /** Measures {@code rounds} rounds after one throw-away round. */
  public Figures run(int rounds) {
    if (rounds < 1) {
      throw new IllegalArgumentException("rounds must be >= 1");
    }
    Path cache;
    try {
      cache = Files.createTempDirectory("fusedtf-first-prediction");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      Map<Way, List<Double>> samples = new EnumMap<>(Way.class);
      for (Way w : Way.values()) {
        samples.put(w, new ArrayList<>());
      }
      for (int r = -1; r < rounds; r++) {
        for (Way w : Way.values()) {
          double ms = once(w, cache);
          if (r >= 0) {
            samples.get(w).add(ms);
          }
        }
        progress.printf(Locale.ROOT, "first prediction, round %d of %d done%n", r + 1, rounds);
      }
      Map<Way, Double> medians = new EnumMap<>(Way.class);
      samples.forEach((w, s) -> medians.put(w, median(s)));
      return new Figures(medians, samples);
    } finally {
      deleteTree(cache);
    }
  }

  /** The options of {@code way} (not used for {@link Way#PLAIN}); {@code cache} is the disk cache's folder. */
  static FusedModelOptions.Builder options(Way way, String[] tags, Path cache) {
    FusedModelOptions.Builder o = FusedModelOptions.builder().tags(tags);
    switch (way) {
      case BACKGROUND -> o.fuseInBackground(true);
      case DISK_CACHE -> o.fusedCacheDir(cache);
      default -> { }
    }
    return o;
  }

  private double once(Way way, Path cache) {
    FusedModelOptions.Builder o = options(way, tags, cache);
    if (way == Way.DISK_CACHE) {
      try (FusedModel fill = FusedModel.load(model, o.build())) {
        // fills the cache (the first time) outside the timed part
      }
    }
    long t0 = System.nanoTime();
    if (way == Way.PLAIN) {
      try (SavedModelBundle b = SavedModelBundle.load(model.toString(), tags)) {
        Signature sig = b.function(signature).signature();
        call(sig, in -> b.session().run(sig, in));
        return ms(t0);
      }
    }
    FusedModel m = FusedModel.load(model, o.build());
    try {
      Signature sig = m.signature(signature);
      call(sig, in -> m.call(signature, in));
      double ms = ms(t0);
      m.fuseResult().handle((r, e) -> null).join(); // the background fuse ends before the next load
      return ms;
    } finally {
      m.close();
    }
  }

  /** One call of {@code sig} on a batch-1 probe, its result discarded. */
  static void call(Signature sig, java.util.function.Function<Map<String, Tensor>, org.tensorflow.Result> run) {
    Map<String, Tensor> in = ProbeInputs.generate(sig, 1, 42);
    try (org.tensorflow.Result r = run.apply(in)) {
      // the first prediction, discarded
    } finally {
      in.values().forEach(Tensor::close);
    }
  }

  private static double median(List<Double> s) {
    double[] v = s.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  private static double ms(long t0) {
    return (System.nanoTime() - t0) / 1e6;
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temporary folder left behind
    }
  }

  @Override
  public String toString() {
    return "FirstPrediction{" + model + ", tags=" + Arrays.toString(tags) + "}";
  }
}
