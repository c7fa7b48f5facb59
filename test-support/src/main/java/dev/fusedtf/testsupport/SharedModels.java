package dev.fusedtf.testsupport;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the real models in {@code ../shared/models} beside the repository. When the folder is missing the test
 * is skipped on a developer machine, but fails when {@code CI=true}: CI always has it.
 */
public final class SharedModels {
  private SharedModels() {}

  /** The folder, searched upward from the working directory. */
  public static Path root() {
    String prop = System.getProperty("fusedtf.sharedModels");
    if (prop != null) {
      return Path.of(prop);
    }
    Path p = Path.of("").toAbsolutePath();
    while (p != null) {
      Path candidate = p.resolve("shared").resolve("models");
      if (Files.isDirectory(candidate)) {
        return candidate;
      }
      p = p.getParent();
    }
    return null;
  }

  /** The model folder {@code name}; skips (or fails under CI) when absent. */
  public static Path model(String name) {
    Path root = root();
    Path dir = root == null ? null : root.resolve(name);
    boolean present = dir != null && Files.isDirectory(dir);
    if (!present) {
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail("CI=true but the shared model " + name + " is missing (looked for shared/models above "
            + Path.of("").toAbsolutePath() + ")");
      }
      assumeTrue(false, "shared model " + name + " not present");
    }
    return dir;
  }
}
