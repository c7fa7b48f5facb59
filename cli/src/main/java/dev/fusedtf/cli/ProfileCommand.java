package dev.fusedtf.cli;

import com.google.gson.GsonBuilder;
import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.bench.AbReport;
import dev.fusedtf.bench.Profiler;
import dev.fusedtf.internal.check.ProbeInputs;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code fusedtf profile}: where one call's time goes in the original and in the fused model, from TensorFlow's step
 * stats: per op type, per node, ops per call and the fixed cost of bookkeeping ops.
 */
@Command(name = "profile", mixinStandardHelpOptions = true,
    description = "Per-op time of the original and the fused model (TensorFlow step stats, FULL_TRACE).")
final class ProfileCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "<model-dir>", description = "SavedModel directory.")
  Path model;

  @Option(names = "--batch", defaultValue = "1", paramLabel = "N", description = "Batch size (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--runs", defaultValue = "50", paramLabel = "N",
      description = "Traced calls per model (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--signature", defaultValue = "serving_default", paramLabel = "KEY",
      description = "Signature to profile (default: ${DEFAULT-VALUE}).")
  String signature;

  @Option(names = "--rows", defaultValue = "12", paramLabel = "N", description = "Op types shown (default: ${DEFAULT-VALUE}).")
  int rows;

  @Option(names = "--json", description = "Print both profiles as JSON.")
  boolean json;

  @Override
  public Integer call() {
    return CliErrors.run(spec, () -> {
      if (batch < 1 || runs < 1) {
        throw new IllegalArgumentException("--batch and --runs must be >= 1");
      }
      try (SavedModelBundle original = SavedModelBundle.load(model.toString(), "serve");
           FusedModel fused = FusedModel.load(model, FusedModelOptions.builder().warmupRuns(0).build())) {
        Signature sig = fused.signature(signature);
        Map<String, Tensor> in = ProbeInputs.generate(sig, batch, 11);
        try {
          Profiler.Profile a = Profiler.profile(original.session(), sig, in, runs);
          Profiler.Profile b = Profiler.profile(fused.session(), sig, in, runs);
          PrintWriter out = spec.commandLine().getOut();
          AbReport.Machine m = AbReport.Machine.current();
          if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", model.toString());
            o.put("batch", batch);
            o.put("machine", m);
            o.put("original", a);
            o.put("fused", b);
            out.println(new GsonBuilder().setPrettyPrinting().create().toJson(o));
          } else {
            out.printf("model %s, signature %s, batch %d; %s; %d traced calls per model%n", model, signature, batch,
                m.describe(), runs);
            out.print(Profiler.toText("original", a, rows));
            out.print(Profiler.toText("fused (" + fused.served() + ", " + fused.report().folds().size() + " folds)", b,
                rows));
            out.printf("fused/original wall: %.3f%n", b.wallMsMedian() / a.wallMsMedian());
          }
          out.flush();
          return 0;
        } finally {
          in.values().forEach(Tensor::close);
        }
      }
    });
  }
}
