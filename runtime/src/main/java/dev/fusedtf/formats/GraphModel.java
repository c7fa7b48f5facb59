package dev.fusedtf.formats;

import com.google.protobuf.TextFormat;
import dev.fusedtf.FusedTfException;
import dev.fusedtf.graph.Body;
import dev.fusedtf.graph.ModelGraph;
import dev.fusedtf.graph.Nodes;
import dev.fusedtf.graph.TensorRef;
import dev.fusedtf.weights.SessionVariableStore;
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

  private GraphModel(GraphDef graph, List<Port> inputs, List<Port> outputs, String source) {
    this.graph = graph;
    this.inputs = List.copyOf(inputs);
    this.outputs = List.copyOf(outputs);
    this.source = source;
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
      throw new FusedTfException("cannot read meta graph " + metaFile + ": " + e.getMessage(), e);
    }
    if (!meta.hasSaverDef()) {
      throw new FusedTfException(metaFile + " has no SaverDef: cannot restore its variables");
    }
    requireNames(inputs, outputs);
    GraphDef full = Pruner.stripOutputShapes(meta.getGraphDef());
    try (Graph g = new Graph()) {
      importOrThrow(g, full, metaFile);
      List<Port> in = ports(g, inputs, "input");
      List<Port> out = ports(g, outputs, "output");
      try (Session s = new Session(g)) {
        SaverDef saver = meta.getSaverDef();
        try (TString prefix = TString.scalarOf(checkpointPrefix.toString())) {
          s.runner().feed(saver.getFilenameTensorName(), prefix).addTarget(saver.getRestoreOpName()).run();
        } catch (RuntimeException e) {
          throw new FusedTfException("cannot restore checkpoint " + checkpointPrefix + ": " + e.getMessage(), e);
        }
        GraphDef cut = Pruner.prune(withPlaceholders(full, in), out.stream().map(Port::node).toList());
        SessionVariableStore vars = new SessionVariableStore(s, g, Body.topLevel(full.getNodeList()));
        ModelGraph pruned = new ModelGraph(cut, out.stream().map(Port::node).toList());
        vars.prefetchServing(pruned);
        GraphDef frozen = Freezer.freeze(pruned, vars);
        return new GraphModel(frozen, in, out, metaFile.toString());
      }
    }
  }

  /** Reads a frozen GraphDef, binary or text format. */
  public static GraphModel fromFrozenGraph(Path file, List<String> inputs, List<String> outputs) {
    requireNames(inputs, outputs);
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
      throw new FusedTfException("cannot read GraphDef " + file + " (binary or text): " + e.getMessage(), e);
    }
    gd = Pruner.stripOutputShapes(gd);
    try (Graph g = new Graph()) {
      importOrThrow(g, gd, file);
      List<Port> in = ports(g, inputs, "input");
      List<Port> out = ports(g, outputs, "output");
      GraphDef cut = Pruner.prune(withPlaceholders(gd, in), out.stream().map(Port::node).toList());
      ModelGraph mg = new ModelGraph(cut, out.stream().map(Port::node).toList());
      for (NodeDef n : mg.topLevel().nodes()) {
        if (n.getOp().equals("VariableV2") || n.getOp().equals("VarHandleOp")) {
          throw new FusedTfException(file + " is not frozen: the outputs read variable '" + n.getName()
              + "'; pass its checkpoint (.meta) instead");
        }
      }
      return new GraphModel(cut, in, out, file.toString());
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
      t.setTensorShape(dev.fusedtf.weights.TensorProtos.shapeProto(p.shape()));
    } else {
      t.setTensorShape(org.tensorflow.proto.TensorShapeProto.newBuilder().setUnknownRank(true));
    }
    return t.build();
  }

  private static void requireNames(List<String> inputs, List<String> outputs) {
    if (inputs == null || inputs.isEmpty() || outputs == null || outputs.isEmpty()) {
      throw new FusedTfException("name the inputs and outputs (tensor names such as 'input:0')");
    }
  }

  private static void importOrThrow(Graph g, GraphDef gd, Path from) {
    try {
      g.importGraphDef(gd);
    } catch (RuntimeException e) {
      throw new FusedTfException("cannot import the graph of " + from + ": " + e.getMessage(), e);
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
        throw new FusedTfException("the graph has no " + what + " tensor '" + tensor + "'");
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
        throw new FusedTfException("input '" + p.tensor() + "' must be output 0 of its node");
      }
      for (int i = 0; i < b.getNodeCount(); i++) {
        NodeDef n = b.getNode(i);
        if (n.getName().equals(p.node()) && !n.getOp().equals("Placeholder")) {
          NodeDef.Builder ph = NodeDef.newBuilder().setName(n.getName()).setOp("Placeholder")
              .setDevice(n.getDevice()).putAttr("dtype", Nodes.type(p.dtype()));
          if (p.shape() != null) {
            ph.putAttr("shape", AttrValue.newBuilder()
                .setShape(dev.fusedtf.weights.TensorProtos.shapeProto(p.shape())).build());
          }
          b.setNode(i, ph);
        }
      }
    }
    return b.build();
  }
}
