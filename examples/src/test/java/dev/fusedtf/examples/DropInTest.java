package dev.fusedtf.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The promise "replace {@code SavedModelBundle} with {@code FusedModel} and keep your code", proved by compiling: an
 * ordinary TensorFlow Java client is compiled as written and again with only the type name (and its import) swapped,
 * both run on a real Keras and a real TF1 SavedModel, and their outputs agree. README's snippet compiles too.
 */
class DropInTest {
  @TempDir Path tmp;

  private static String clientSource() throws IOException {
    try (InputStream in = DropInTest.class.getResourceAsStream("/dropin/Client.java")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** The one change a user makes: the type name and its import. */
  static String swapped(String source) {
    return source.replace("import org.tensorflow.SavedModelBundle;", "import dev.fusedtf.FusedModel;")
        .replace("SavedModelBundle", "FusedModel");
  }

  private static Class<?> compile(Path dir, String className, String source) throws Exception {
    Files.createDirectories(dir);
    Path file = dir.resolve(className + ".java");
    Files.writeString(file, source);
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    java.io.ByteArrayOutputStream errors = new java.io.ByteArrayOutputStream();
    int rc = javac.run(null, errors, errors, "-classpath", System.getProperty("java.class.path"), "-d", dir.toString(),
        file.toString());
    assertEquals(0, rc, "compiles:\n" + errors.toString(StandardCharsets.UTF_8));
    URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, DropInTest.class.getClassLoader());
    return loader.loadClass(className);
  }

  @SuppressWarnings("unchecked")
  private static List<Object> run(Class<?> client, Path model) throws Exception {
    Method m = client.getMethod("run", String.class);
    return (List<Object>) m.invoke(null, model.toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"tf2-keras-kws-dscnn-bias-bn", "tf1-savedmodel-pbtxt-mlp-bn"})
  void theClientCompiledAgainstFusedModelGivesTheSameOutputs(String name) throws Exception {
    Path model = dev.fusedtf.testsupport.SharedModels.model(name);
    String source = clientSource();
    List<Object> plain = run(compile(tmp.resolve("plain"), "Client", source), model);
    List<Object> fused = run(compile(tmp.resolve("fused"), "Client", swapped(source)), model);
    assertEquals(plain.size(), fused.size());
    for (int i = 0; i < plain.size(); i++) {
      if (plain.get(i) instanceof float[] a) {
        float[] b = (float[]) fused.get(i);
        assertEquals(a.length, b.length, "output " + i);
        double scale = 0;
        double diff = 0;
        for (int k = 0; k < a.length; k++) {
          scale = Math.max(scale, Math.abs(a[k]));
          diff = Math.max(diff, Math.abs(a[k] - b[k]));
        }
        assertTrue(diff <= 1e-5 || diff <= 1e-4 * scale, name + " output " + i + ": max diff " + diff);
      } else {
        assertEquals(plain.get(i), fused.get(i), name + " value " + i + " (function and signature counts)");
      }
    }
  }

  @Test
  void readmeJavaSnippetIsTheOneLineSwapAndCompiles() throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"));
    Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
    assertTrue(m.find(), "README has a Java snippet");
    String snippet = m.group(1);
    assertTrue(snippet.contains("// before: SavedModelBundle model = SavedModelBundle.load(dir, \"serve\");"), snippet);
    assertTrue(snippet.contains("FusedModel model = FusedModel.load(dir, \"serve\")"), snippet);
    String source = "import dev.fusedtf.FusedModel;\nimport java.util.Map;\nimport org.tensorflow.Result;\n"
        + "import org.tensorflow.Tensor;\n"
        + "public final class Snippet {\n  static void use(String dir, Map<String, Tensor> inputs) {\n"
        + snippet.replaceAll("(?m)^", "    ") + "\n  }\n}\n";
    compile(tmp.resolve("snippet"), "Snippet", source);
  }
}
