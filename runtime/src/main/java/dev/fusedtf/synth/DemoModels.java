package dev.fusedtf.synth;

import java.nio.file.Path;
import java.util.List;

/** Synthetic demo SavedModels written in the layout Keras uses (being written: API fixed, body pending). */
public final class DemoModels {
  private DemoModels() {}

  /** A demo model on disk: its name, its folder, and a one-line description. */
  public record Demo(String name, Path dir, String description) {}

  /**
   * Writes the demo models under {@code root} (one folder each), reusing folders already written there.
   * Returns them in a fixed order.
   */
  public static List<Demo> writeAll(Path root) {
    throw new UnsupportedOperationException("pending");
  }
}
