package dev.fusedtf.internal.source;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;

/** Reading and writing the files of a SavedModel directory. */
public final class SavedModelFiles {
  /** Folders of a SavedModel that hold data besides {@code saved_model.pb}. */
  public static final String[] DATA_DIRS = {"variables", "assets", "assets.extra"};

  private SavedModelFiles() {}

  /** Writes {@code saved_model.pb} holding exactly this one meta graph into {@code dir}. */
  public static void writeSavedModelPb(Path dir, MetaGraphDef meta) throws IOException {
    SavedModel sm = SavedModel.newBuilder().setSavedModelSchemaVersion(1).addMetaGraphs(meta).build();
    Files.createDirectories(dir);
    Files.write(dir.resolve("saved_model.pb"), sm.toByteArray());
  }

  /**
   * Makes {@code dir} a SavedModel with {@code meta} as its graph and the data folders of {@code source}
   * (variables, assets) linked in by symbolic links, so nothing large is copied.
   */
  public static void writeLinked(Path source, MetaGraphDef meta, Path dir) throws IOException {
    writeSavedModelPb(dir, meta);
    for (String d : DATA_DIRS) {
      Path src = source.resolve(d);
      if (Files.isDirectory(src)) {
        Files.createSymbolicLink(dir.resolve(d), src.toAbsolutePath());
      }
    }
  }

  /** Deletes a directory tree (symbolic links are removed, never followed). Quietly ignores a missing dir. */
  public static void deleteTree(Path dir) {
    if (dir == null || !Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try {
      Files.walkFileTree(dir, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.delete(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
          Files.delete(d);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + dir, e);
    }
  }
}
