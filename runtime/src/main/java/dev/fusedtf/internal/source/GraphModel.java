package dev.fusedtf.internal.source;

import com.google.protobuf.TextFormat;
import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.SessionVariableStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.types.TString;

/**
 * The {@code GraphModel} is a TF1 graph with caller-named inputs and outputs and no signatures: read from a
 * checkpoint + meta graph (variables restored through the graph's SaverDef, then frozen into constants) or from
 * a frozen GraphDef ({@code .pb} binary or text). The graph is pruned to what the outputs need (training,
 * gradient, saver and file-reading ops go), each input becomes a {@code Placeholder}, and stale
 * {@code _output_shapes} attributes are stripped.
 */
public final class GraphModel {

  /** One named tensor of the model: its tensor name ({@code node:port}), dtype and static shape (null = unknown). */
  public record Port(String tensor, DataType dtype, long[] shape) {
    /** The node name. */
    public String node() {
      return TensorRef.parse(tensor).node();
    }
  }

  private final GraphDef graph;
  private final List<Port> inputs;
  private final List<Port> outputs;
  private final String source;
  private final String format;
  private final List<dev.fusedtf.report.Hint> hints;

  private GraphModel(GraphDef graph, List<Port> inputs, List<Port> outputs, String source, String format,
      List<dev.fusedtf.report.Hint> hints) {
    this.graph = graph;
    this.inputs = List.copyOf(inputs);
    this.outputs = List.copyOf(outputs);
    this.source = source;
    this.format = format;
    this.hints = List.copyOf(hints);
  }

  /** {@code checkpoint} or {@code frozen-graph}. */
  public String format() {
    return format;
  }

  /** Advice found while reading (likely outputs when they were guessed). */
  public List<dev.fusedtf.report.Hint> hints() {
    return hints;
  }

  /** The frozen, pruned graph. */
  public GraphDef graphDef() {
    return graph;
  }

  /** The inputs. */
  public List<Port> inputs() {
    return inputs;
  }

  /** The outputs. */
  public List<Port> outputs() {
    return outputs;
  }

  /** Where it was read from. */
  public String source() {
    return source;
  }

  /** Output node names (what the graph is pruned to). */
  public List<String> outputNodes() {
    return outputs.stream().map(Port::node).toList();
  }

  /**
   * Reads a checkpoint: imports the meta graph, restores {@code checkpointPrefix} through its SaverDef, feeds
   * {@code inputs} and fetches {@code outputs} (tensor names such as {@code Reshape:0}), freezing the variables.
   */
  public static GraphModel fromCheckpoint(Path metaFile, Path checkpointPrefix, List<String> inputs,
      List<String> outputs) {
    MetaGraphDef meta;
    try {
      meta = MetaGraphDef.parseFrom(Files.readAllBytes(metaFile));
    } catch (IOException e) {
      throw new ModelLoadException("cannot read meta graph " + metaFile + ": " + e.getMessage(), e);
    }
    if (!meta.hasSaverDef()) {
      throw new ModelLoadException(metaFile + " has no SaverDef: cannot restore its variables");
    }
    GraphDef full = Pruner.stripOutputShapes(meta.getGraphDef());
    inputs = inputs == null || inputs.isEmpty() ? guessInputs(full, metaFile) : inputs;
    List<dev.fusedtf.report.Hint> hints = new ArrayList<>();
    outputs = outputs == null || outputs.isEmpty() ? guessOutputs(full, inputs, metaFile, hints) : outputs;
    try (Graph g = new Graph()) {
      importOrThrow(g, full, metaFile);
      List<Port> in = ports(g, inputs, "input");
      List<Port> out = ports(g, outputs, "output");
      try (Session s = new Session(g)) {
        SaverDef saver = meta.getSaverDef();
        try (TString prefix = TString.scalarOf(checkpointPrefix.toString())) {
          s.runner().feed(saver.getFilenameTensorName(), prefix).addTarget(saver.getRestoreOpName()).run();
        } catch (RuntimeException e) {
          throw new ModelLoadException("cannot restore checkpoint " + checkpointPrefix + ": " + e.getMessage(), e);
        }
        GraphDef cut = Pruner.prune(withPlaceholders(full, in), out.stream().map(Port::node).toList());
        SessionVariableStore vars = new SessionVariableStore(s, g, Body.topLevel(full.getNodeList()));
        ModelGraph pruned = new ModelGraph(cut, out.stream().map(Port::node).toList());
        vars.prefetchServing(pruned);
        GraphDef frozen = Freezer.freeze(pruned, vars);
        return new GraphModel(frozen, in, out, metaFile.toString(), "checkpoint", hints);
      }
    }
  }

