package dev.fusedtf.internal.source;

import dev.fusedtf.errors.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Verifies a SavedModel's {@code fingerprint.pb} (written by TensorFlow 2.12+): its {@code saved_model_checksum}
 * (field 1) must be the FarmHash fingerprint of {@code saved_model.pb}. A flipped byte in the graph can change a
 * constant or an attribute and still load; this catches it before anything is loaded.
 */
public final class FingerprintCheck {
  private FingerprintCheck() {}

  /**
   * Checks {@code dir} when it has both files; does nothing otherwise.
   *
   * @throws ModelLoadException when the checksum does not match, or fingerprint.pb cannot be read
   */
  public static void verify(Path dir) {
    Path fp = dir.resolve("fingerprint.pb");
    Path pb = dir.resolve("saved_model.pb");
    if (!Files.isRegularFile(fp) || !Files.isRegularFile(pb)) {
      return;
    }
    long expected;
    byte[] graph;
    try {
      expected = checksum(Files.readAllBytes(fp), fp);
      graph = Files.readAllBytes(pb);
    } catch (IOException e) {
      throw new ModelLoadException("cannot read " + fp + " or " + pb + ": " + e.getMessage(), e);
    }
    long actual = FarmHash.fingerprint64(graph);
    if (actual != expected) {
      throw new ModelLoadException(pb + " does not match its fingerprint.pb (saved_model_checksum "
          + Long.toUnsignedString(expected) + ", file hashes to " + Long.toUnsignedString(actual)
          + "): the file was changed or corrupted after it was written; restore it, or turn the check off with "
          + "verifyFingerprint(false)");
    }
  }

  /** Field 1 (uint64 varint) of a FingerprintDef. */
  private static long checksum(byte[] fp, Path file) {
    int i = 0;
    while (i < fp.length) {
      long tag = 0;
      int shift = 0;
      int b;
      do {
        if (i >= fp.length) {
          throw bad(file);
        }
        b = fp[i++] & 0xff;
        tag |= (long) (b & 0x7f) << shift;
        shift += 7;
      } while ((b & 0x80) != 0);
      int field = (int) (tag >>> 3);
      int wire = (int) (tag & 7);
      if (wire == 1 || wire == 5) {
        i += wire == 1 ? 8 : 4;
        continue;
      }
      if (wire != 0 && wire != 2) {
        throw bad(file);
      }
      long v = 0;
      shift = 0;
      do {
        if (i >= fp.length || shift > 63) {
          throw bad(file);
        }
        b = fp[i++] & 0xff;
        v |= (long) (b & 0x7f) << shift;
        shift += 7;
      } while ((b & 0x80) != 0);
      if (wire == 2) {
        i += (int) v; // a message (the VersionDef): skip it
        continue;
      }
      if (field == 1) {
        return v;
      }
    }
    throw bad(file);
  }

  private static ModelLoadException bad(Path file) {
    return new ModelLoadException(file + " is not a valid FingerprintDef (no saved_model_checksum); remove it or turn "
        + "the check off with verifyFingerprint(false)");
  }
}
