package dev.fusedtf.examples;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** The real models in {@code shared/models} above the repository: skipped when absent, a failure when CI=true. */
final class SharedModelsHere {
  private SharedModelsHere() {}

  static Path model(String name) {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path dir = p.resolve("shared").resolve("models").resolve(name);
      if (Files.isDirectory(dir)) {
        return dir;
      }
    }
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail("CI=true but the shared model " + name + " is missing");
    }
    assumeTrue(false, "shared model " + name + " not present");
    return null;
  }
}