  /** Reads a frozen GraphDef, binary or text format. */
  public static GraphModel fromFrozenGraph(Path file, List<String> inputs, List<String> outputs) {
    GraphDef gd;
    try {
      byte[] bytes = Files.readAllBytes(file);
      try {
        gd = GraphDef.parseFrom(bytes);
        if (gd.getNodeCount() == 0) {
          throw new IOException("no nodes");
        }
      } catch (IOException binary) {
        GraphDef.Builder b = GraphDef.newBuilder();
        TextFormat.merge(new String(bytes, StandardCharsets.UTF_8), b);
        gd = b.build();
      }
    } catch (IOException e) {
      throw new ModelLoadException("cannot read GraphDef " + file + " (binary or text): " + e.getMessage(), e);
    }
    gd = Pruner.stripOutputShapes(gd);
    inputs = inputs == null || inputs.isEmpty() ? guessInputs(gd, file) : inputs;
    List<dev.fusedtf.report.Hint> hints = new ArrayList<>();
    outputs = outputs == null || outputs.isEmpty() ? guessOutputs(gd, inputs, file, hints) : outputs;
    try (Graph g = new Graph()) {
      importOrThrow(g, gd, file);
      List<Port> in = ports(g, inputs, "input");
      List<Port> out = ports(g, outputs, "output");
      GraphDef cut = Pruner.prune(withPlaceholders(gd, in), out.stream().map(Port::node).toList());
      ModelGraph mg = new ModelGraph(cut, out.stream().map(Port::node).toList());
      for (NodeDef n : mg.topLevel().nodes()) {
        if (n.getOp().equals("VariableV2") || n.getOp().equals("VarHandleOp")) {
          throw new ModelLoadException(file + " is not frozen: the outputs read variable '" + n.getName()
              + "'; pass its checkpoint (.meta) instead");
        }
      }
      return new GraphModel(cut, in, out, file.toString(), "frozen-graph", hints);
    }
  }

  /** A signature over the inputs and outputs, keyed by node name, valid for any graph holding these tensors. */
  public Signature signature(Graph g) {
    Signature.Builder b = Signature.builder().key(Signature.DEFAULT_KEY).methodName("tensorflow/serving/predict");
    for (Port p : inputs) {
      b.input(p.node(), g.outputOrThrow(p.tensor()));
    }
    for (Port p : outputs) {
      b.output(p.node(), g.outputOrThrow(p.tensor()));
    }
    return b.build();
  }

  /** A MetaGraphDef (tag {@code serve}) serving {@code graph} with these inputs/outputs as {@code serving_default}. */
  public MetaGraphDef toMetaGraph(GraphDef graph) {
    SignatureDef.Builder sig = SignatureDef.newBuilder().setMethodName("tensorflow/serving/predict");
    for (Port p : inputs) {
      sig.putInputs(p.node(), info(p));
    }
    for (Port p : outputs) {
      sig.putOutputs(p.node(), info(p));
    }
    return MetaGraphDef.newBuilder()
        .setMetaInfoDef(MetaGraphDef.MetaInfoDef.newBuilder().addTags("serve"))
        .setGraphDef(graph)
        .putSignatureDef(Signature.DEFAULT_KEY, sig.build())
        .build();
  }

  private static TensorInfo info(Port p) {
    TensorInfo.Builder t = TensorInfo.newBuilder().setName(p.tensor()).setDtype(p.dtype());
    if (p.shape() != null) {
      t.setTensorShape(dev.fusedtf.internal.weights.TensorCodec.shapeProto(p.shape()));
    } else {
      t.setTensorShape(org.tensorflow.proto.TensorShapeProto.newBuilder().setUnknownRank(true));
    }
    return t.build();
  }

  private static final java.util.Set<String> NOT_OUTPUTS = java.util.Set.of("NoOp", "Assign", "AssignAdd",
      "AssignSub", "AssignVariableOp", "SaveV2", "RestoreV2", "Save", "Restore", "WriteFile", "MergeV2Checkpoints",
      "ScalarSummary", "HistogramSummary", "MergeSummary", "Const", "VariableV2", "VarHandleOp");

  /** The Placeholders of {@code gd}, as input tensor names. */
  static List<String> guessInputs(GraphDef gd, Path from) {
    List<String> in = new ArrayList<>();
    for (NodeDef n : gd.getNodeList()) {
      if (n.getOp().equals("Placeholder")) {
        in.add(n.getName() + ":0");
      }
    }
    if (in.isEmpty()) {
      throw new ModelLoadException(from + " has no Placeholder: name the inputs (tensor names such as 'Reshape:0')");
    }
    return in;
  }

