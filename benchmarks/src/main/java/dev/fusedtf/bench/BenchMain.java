package dev.fusedtf.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

/**
 * Command line of the {@link AbHarness}:
 *
 * <pre>
 * BenchMain &lt;model-dir&gt; [--batches 1,32] [--rounds 200] [--warmup 20] [--budget 20] [--json] [--out FILE]
 *           [--tags serve] [--signature serving_default] [--seed 42] [--no-process-warmup]
 * </pre>
 *
 * <p>Prints a text table (or, with {@code --json}, the JSON report) on stdout; progress goes to stderr.
 * {@code --out FILE} also writes the JSON report to FILE. Exit status 0, 2 on bad arguments, 1 on failure.
 */
public final class BenchMain {
  private BenchMain() {}

  static final String USAGE = """
      usage: BenchMain <model-dir> [options]
        --batches 1,32                 batch sizes (default 1,32)
        --rounds N                     ABBA rounds per batch at most, 2 samples per side each (default 200)
        --warmup N                     warm-up calls per side per batch (default 20)
        --budget SECONDS               stop the rounds of a batch after this long (default 20)
        --tags serve[,other]           MetaGraph tags (default serve)
        --signature KEY                signature key (default serving_default)
        --seed N                       seed of the random inputs (default 42)
        --json                         print the JSON report instead of the table
        --out FILE                     also write the JSON report to FILE
        --no-process-warmup            skip the throw-away load + call before the first batch
      """;

  /** Entry point. */
  public static void main(String[] args) {
    int rc = run(args);
    if (rc != 0) {
      System.exit(rc);
    }
  }

  static int run(String[] args) {
    Parsed p;
    try {
      p = parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.err.print(USAGE);
      return 2;
    }
    if (p == null) {
      System.out.print(USAGE);
      return 0;
    }
    try {
      AbReport report = new AbHarness(p.config(), System.err).run();
      System.out.print(p.json() ? report.toJson() + "\n" : report.toText());
      if (p.out() != null) {
        report.writeJson(p.out());
      }
      return 0;
    } catch (IOException | RuntimeException e) {
      System.err.println("error: " + e);
      e.printStackTrace(System.err);
      return 1;
    }
  }

  /** Parsed arguments. */
  record Parsed(AbHarness.Config config, boolean json, Path out) {}

  /** Parses {@code args}; null means help was asked. @throws IllegalArgumentException on bad arguments */
  static Parsed parse(String[] args) {
    Path dir = null;
    String[] tags = {"serve"};
    String signature = "serving_default";
    int[] batches = {1, 32};
    int rounds = 200;
    int warmup = 20;
    double budget = 20;
    long seed = 42;
    boolean json = false;
    boolean processWarmup = true;
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String value = null;
      int eq = a.indexOf('=');
      if (a.startsWith("--") && eq > 0) {
        value = a.substring(eq + 1);
        a = a.substring(0, eq);
      }
      switch (a) {
        case "-h", "--help" -> {
          return null;
        }
        case "--json" -> json = true;
        case "--no-process-warmup" -> processWarmup = false;
        case "--batches", "--rounds", "--warmup", "--budget", "--tags", "--signature", "--seed", "--out" -> {
          if (value == null) {
            if (i + 1 >= args.length) {
              throw new IllegalArgumentException(a + " needs a value");
            }
            value = args[++i];
          }
          try {
            switch (a) {
              case "--batches" -> batches = Arrays.stream(value.split(",")).map(String::trim)
                  .mapToInt(Integer::parseInt).toArray();
              case "--rounds" -> rounds = Integer.parseInt(value);
              case "--warmup" -> warmup = Integer.parseInt(value);
              case "--budget" -> budget = Double.parseDouble(value);
              case "--tags" -> tags = value.split(",");
              case "--signature" -> signature = value;
              case "--seed" -> seed = Long.parseLong(value);
              default -> out = Path.of(value);
            }
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad value for " + a + ": " + value);
          }
        }
        default -> {
          if (a.startsWith("-")) {
            throw new IllegalArgumentException("unknown option " + a);
          }
          if (dir != null) {
            throw new IllegalArgumentException("more than one model directory: " + dir + ", " + a);
          }
          dir = Path.of(a);
        }
      }
    }
    if (dir == null) {
      throw new IllegalArgumentException("missing <model-dir>");
    }
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("not a directory: " + dir);
    }
    if (!(budget > 0) || Double.isInfinite(budget)) {
      throw new IllegalArgumentException("--budget must be a positive number of seconds");
    }
    AbHarness.Config c = new AbHarness.Config(dir, tags, signature, batches, rounds, warmup,
        Duration.ofMillis(Math.round(budget * 1000)), seed, processWarmup);
    return new Parsed(c, json, out);
  }
}
