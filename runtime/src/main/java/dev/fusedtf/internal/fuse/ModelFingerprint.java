package dev.fusedtf.internal.fuse;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The {@code ModelFingerprint} summarises the files of a SavedModel directory so that a changed model gets a
 * new cache entry: the relative path, size and modification time of every regular file, plus the SHA-256 of
 * the graph ({@code saved_model.pb} or {@code .pbtxt}) and of {@code variables/variables.index} (which names
 * every variable's shard, offset and checksum, so changed weights change it too). The hashes are remembered per
 * directory and reused while no file's size or modification time changes, so a lookup costs a directory walk.
 */
public final class ModelFingerprint {
  private static final List<String> HASHED =
      List.of("saved_model.pb", "saved_model.pbtxt", "variables/variables.index");

  private ModelFingerprint() {}

  /** The fingerprint of the model in {@code dir} (a real path), as lowercase hex. */
  public static String of(Path dir) throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.walk(dir, FileVisitOption.FOLLOW_LINKS)) {
      files = s.filter(Files::isRegularFile)
          .sorted((a, b) -> dir.relativize(a).toString().compareTo(dir.relativize(b).toString()))
          .collect(Collectors.toList());
    }
    StringBuilder listing = new StringBuilder();
    for (Path f : files) {
      listing.append(dir.relativize(f).toString().replace('\\', '/')).append('\0').append(Files.size(f))
          .append('\0').append(Files.getLastModifiedTime(f).toMillis()).append('\n');
    }
    String stat = listing.toString();
    Memo memo = MEMO.get(dir);
    if (memo != null && memo.listing().equals(stat)) {
      return memo.fingerprint(); // same files, sizes and times: the hashes below would not change
    }
    MessageDigest md = sha256();
    md.update(stat.getBytes(StandardCharsets.UTF_8));
    byte[] buf = new byte[64 * 1024];
    for (String name : HASHED) {
      Path f = dir.resolve(name);
      if (Files.isRegularFile(f)) {
        md.update(("#" + name + '\n').getBytes(StandardCharsets.UTF_8));
        try (InputStream in = Files.newInputStream(f)) {
          for (int n; (n = in.read(buf)) > 0; ) {
            md.update(buf, 0, n);
          }
        }
      }
    }
    String fingerprint = HexFormat.of().formatHex(md.digest());
    MEMO.put(dir, new Memo(stat, fingerprint));
    return fingerprint;
  }

  /** The last fingerprint computed per directory, with the file listing it was computed from. */
  private record Memo(String listing, String fingerprint) {}

  private static final java.util.Map<Path, Memo> MEMO = new java.util.concurrent.ConcurrentHashMap<>();

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }
}
