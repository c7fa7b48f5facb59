package dev.fusedtf;

import static dev.fusedtf.testing.ModelAssertions.assertSameOutputs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.testsupport.NetBuilder;
import java.io.IOException;
import java.util.List;
import java.util.stream.Stream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FusedDiskCacheTest {
  @TempDir Path tmp;

  @Test
  void aRestartLoadsTheFusedModelFromDiskWithoutFoldingAgain() throws IOException {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 12);
    String x = b.input("x", -1, 6, 6, 3);
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", true, false), "bn", 4), "r"));
    Path dir = b.write(tmp.resolve("m"));
    FusedModelOptions opts = FusedModelOptions.builder().fusedCacheDir(tmp.resolve("cache")).build();
    try (FusedModel first = FusedModel.load(dir, opts)) {
      assertTrue(first.report().timingsMs().containsKey("fold"));
      assertTrue(first.isFused());
    }
    try (FusedModel again = FusedModel.load(dir, opts)) {
      assertTrue(again.report().timingsMs().containsKey("diskCacheLoad"), again.report().timingsMs().toString());
      assertFalse(again.report().timingsMs().containsKey("fold"));
      assertEquals(1, again.report().folds().size());
      assertTrue(again.isFused() && again.check().passed());
      assertSameOutputs(dir, again, 1e-5, 1e-4, 1, 3);
    }
    // a changed model misses the cache
    Files.setLastModifiedTime(dir.resolve("saved_model.pb"), FileTime.fromMillis(System.currentTimeMillis() + 5000));
    try (FusedModel changed = FusedModel.load(dir, opts)) {
      assertTrue(changed.report().timingsMs().containsKey("fold"));
    }
  }

  private Path model(long seed, String name) {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, seed);
    String x = b.input("x", -1, 6, 6, 3);
    b.output("y", b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", true, false), "bn", 4), "r"));
    return b.write(tmp.resolve(name));
  }

  private static boolean fromCache(FusedModel m) {
    return m.report().timingsMs().containsKey("diskCacheLoad");
  }

  private static List<Path> entries(Path cache) throws IOException {
    try (Stream<Path> s = Files.list(cache)) {
      return s.filter(p -> !p.getFileName().toString().startsWith(".")).toList();
    }
  }

  @Test
  void anEntryOfAnotherLibraryBuildOrWithOtherOptionsIsNeverServed() throws IOException {
    Path dir = model(31, "m2");
    Path cache = tmp.resolve("cache2");
    FusedModelOptions opts = FusedModelOptions.builder().fusedCacheDir(cache).build();
    FusedModel.load(dir, opts).close();
    try (FusedModel again = FusedModel.load(dir, opts)) {
      assertTrue(fromCache(again));
    }
    // other options that change the artifact: another key, so a miss (and a second entry)
    FusedModelOptions other = opts.toBuilder().tolerance(1e-3, 1e-3).build();
    try (FusedModel m = FusedModel.load(dir, other)) {
      assertFalse(fromCache(m), "other tolerances must not reuse the entry");
    }
    assertEquals(2, entries(cache).size());
    // an entry whose manifest names another library build (a release that fixed a fold) is ignored and rewritten
    for (Path e : entries(cache)) {
      Path manifest = e.resolve("fusedtf-manifest.json");
      Files.writeString(manifest, Files.readString(manifest).replaceAll("\"library\": \"[^\"]*\"",
          "\"library\": \"0.0.1+old\""));
    }
    try (FusedModel m = FusedModel.load(dir, opts)) {
      assertFalse(fromCache(m), "an entry of another library build must not be served");
      assertTrue(m.isFused());
    }
    try (FusedModel m = FusedModel.load(dir, opts)) {
      assertTrue(fromCache(m), "the entry was rewritten by this build");
    }
  }

  @Test
  void aCorruptOrForeignEntryIsIgnoredAndRewritten() throws IOException {
    Path dir = model(32, "m3");
    Path cache = tmp.resolve("cache3");
    FusedModelOptions opts = FusedModelOptions.builder().fusedCacheDir(cache).build();
    FusedModel.load(dir, opts).close();
    Path entry = entries(cache).get(0);
    byte[] pb = Files.readAllBytes(entry.resolve("saved_model.pb"));
    pb[pb.length / 2] ^= 0x5a; // a flipped byte: the checksum in the manifest no longer holds
    Files.write(entry.resolve("saved_model.pb"), pb);
    try (FusedModel m = FusedModel.load(dir, opts)) {
      assertFalse(fromCache(m));
      assertSameOutputs(dir, m, 1e-5, 1e-4, 1);
    }
    Files.delete(entries(cache).get(0).resolve("fusedtf-manifest.json")); // a foreign folder: no manifest
    try (FusedModel m = FusedModel.load(dir, opts)) {
      assertFalse(fromCache(m));
    }
    try (FusedModel m = FusedModel.load(dir, opts)) {
      assertTrue(fromCache(m));
    }
  }

  @Test
  void theCacheStaysUnderItsSizeCapByDroppingTheLeastRecentlyUsed() throws IOException {
    Path cache = tmp.resolve("cache4");
    Path a = model(41, "a");
    Path b = model(42, "b");
    FusedModelOptions opts = FusedModelOptions.builder().fusedCacheDir(cache).build();
    FusedModel.load(a, opts).close();
    long one = 0;
    for (Path e : entries(cache)) {
      try (Stream<Path> s = Files.walk(e)) {
        one += s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
      }
    }
    FusedModelOptions capped = opts.toBuilder().fusedCacheMaxBytes(one + one / 2).build(); // room for one entry
    FusedModel.load(b, capped).close();
    assertEquals(1, entries(cache).size(), "the older entry was evicted");
    try (FusedModel m = FusedModel.load(b, capped)) {
      assertTrue(fromCache(m));
    }
    try (FusedModel m = FusedModel.load(a, capped)) {
      assertFalse(fromCache(m), "a's entry was evicted");
    }
  }
}
