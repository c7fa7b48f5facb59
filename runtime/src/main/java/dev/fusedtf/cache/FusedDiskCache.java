package dev.fusedtf.cache;

import dev.fusedtf.FoldReport;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.fold.Pass;
import dev.fusedtf.formats.SavedModelFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.proto.MetaGraphDef;

/**
 * The {@code FusedDiskCache} keeps fused models on disk so that a restart skips folding and checking. An entry is
 * a folder named by the SHA-256 of the model's {@link ModelFingerprint} and the options that decide the fold and
 * the check; it holds the fused {@code saved_model.pb}, the report, and links to the original's
 * {@code variables/} and {@code assets/}. Entries are written to a temporary folder and moved into place, so a
 * half-written entry is never read. A changed model has another fingerprint, so it misses.
 */
public final class FusedDiskCache {
  private static final Logger LOG = LoggerFactory.getLogger(FusedDiskCache.class);
  private static final String REPORT = "fusedtf-report.json";

  private final Path root;

  /** A cache under {@code root} (created when first written). */
  public FusedDiskCache(Path root) {
    this.root = root;
  }

  /** A cached fused model: its SavedModel folder and its report. */
  public record Entry(Path dir, FoldReport report) {}

  /** The key of {@code modelDir} loaded with {@code options}. */
  public static String key(Path modelDir, FusedModelOptions options) throws IOException {
    StringBuilder sb = new StringBuilder(ModelFingerprint.of(modelDir.toRealPath()));
    sb.append('|').append(String.join(",", options.tags()))
        .append('|').append(options.disabledPasses())
        .append('|').append(options.absTolerance()).append(',').append(options.relTolerance())
        .append('|').append(Arrays.toString(options.probeBatches())).append('|').append(options.seed());
    for (Pass p : options.extraPasses()) {
      sb.append('|').append(p.getClass().getName()).append(':').append(p.name());
    }
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(sb.toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The entry for {@code key}, if a complete one is there. */
  public Optional<Entry> find(String key) {
    Path dir = root.resolve(key);
    Path report = dir.resolve(REPORT);
    if (!Files.isRegularFile(report) || !Files.isRegularFile(dir.resolve("saved_model.pb"))) {
      return Optional.empty();
    }
    try {
      return Optional.of(new Entry(dir, FoldReport.fromJson(Files.readString(report))));
    } catch (IOException | RuntimeException e) {
      LOG.warn("ignoring unreadable fused-model cache entry {}: {}", dir, e.toString());
      return Optional.empty();
    }
  }

  /** Stores a fused model (its MetaGraphDef, linked to {@code modelDir}'s variables) and its report. */
  public void store(String key, Path modelDir, MetaGraphDef fusedMeta, FoldReport report) {
    Path dir = root.resolve(key);
    Path tmp = root.resolve("." + key + ".tmp-" + ProcessHandle.current().pid());
    try {
      Files.createDirectories(root);
      SavedModelFiles.deleteTree(tmp);
      SavedModelFiles.writeLinked(modelDir.toRealPath(), fusedMeta, tmp);
      Files.writeString(tmp.resolve(REPORT), report.toJson());
      if (Files.exists(dir)) {
        SavedModelFiles.deleteTree(dir);
      }
      try {
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, dir);
      }
    } catch (IOException | RuntimeException e) {
      LOG.warn("could not store the fused model in {}: {}", dir, e.toString());
      SavedModelFiles.deleteTree(tmp);
    }
  }
}
