package dev.fusedtf.formats;

import dev.fusedtf.graph.Nodes;
import dev.fusedtf.weights.DenseTensor;
import dev.fusedtf.weights.TensorProtos;
import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * The {@code CheckpointWriter} writes named tensors as a TensorFlow V2 checkpoint ({@code prefix.index},
 * {@code prefix.data-00000-of-00001}) by running one {@code SaveV2} op over constants in a scratch graph.
 */
public final class CheckpointWriter {
  private CheckpointWriter() {}

  /** Writes {@code tensors} (name to value) under checkpoint prefix {@code prefix}. */
  public static void write(Path prefix, Map<String, DenseTensor> tensors) {
    GraphDef.Builder g = GraphDef.newBuilder();
    g.addNode(Nodes.constant("prefix", stringTensor(new String[] {prefix.toString()}, false), ""));
    String[] names = tensors.keySet().toArray(new String[0]);
    String[] slices = new String[names.length];
    java.util.Arrays.fill(slices, "");
    g.addNode(Nodes.constant("names", stringTensor(names, true), ""));
    g.addNode(Nodes.constant("slices", stringTensor(slices, true), ""));
    NodeDef.Builder save = NodeDef.newBuilder().setName("save").setOp("SaveV2")
        .addInput("prefix").addInput("names").addInput("slices");
    AttrValue.ListValue.Builder dtypes = AttrValue.ListValue.newBuilder();
    int i = 0;
    for (Map.Entry<String, DenseTensor> e : tensors.entrySet()) {
      String node = "t" + i++;
      g.addNode(Nodes.constant(node, TensorProtos.encode(e.getValue()), ""));
      save.addInput(node);
      dtypes.addType(e.getValue().dtype());
    }
    save.putAttr("dtypes", AttrValue.newBuilder().setList(dtypes).build());
    g.addNode(save);
    try (Graph graph = new Graph()) {
      graph.importGraphDef(g.build());
      try (Session s = new Session(graph)) {
        s.runner().addTarget("save").run();
      }
    }
  }

  /** A DT_STRING tensor: a scalar (vector=false, one value) or a vector. */
  public static TensorProto stringTensor(String[] values, boolean vector) {
    TensorProto.Builder b = TensorProto.newBuilder().setDtype(DataType.DT_STRING);
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
    if (vector) {
      s.addDim(TensorShapeProto.Dim.newBuilder().setSize(values.length));
    }
    b.setTensorShape(s);
    for (String v : values) {
      b.addStringVal(ByteString.copyFromUtf8(v));
    }
    return b.build();
  }
}
