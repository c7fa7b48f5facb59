package dev.fusedtf.bench;

import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.internal.check.ProbeInputs;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;

/**
 * JMH benchmark of one call of a SavedModel loaded plainly ({@link #original}) and with {@link FusedModel}
 * ({@link #fused}), both on the same random input. Sized for a 2-core machine: one fork, one thread, 3 x 2 s warm-up,
 * 5 x 2 s measurement. Unlike {@link AbHarness} the two methods run one after the other, not interleaved, so drift
 * between them is not cancelled.
 *
 * <pre>
 * mvn -B -pl benchmarks exec:exec -Djmh.args="FoldedVsOriginalBenchmark -p modelDir=/path/to/model -p batch=1,32"
 * java -cp benchmarks/target/classes:$(cat /tmp/bench.cp) org.openjdk.jmh.Main FoldedVsOriginalBenchmark -p ...
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Threads(1)
@Warmup(iterations = 3, time = 2, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 2, timeUnit = TimeUnit.SECONDS)
public class FoldedVsOriginalBenchmark {

  /** The SavedModel directory. */
  @Param({"/work/shared/models/tf2-keras-kws-dscnn-bias-bn"})
  public String modelDir;

  /** Batch size of the input. */
  @Param({"1", "32"})
  public int batch;

  /** MetaGraph tag. */
  @Param({"serve"})
  public String tag;

  /** Signature key. */
  @Param({"serving_default"})
  public String signature;

  private SavedModelBundle originalModel;
  private FusedModel fusedModel;
  private Signature sig;
  private Map<String, Tensor> inputs;

  /** Loads both models and builds the shared input. */
  @Setup(Level.Trial)
  public void setUp() {
    originalModel = SavedModelBundle.load(modelDir, tag);
    fusedModel = FusedModel.load(Path.of(modelDir), FusedModelOptions.builder().tags(tag).build());
    sig = AbHarness.findSignature(originalModel, signature);
    inputs = ProbeInputs.generate(sig, batch, 42);
  }

  /** Closes the input and both models. */
  @TearDown(Level.Trial)
  public void tearDown() {
    if (inputs != null) {
      inputs.values().forEach(Tensor::close);
    }
    if (fusedModel != null) {
      fusedModel.close();
    }
    if (originalModel != null) {
      originalModel.close();
    }
  }

  /** One call of the original model ({@code Session.run} of the signature). */
  @Benchmark
  public void original(Blackhole bh) {
    try (Result r = originalModel.session().run(sig, inputs)) {
      bh.consume(r.size());
    }
  }

  /** One call of the fused model ({@code FusedModel.call}, input validation included). */
  @Benchmark
  public void fused(Blackhole bh) {
    try (Result r = fusedModel.call(signature, inputs)) {
      bh.consume(r.size());
    }
  }
}
