package dev.fusedtf.internal.fuse;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** This build of the library: its version and build id, as the build wrote them (part of every disk-cache key). */
public final class LibraryVersion {
  private static final String ID = load();

  private LibraryVersion() {}

  /** {@code version+build}, e.g. {@code 0.1.0-SNAPSHOT+20261202T201500123}. */
  public static String id() {
    return ID;
  }

  private static String load() {
    Properties p = new Properties();
    try (InputStream in = LibraryVersion.class.getResourceAsStream("/dev/fusedtf/fusedtf-build.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      // fall through to the unknown id
    }
    String v = p.getProperty("version", "unknown");
    String b = p.getProperty("build", "unknown");
    if (v.startsWith("${") || b.startsWith("${")) {
      return "unfiltered-" + System.identityHashCode(LibraryVersion.class); // a dev build: never share entries
    }
    return v + "+" + b;
  }
}
