package dev.fusedtf.internal.source;

import dev.fusedtf.errors.FusedTfException;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;

/**
 * The {@code ModelWriter} writes models so that a failure leaves nothing half-written: everything goes to a
 * temporary sibling first and is moved into place at the end. An existing output is replaced only with
 * {@code force}.
 */
public final class ModelWriter {
  private ModelWriter() {}

  /**
   * Writes a SavedModel directory holding {@code meta}; the {@code assets} and {@code assets.extra} folders of
   * {@code copyAssetsFrom} (if not null) are copied in.
   */
  public static void writeSavedModel(Path out, MetaGraphDef meta, Path copyAssetsFrom, boolean force) {
    writeSavedModel(out, meta, copyAssetsFrom, null, force);
  }

  /**
   * Writes a SavedModel directory holding {@code meta}, with the assets of {@code copyAssetsFrom} and, when
   * {@code variablesDir} is not null, a copy of that {@code variables/} folder.
   */
  public static void writeSavedModel(Path out, MetaGraphDef meta, Path copyAssetsFrom, Path variablesDir,
      boolean force) {
    checkTarget(out, force);
    Path tmp = sibling(out);
    try {
      SavedModelFiles.writeSavedModelPb(tmp, meta);
      if (variablesDir != null) {
        copyTree(variablesDir, tmp.resolve("variables"));
      }
      if (copyAssetsFrom != null) {
        for (String d : new String[] {"assets", "assets.extra"}) {
          Path src = copyAssetsFrom.resolve(d);
          if (Files.isDirectory(src)) {
            copyTree(src, tmp.resolve(d));
          }
        }
      }
      moveIntoPlace(tmp, out, force);
    } catch (IOException e) {
      SavedModelFiles.deleteTree(tmp);
      throw new FusedTfException("cannot write SavedModel to " + out + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      SavedModelFiles.deleteTree(tmp);
      throw e;
    }
  }

  /** Copies a whole SavedModel directory (graph, variables, assets). */
  public static void copySavedModel(Path source, Path out, boolean force) {
    checkTarget(out, force);
    Path tmp = sibling(out);
    try {
      copyTree(source, tmp);
      moveIntoPlace(tmp, out, force);
    } catch (IOException e) {
      SavedModelFiles.deleteTree(tmp);
      throw new FusedTfException("cannot copy SavedModel " + source + " to " + out + ": " + e.getMessage(), e);
    }
  }

  /** Writes a binary frozen GraphDef file. */
  public static void writeGraphDef(Path out, GraphDef graph, boolean force) {
    checkTarget(out, force);
    Path tmp = sibling(out);
    try {
      if (out.toAbsolutePath().getParent() != null) {
        Files.createDirectories(out.toAbsolutePath().getParent());
      }
      Files.write(tmp, graph.toByteArray());
      moveIntoPlace(tmp, out, force);
    } catch (IOException e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // best effort
      }
      throw new FusedTfException("cannot write GraphDef to " + out + ": " + e.getMessage(), e);
    }
  }

  private static void checkTarget(Path out, boolean force) {
    if (Files.exists(out) && !force) {
      throw new FusedTfException("output " + out + " already exists (use --force to replace it)");
    }
  }

  private static Path sibling(Path out) {
    Path abs = out.toAbsolutePath();
    return abs.resolveSibling("." + abs.getFileName() + ".fusedtf-tmp-" + ProcessHandle.current().pid());
  }

  private static void moveIntoPlace(Path tmp, Path out, boolean force) throws IOException {
    if (force && Files.exists(out)) {
      if (Files.isDirectory(out)) {
        SavedModelFiles.deleteTree(out);
      } else {
        Files.delete(out);
      }
    }
    try {
      Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, out);
    }
  }

  private static void copyTree(Path src, Path dst) throws IOException {
    try (Stream<Path> files = Files.walk(src)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Path t = dst.resolve(src.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }
}
