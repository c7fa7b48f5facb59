package dev.fusedtf.testsupport;

import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code CheckpointWriter} writes named tensors as a TensorFlow V2 checkpoint ({@code prefix.index},
 * {@code prefix.data-00000-of-00001}) by running one {@code SaveV2} op over constants in a scratch graph.
 */
public final class CheckpointWriter {
  private CheckpointWriter() {}

  /** Writes {@code tensors} (name to value) under checkpoint prefix {@code prefix}. */
  public static void write(Path prefix, Map<String, Values> tensors) {
    GraphDef.Builder g = GraphDef.newBuilder();
    g.addNode(Protos.constant("prefix", Protos.strings(new String[] {prefix.toString()}, false)));
    String[] names = tensors.keySet().toArray(new String[0]);
    String[] slices = new String[names.length];
    java.util.Arrays.fill(slices, "");
    g.addNode(Protos.constant("names", Protos.strings(names, true)));
    g.addNode(Protos.constant("slices", Protos.strings(slices, true)));
    NodeDef.Builder save = NodeDef.newBuilder().setName("save").setOp("SaveV2")
        .addInput("prefix").addInput("names").addInput("slices");
    AttrValue.ListValue.Builder dtypes = AttrValue.ListValue.newBuilder();
    int i = 0;
    for (Map.Entry<String, Values> e : tensors.entrySet()) {
      String node = "t" + i++;
      g.addNode(Protos.constant(node, Protos.tensor(e.getValue())));
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
}
