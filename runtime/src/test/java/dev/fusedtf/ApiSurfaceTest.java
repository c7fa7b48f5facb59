package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The public API is what docs/api.md lists, nothing more: every public type outside {@code dev.fusedtf.internal} is in
 * its table of exported types, and no public or protected member of those types names an internal type (which would
 * make an internal package part of the API in all but name).
 */
class ApiSurfaceTest {
  private static final Path CLASSES = Path.of("target", "classes");
  private static final Path API_DOC = Path.of("..", "docs", "api.md");

  /** Every public type (nested ones included) outside the internal packages, by canonical name. */
  static Set<Class<?>> exported() throws IOException {
    Set<Class<?>> out = new java.util.LinkedHashSet<>();
    try (Stream<Path> s = Files.walk(CLASSES.resolve("dev"))) {
      for (Path p : (Iterable<Path>) s::iterator) {
        String rel = CLASSES.relativize(p).toString().replace('\\', '/');
        if (!rel.endsWith(".class") || rel.startsWith("dev/fusedtf/internal/")) {
          continue;
        }
        String name = rel.substring(0, rel.length() - ".class".length()).replace('/', '.');
        Class<?> c;
        try {
          c = Class.forName(name, false, ApiSurfaceTest.class.getClassLoader());
        } catch (ClassNotFoundException e) {
          throw new IllegalStateException(e);
        }
        if (isVisible(c) && !c.isAnonymousClass() && !c.isSynthetic()) {
          out.add(c);
        }
      }
    }
    return out;
  }

  private static boolean isVisible(Class<?> c) {
    for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
      if (!Modifier.isPublic(k.getModifiers())) {
        return false;
      }
    }
    return true;
  }

  @Test
  void docsApiListsExactlyTheExportedTypes() throws IOException {
    Set<String> actual = new TreeSet<>();
    for (Class<?> c : exported()) {
      actual.add(c.getCanonicalName());
    }
    String doc = Files.readString(API_DOC);
    int start = doc.indexOf("## Exported types");
    assertTrue(start >= 0, "docs/api.md has a section '## Exported types'");
    int end = doc.indexOf("\n## ", start + 1);
    String section = doc.substring(start, end < 0 ? doc.length() : end);
    Set<String> documented = new TreeSet<>();
    Matcher m = Pattern.compile("^\\| `(dev\\.fusedtf\\.[A-Za-z0-9_.]+)`", Pattern.MULTILINE).matcher(section);
    while (m.find()) {
      documented.add(m.group(1));
    }
    Set<String> missing = new TreeSet<>(actual);
    missing.removeAll(documented);
    Set<String> stale = new TreeSet<>(documented);
    stale.removeAll(actual);
    assertTrue(missing.isEmpty() && stale.isEmpty(), "public types not in docs/api.md: " + missing
        + "; listed there but not public: " + stale);
    assertTrue(actual.size() < 60, "the API should fit on one screen, has " + actual.size() + " types");
  }

  @Test
  void noExportedMemberNamesAnInternalType() throws IOException {
    List<String> leaks = new ArrayList<>();
    for (Class<?> c : exported()) {
      check(leaks, c + " extends", c.getGenericSuperclass());
      for (Type t : c.getGenericInterfaces()) {
        check(leaks, c + " implements", t);
      }
      for (Method mt : c.getDeclaredMethods()) {
        if (visible(mt) && !mt.isSynthetic()) {
          check(leaks, mt.toString(), mt.getGenericReturnType());
          for (Type t : mt.getGenericParameterTypes()) {
            check(leaks, mt.toString(), t);
          }
          for (Type t : mt.getGenericExceptionTypes()) {
            check(leaks, mt.toString(), t);
          }
        }
      }
      for (Constructor<?> k : c.getDeclaredConstructors()) {
        if (visible(k)) {
          for (Type t : k.getGenericParameterTypes()) {
            check(leaks, k.toString(), t);
          }
        }
      }
      for (Field f : c.getDeclaredFields()) {
        if (visible(f)) {
          check(leaks, f.toString(), f.getGenericType());
        }
      }
    }
    assertEquals(List.of(), leaks, "exported members that name internal types");
  }

  private static boolean visible(Member m) {
    return Modifier.isPublic(m.getModifiers()) || Modifier.isProtected(m.getModifiers());
  }

  private static void check(List<String> leaks, String where, Type t) {
    if (t == null) {
      return;
    }
    if (t instanceof Class<?> c) {
      Class<?> k = c.isArray() ? c.getComponentType() : c;
      if (k.getName().startsWith("dev.fusedtf.internal.")) {
        leaks.add(where + " -> " + k.getName());
      }
    } else if (t instanceof ParameterizedType p) {
      check(leaks, where, p.getRawType());
      for (Type a : p.getActualTypeArguments()) {
        check(leaks, where, a);
      }
    } else if (t instanceof WildcardType w) {
      for (Type b : w.getUpperBounds()) {
        check(leaks, where, b);
      }
      for (Type b : w.getLowerBounds()) {
        check(leaks, where, b);
      }
    }
  }
}
