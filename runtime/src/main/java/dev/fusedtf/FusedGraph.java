package dev.fusedtf;

import dev.fusedtf.check.CheckResult;
import dev.fusedtf.check.EquivalenceCheck;
import dev.fusedtf.check.ProbeSupplier;
import dev.fusedtf.check.WavProbe;
import dev.fusedtf.fold.Pipeline;
import dev.fusedtf.formats.GraphModel;
import dev.fusedtf.formats.ModelWriter;
import dev.fusedtf.weights.VariableStore;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.types.TString;

/**
 * The {@code FusedGraph} is a {@link GraphModel} (checkpoint or frozen GraphDef) with its BatchNorms folded and
 * checked against the unfused graph, ready to be written as a SavedModel or a frozen GraphDef.
 *
 * <pre>{@code
 * GraphModel ckpt = GraphModel.fromCheckpoint(Path.of("model.ckpt.meta"), Path.of("model.ckpt"),
 *     List.of("Reshape:0"), List.of("conv2d_16/BiasAdd:0"));
 * FusedGraph fused = FusedGraph.fuse(ckpt, FusedModelOptions.defaults());
 * fused.writeSavedModel(Path.of("fused-model"), false);
 * }</pre>
 */
public final class FusedGraph {
  private final GraphModel model;
  private final org.tensorflow.proto.GraphDef graph;
  private final FoldReport report;

  private FusedGraph(GraphModel model, org.tensorflow.proto.GraphDef graph, FoldReport report) {
    this.model = model;
    this.graph = graph;
    this.report = report;
  }

  /**
   * Folds and checks. When the check fails the unfused graph is kept (strict mode throws instead), exactly as
   * {@link FusedModel#load} serves the original.
   */
  public static FusedGraph fuse(GraphModel model, FusedModelOptions options) {
    Map<String, Long> timings = new LinkedHashMap<>();
    long t = System.nanoTime();
    Pipeline.Result r = options.pipeline().run(model.graphDef(), model.outputNodes(), VariableStore.none());
    timings.put("fold", (System.nanoTime() - t) / 1_000_000);
    if (!r.changed()) {
      return new FusedGraph(model, model.graphDef(), new FoldReport(model.source(), "original", r.folds(), r.skips(),
          r.nodesBefore(), r.nodesAfter(), CheckResult.unchanged(options.absTolerance(), options.relTolerance()), null,
          timings, r.rewrites()));
    }
    long tc = System.nanoTime();
    CheckResult check = check(model, r.graph(), options);
    timings.put("check", (System.nanoTime() - tc) / 1_000_000);
    if (check.passed()) {
      return new FusedGraph(model, r.graph(), new FoldReport(model.source(), "fused", r.folds(), r.skips(),
          r.nodesBefore(), r.nodesAfter(), check, null, timings, r.rewrites()));
    }
    String why = "check failed: " + (check.note() != null ? check.note()
        : "max abs diff " + check.maxAbsDiff() + ", max rel diff " + check.maxRelDiff());
    FoldReport report = new FoldReport(model.source(), "original", r.folds(), r.skips(), r.nodesBefore(),
        r.nodesAfter(), check, why, timings, r.rewrites());
    if (options.strict()) {
      throw new CheckFailedException(model.source() + ": fused graph rejected (strict mode): " + why, report);
    }
    return new FusedGraph(model, model.graphDef(), report);
  }

  /** What would fold and what would not, and why, without checking: the report's {@code check} is null. */
  public static FoldReport inspect(GraphModel model, FusedModelOptions options) {
    long t = System.nanoTime();
    Pipeline.Result r = options.pipeline().run(model.graphDef(), model.outputNodes(), VariableStore.none());
    return new FoldReport(model.source(), "original", r.folds(), r.skips(), r.nodesBefore(), r.nodesAfter(), null,
        null, Map.of("fold", (System.nanoTime() - t) / 1_000_000), r.rewrites());
  }

  private static CheckResult check(GraphModel model, org.tensorflow.proto.GraphDef fused, FusedModelOptions options) {
    ProbeSupplier probes = options.probes() != null ? options.probes() : defaultProbes(model, options.seed());
    try (Graph a = new Graph(); Graph b = new Graph()) {
      a.importGraphDef(model.graphDef());
      b.importGraphDef(fused);
      try (Session sa = new Session(a, options.config()); Session sb = new Session(b, options.config())) {
        Signature sig = model.signature(a);
        return new EquivalenceCheck(options.absTolerance(), options.relTolerance(), options.probeBatches(), probes)
            .run(sa, sb, List.of(sig));
      }
    } catch (RuntimeException e) {
      return new CheckResult(false, Double.NaN, Double.NaN, options.absTolerance(), options.relTolerance(), List.of(),
          "fused graph failed to run: " + e.getMessage());
    }
  }

  /**
   * Random probes, except for a string input read by {@code DecodeWav}: one second of 16 kHz noise as WAV
   * bytes (the batch size does not apply to such a scalar input).
   */
  static ProbeSupplier defaultProbes(GraphModel model, long seed) {
    ProbeSupplier random = ProbeSupplier.random(seed);
    return (sig, batch, index) -> {
      boolean wav = model.inputs().stream().anyMatch(p -> p.dtype() == DataType.DT_STRING && feedsDecodeWav(model, p));
      if (!wav) {
        return random.probe(sig, batch, index);
      }
      Map<String, Tensor> out = new LinkedHashMap<>();
      for (GraphModel.Port p : model.inputs()) {
        if (p.dtype() == DataType.DT_STRING) {
          out.put(p.node(), TString.tensorOfBytes(NdArrays.scalarOfObject(WavProbe.noise(16000, 16000, seed + index))));
        } else {
          throw new IllegalArgumentException("mixed WAV and other inputs need explicit probes");
        }
      }
      return out;
    };
  }

  private static boolean feedsDecodeWav(GraphModel model, GraphModel.Port p) {
    for (NodeDef n : model.graphDef().getNodeList()) {
      if (n.getOp().equals("DecodeWav") && !n.getInputList().isEmpty()
          && dev.fusedtf.graph.TensorRef.parse(n.getInput(0)).node().equals(p.node())) {
        return true;
      }
    }
    return false;
  }

  /** The report: folds, skips, node counts, check. */
  public FoldReport report() {
    return report;
  }

  /** The graph to serve: fused when the check passed, else the unfused frozen graph. */
  public org.tensorflow.proto.GraphDef graphDef() {
    return graph;
  }

  /** The model it came from. */
  public GraphModel model() {
    return model;
  }

  /** Writes a SavedModel (tag {@code serve}, signature {@code serving_default} over the named inputs/outputs). */
  public void writeSavedModel(Path dir, boolean force) {
    ModelWriter.writeSavedModel(dir, model.toMetaGraph(graph), null, force);
  }

  /** Writes a binary frozen GraphDef. */
  public void writeGraphDef(Path file, boolean force) {
    ModelWriter.writeGraphDef(file, graph, force);
  }
}
