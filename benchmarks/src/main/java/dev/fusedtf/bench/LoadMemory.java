package dev.fusedtf.bench;

import dev.fusedtf.FusedModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;

/**
 * The {@code LoadMemory} measures resident memory of loading a model, one fresh JVM per way (the same ways as
 * {@link FirstPrediction}): each child loads the model, makes one prediction, waits for a background fuse to end,
 * and reports the kernel's figures for itself from {@code /proc/self/status}: the peak resident set ({@code VmHWM},
 * which covers the whole load) and the resident set while serving afterwards ({@code VmRSS}). Linux only.
 */
public final class LoadMemory {
  /**
   * One way's figures, in MiB.
   *
   * @param peakMiB peak resident memory of the process (load included)
   * @param servingMiB resident memory after the first prediction (and the background fuse)
   */
  public record Figures(double peakMiB, double servingMiB) {}

  private LoadMemory() {}

  /** Runs one child JVM per way and collects its figures. */
  public static Map<FirstPrediction.Way, Figures> measure(Path model, String signature) {
    Map<FirstPrediction.Way, Figures> out = new EnumMap<>(FirstPrediction.Way.class);
    Path cache;
    try {
      cache = Files.createTempDirectory("fusedtf-load-memory");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    for (FirstPrediction.Way way : FirstPrediction.Way.values()) {
      if (way == FirstPrediction.Way.DISK_CACHE) {
        try (FusedModel fill = FusedModel.load(model,
            FirstPrediction.options(way, new String[] {"serve"}, cache).build())) {
          // fills the cache in this process, before the child reads it
        }
      }
      out.put(way, child(model, signature, way, cache));
    }
    return out;
  }

  /** A table for people. */
  public static String toText(Map<FirstPrediction.Way, Figures> figures) {
    Figures plain = figures.get(FirstPrediction.Way.PLAIN);
    StringBuilder b = new StringBuilder("resident memory, one fresh JVM per way (VmHWM = peak during load and first "
        + "prediction, VmRSS = while serving afterwards)\n");
    for (Map.Entry<FirstPrediction.Way, Figures> e : figures.entrySet()) {
      b.append(String.format(Locale.ROOT, "  %-36s peak %7.1f MiB (%4.2fx plain)   serving %7.1f MiB (%4.2fx plain)%n",
          e.getKey().label(), e.getValue().peakMiB(), e.getValue().peakMiB() / plain.peakMiB(),
          e.getValue().servingMiB(), e.getValue().servingMiB() / plain.servingMiB()));
    }
    return b.toString();
  }

  private static Figures child(Path model, String signature, FirstPrediction.Way way, Path cache) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), LoadMemory.class.getName(), model.toString(), signature,
        way.name(), cache.toString()));
    try {
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String line = new String(p.getInputStream().readAllBytes()).trim(); // until the child closes its stdout
      if (!p.waitFor(300, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("the " + way + " child did not end within 300 s");
      }
      if (p.exitValue() != 0 || line.isEmpty()) {
        throw new IllegalStateException("the " + way + " child failed (exit " + p.exitValue() + "): " + line);
      }
      String[] f = line.substring(line.lastIndexOf('\n') + 1).split(" ");
      return new Figures(Double.parseDouble(f[0]) / 1024, Double.parseDouble(f[1]) / 1024);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The child: {@code <model> <signature> <WAY> <cache-dir>}; prints "VmHWM-kB VmRSS-kB". */
  public static void main(String[] args) throws Exception {
    Path model = Path.of(args[0]);
    String signature = args[1];
    FirstPrediction.Way way = FirstPrediction.Way.valueOf(args[2]);
    if (way == FirstPrediction.Way.PLAIN) {
      try (SavedModelBundle b = SavedModelBundle.load(model.toString(), "serve")) {
        Signature sig = b.function(signature).signature();
        FirstPrediction.call(sig, in -> b.session().run(sig, in));
        report();
      }
      return;
    }
    try (FusedModel m = FusedModel.load(model,
        FirstPrediction.options(way, new String[] {"serve"}, Path.of(args[3])).build())) {
      FirstPrediction.call(m.signature(signature), in -> m.call(signature, in));
      m.fuseResult().handle((r, e) -> null).join();
      report();
    }
  }

  private static void report() throws IOException {
    System.gc();
    long hwm = 0;
    long rss = 0;
    for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (l.startsWith("VmHWM:")) {
        hwm = Long.parseLong(l.replaceAll("\\D", ""));
      } else if (l.startsWith("VmRSS:")) {
        rss = Long.parseLong(l.replaceAll("\\D", ""));
      }
    }
    System.out.println(hwm + " " + rss);
  }
}
