package dev.fusedtf.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;

/** Writing and deleting the files of the models these builders make. */
public final class ModelFiles {
  private ModelFiles() {}

  /** Writes {@code saved_model.pb} holding exactly this one meta graph into {@code dir}. */
  public static void writeSavedModelPb(Path dir, MetaGraphDef meta) throws IOException {
    Files.createDirectories(dir);
    Files.write(dir.resolve("saved_model.pb"),
        SavedModel.newBuilder().setSavedModelSchemaVersion(1).addMetaGraphs(meta).build().toByteArray());
  }

  /** Deletes a directory tree (symbolic links are removed, never followed); a missing one is ignored. */
  public static void deleteTree(Path dir) {
    if (dir == null || !Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
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