  /** The ends of the part of {@code gd} that the inputs feed: nodes nothing reads, other than saver and training ops. */
  static List<String> guessOutputs(GraphDef gd, List<String> inputs, Path from, List<dev.fusedtf.report.Hint> hints) {
    java.util.Map<String, List<String>> readers = new java.util.HashMap<>();
    for (NodeDef n : gd.getNodeList()) {
      for (String in : n.getInputList()) {
        TensorRef r = TensorRef.parse(in);
        if (!r.isControl()) {
          readers.computeIfAbsent(r.node(), k -> new ArrayList<>()).add(n.getName());
        }
      }
    }
    java.util.Map<String, NodeDef> byName = new java.util.HashMap<>();
    gd.getNodeList().forEach(n -> byName.put(n.getName(), n));
    java.util.Set<String> fed = new java.util.LinkedHashSet<>();
    java.util.ArrayDeque<String> work = new java.util.ArrayDeque<>();
    inputs.forEach(i -> work.add(TensorRef.parse(i).node()));
    while (!work.isEmpty()) {
      String n = work.pop();
      if (fed.add(n)) {
        work.addAll(readers.getOrDefault(n, List.of()));
      }
    }
    List<String> out = new ArrayList<>();
    for (String n : fed) {
      NodeDef node = byName.get(n);
      boolean read = readers.getOrDefault(n, List.of()).stream().anyMatch(fed::contains);
      if (node != null && !read && !NOT_OUTPUTS.contains(node.getOp()) && !node.getOp().contains("Grad")
          && !n.startsWith("gradients/") && !n.contains("/gradients/")) {
        out.add(n + ":0");
      }
    }
    if (out.isEmpty()) {
      throw new ModelLoadException(from + ": no candidate outputs found from the inputs " + inputs
          + ": name the outputs (--outputs, tensor names such as 'logits:0')");
    }
    List<String> ranked = new ArrayList<>(out);
    ranked.sort(java.util.Comparator.comparingInt((String t) -> -outputScore(byName.get(TensorRef.parse(t).node())))
        .thenComparing(t -> t));
    List<String> likeliest = ranked.subList(0, Math.min(5, ranked.size()));
    if (out.size() > 8) {
      throw new ModelLoadException(from + ": " + out.size() + " candidate outputs found from the inputs " + inputs
          + "; the likeliest: " + likeliest + "; name the outputs (--outputs " + String.join(",", likeliest.subList(0,
          1)) + ")");
    }
    hints.add(new dev.fusedtf.report.Hint(String.join(",", out), "output", "--outputs " + String.join(",", likeliest),
        "outputs guessed from the ends of the graph the inputs feed (" + out.size() + "); likeliest first: "
        + likeliest));
    return out;
  }

  /** How likely a graph end is a model output: softmax/logits/predictions score high, training ops low. */
  static int outputScore(NodeDef n) {
    if (n == null) {
      return 0;
    }
    int score = 0;
    String op = n.getOp();
    String name = n.getName().toLowerCase(java.util.Locale.ROOT);
    if (java.util.Set.of("Softmax", "Sigmoid", "ArgMax", "LogSoftmax", "TopKV2").contains(op)) {
      score += 3;
    }
    if (name.matches(".*(logits|softmax|prediction|output|probs|probabilit|scores|labels).*")) {
      score += 2;
    }
    if (name.matches(".*(train|loss|gradient|update|moving|assign|summary|save|global_step|cond/).*")) {
      score -= 3;
    }
    if (java.util.Set.of("BiasAdd", "Add", "AddV2", "MatMul", "Identity", "Relu").contains(op)) {
      score += 1;
    }
    return score;
  }

  private static void importOrThrow(Graph g, GraphDef gd, Path from) {
    try {
      g.importGraphDef(gd);
    } catch (RuntimeException e) {
      throw new ModelLoadException("cannot import the graph of " + from + ": " + e.getMessage(), e);
    }
  }

  private static List<Port> ports(Graph g, List<String> names, String what) {
    List<Port> out = new ArrayList<>();
    for (String name : names) {
      String tensor = name.contains(":") ? name : name + ":0";
      Output<?> o;
      try {
        o = g.output(tensor);
      } catch (RuntimeException e) {
        o = null;
      }
      if (o == null) {
        throw new ModelLoadException("the graph has no " + what + " tensor '" + tensor + "'");
      }
      long[] shape = o.shape().isUnknown() ? null : o.shape().asArray();
      out.add(new Port(tensor, o.dataType(), shape));
    }
    return out;
  }

  /** Replaces each input's node with a Placeholder of the input's dtype (if it is not one already). */
  private static GraphDef withPlaceholders(GraphDef gd, List<Port> inputs) {
    GraphDef.Builder b = gd.toBuilder();
    for (Port p : inputs) {
      if (!TensorRef.parse(p.tensor()).output().isEmpty() && !TensorRef.parse(p.tensor()).output().equals("0")) {
        throw new ModelLoadException("input '" + p.tensor() + "' must be output 0 of its node");
      }
      for (int i = 0; i < b.getNodeCount(); i++) {
        NodeDef n = b.getNode(i);
        if (n.getName().equals(p.node()) && !n.getOp().equals("Placeholder")) {
          NodeDef.Builder ph = NodeDef.newBuilder().setName(n.getName()).setOp("Placeholder")
              .setDevice(n.getDevice()).putAttr("dtype", Nodes.type(p.dtype()));
          if (p.shape() != null) {
            ph.putAttr("shape", AttrValue.newBuilder()
                .setShape(dev.fusedtf.internal.weights.TensorCodec.shapeProto(p.shape())).build());
          }
          b.setNode(i, ph);
        }
      }
    }
    return b.build();
  }
}
