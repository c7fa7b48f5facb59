package dev.fusedtf.internal.fuse;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.fusedtf.internal.source.SavedModelFiles;
import dev.fusedtf.report.FoldReport;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.proto.MetaGraphDef;

/**
 * The {@code FusedDiskCache} keeps checked fused models on disk so that a restart skips folding and checking. An
 * entry is a folder named by the SHA-256 of the model's {@link ModelFingerprint}, every option that can change the
 * artifact, and the library's build ({@link LibraryVersion}); it holds the fused {@code saved_model.pb}, the report,
 * and a manifest with all three and the checksum of the graph. A lookup serves an entry only when its manifest
 * matches exactly and the checksum holds; anything else (another library build, other options, a corrupt or
 * half-written entry, a foreign folder) is ignored, removed and rewritten. Entries are written to a temporary
 * folder and moved into place; the cache is kept under a size cap by removing the least recently used entries.
 */
public final class FusedDiskCache {
  private static final Logger LOG = LoggerFactory.getLogger(FusedDiskCache.class);
  private static final String REPORT = "fusedtf-report.json";
  private static final String MANIFEST = "fusedtf-manifest.json";
  private static final int FORMAT = 2;
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

  private final Path root;
  private final long maxBytes;

  /** A cache under {@code root} (created when first written) holding at most {@code maxBytes} (0 = no cap). */
  public FusedDiskCache(Path root, long maxBytes) {
    this.root = root;
    this.maxBytes = maxBytes;
  }

  /** What an entry was made from. */
  record Manifest(int format, String library, String fingerprint, String options, String graphSha256,
      boolean linkedVariables) {}

  /** A cached fused model: its SavedModel folder and its report. */
  public record Entry(Path dir, FoldReport report, boolean linkedVariables) {}

  /** The key of {@code modelDir} with these artifact-relevant options. */
  public static String key(Path modelDir, String options) throws IOException {
    return sha256((ModelFingerprint.of(modelDir.toRealPath()) + '|' + options + '|' + LibraryVersion.id())
        .getBytes(StandardCharsets.UTF_8));
  }

  /** The entry for {@code key}, if a complete, matching and intact one is there. */
  public Optional<Entry> find(String key, Path modelDir, String options) {
    Path dir = root.resolve(key);
    if (!Files.isDirectory(dir)) {
      return Optional.empty();
    }
    try {
      Manifest m = GSON.fromJson(Files.readString(dir.resolve(MANIFEST)), Manifest.class);
      String fingerprint = ModelFingerprint.of(modelDir.toRealPath());
      String why = m == null ? "no manifest"
          : m.format() != FORMAT ? "format " + m.format()
          : !LibraryVersion.id().equals(m.library()) ? "written by library build " + m.library()
          : !fingerprint.equals(m.fingerprint()) ? "another model"
          : !options.equals(m.options()) ? "other options"
          : !sha256(Files.readAllBytes(dir.resolve("saved_model.pb"))).equals(m.graphSha256()) ? "corrupt graph"
          : null;
      if (why != null) {
        LOG.info("ignoring fused-model cache entry {}: {}; it will be rewritten", dir, why);
        SavedModelFiles.deleteTree(dir);
        return Optional.empty();
      }
      FoldReport report = FoldReport.fromJson(Files.readString(dir.resolve(REPORT)));
      Files.setLastModifiedTime(dir.resolve(MANIFEST), FileTime.fromMillis(System.currentTimeMillis()));
      return Optional.of(new Entry(dir, report, m.linkedVariables()));
    } catch (IOException | RuntimeException e) {
      LOG.warn("ignoring unreadable fused-model cache entry {}: {}; it will be rewritten", dir, e.toString());
      try {
        SavedModelFiles.deleteTree(dir);
      } catch (RuntimeException ignored) {
        // left for the next store to replace
      }
      return Optional.empty();
    }
  }

  /** Stores a fused model and its report; variables it still needs are linked from {@code modelDir}. */
  public void store(String key, Path modelDir, String options, MetaGraphDef fusedMeta, boolean needsVariables,
      FoldReport report) {
    Path dir = root.resolve(key);
    Path tmp = root.resolve("." + key + ".tmp-" + ProcessHandle.current().pid());
    try {
      Files.createDirectories(root);
      SavedModelFiles.deleteTree(tmp);
      if (needsVariables) {
        SavedModelFiles.writeLinked(modelDir.toRealPath(), fusedMeta, tmp);
      } else {
        SavedModelFiles.writeSavedModelPb(tmp, fusedMeta);
      }
      Files.writeString(tmp.resolve(REPORT), report.toJson());
      Manifest m = new Manifest(FORMAT, LibraryVersion.id(), ModelFingerprint.of(modelDir.toRealPath()), options,
          sha256(Files.readAllBytes(tmp.resolve("saved_model.pb"))), needsVariables);
      Files.writeString(tmp.resolve(MANIFEST), GSON.toJson(m));
      SavedModelFiles.deleteTree(dir);
      try {
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, dir);
      }
      evict(dir);
    } catch (IOException | RuntimeException e) {
      LOG.warn("could not store the fused model in {}: {}", dir, e.toString());
      SavedModelFiles.deleteTree(tmp);
    }
  }

  /** Removes the least recently used entries (never {@code keep}) until the cache is under its cap. */
  private void evict(Path keep) throws IOException {
    if (maxBytes <= 0) {
      return;
    }
    record Sized(Path dir, long bytes, long used) {}
    List<Sized> entries = new ArrayList<>();
    try (Stream<Path> s = Files.list(root)) {
      for (Path d : (Iterable<Path>) s::iterator) {
        if (Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS) && !d.getFileName().toString().startsWith(".")) {
          Path m = d.resolve(MANIFEST);
          long used = Files.exists(m) ? Files.getLastModifiedTime(m).toMillis() : 0;
          entries.add(new Sized(d, size(d), used));
        }
      }
    }
    long total = entries.stream().mapToLong(Sized::bytes).sum();
    entries.sort(Comparator.comparingLong(Sized::used));
    for (Sized e : entries) {
      if (total <= maxBytes) {
        break;
      }
      if (!e.dir().equals(keep)) {
        SavedModelFiles.deleteTree(e.dir());
        total -= e.bytes();
        LOG.info("fused-model cache over {} bytes: removed least recently used entry {}", maxBytes, e.dir());
      }
    }
  }

  private static long size(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) { // symbolic links (linked variables) are not followed
      return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).mapToLong(p -> {
        try {
          return Files.size(p);
        } catch (IOException e) {
          return 0;
        }
      }).sum();
    }
  }

  private static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }

}
