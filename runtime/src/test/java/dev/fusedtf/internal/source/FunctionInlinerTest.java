package dev.fusedtf.internal.source;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.types.TFloat32;

/** Inlining top-level function calls: the flat graph computes what the functional one does. */
class FunctionInlinerTest {
  private static final AttrValue F32 = Nodes.type(DataType.DT_FLOAT);

  private static AttrValue types(DataType... t) {
    AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
    for (DataType d : t) {
      l.addType(d);
    }
    return AttrValue.newBuilder().setList(l).build();
  }

  private static OpDef.ArgDef arg(String name) {
    return OpDef.ArgDef.newBuilder().setName(name).setType(DataType.DT_FLOAT).build();
  }

  private static NodeDef call(String name, String f, String op, int outputs, String... inputs) {
    DataType[] out = new DataType[outputs];
    java.util.Arrays.fill(out, DataType.DT_FLOAT);
    DataType[] in = new DataType[(int) java.util.Arrays.stream(inputs).filter(i -> !i.startsWith("^")).count()];
    java.util.Arrays.fill(in, DataType.DT_FLOAT);
    return NodeDef.newBuilder().setName(name).setOp(op).addAllInput(List.of(inputs))
        .putAttr("f", AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName(f)).build())
        .putAttr("Tin", types(in)).putAttr("Tout", types(out)).build();
  }

  /**
   * inner(x) = (Unpack(x)[0] * 2, Unpack(x)[1]) — a multi-output op addressed by argument name and index; outer(x)
   * calls inner and swaps its results, with a control output; the top level calls outer and adds one to result 0.
   */
  private static GraphDef nested() {
    FunctionDef inner = FunctionDef.newBuilder()
        .setSignature(OpDef.newBuilder().setName("inner").addInputArg(arg("x")).addOutputArg(arg("a"))
            .addOutputArg(arg("b")))
        .addNodeDef(NodeDef.newBuilder().setName("unpack").setOp("Unpack").addInput("x").putAttr("T", F32)
            .putAttr("num", AttrValue.newBuilder().setI(2).build()).putAttr("axis", AttrValue.newBuilder().setI(0)
                .build()))
        .addNodeDef(Nodes.constant("two", TensorCodec.encode(new DenseTensor(new long[0], new double[] {2},
            DataType.DT_FLOAT)), ""))
        .addNodeDef(NodeDef.newBuilder().setName("mul").setOp("Mul").addInput("unpack:output:0")
            .addInput("two:output:0").putAttr("T", F32))
        .putRet("a", "mul:z:0").putRet("b", "unpack:output:1").build();
    FunctionDef outer = FunctionDef.newBuilder()
        .setSignature(OpDef.newBuilder().setName("outer").addInputArg(arg("x")).addOutputArg(arg("p"))
            .addOutputArg(arg("q")).addControlOutput("done"))
        .addNodeDef(call("call", "inner", "StatefulPartitionedCall", 2, "x"))
        .addNodeDef(NodeDef.newBuilder().setName("done").setOp("NoOp").addInput("^call"))
        .putRet("p", "call:output:1").putRet("q", "call:output:0").putControlRet("done", "done").build();
    return GraphDef.newBuilder()
        .addNode(NodeDef.newBuilder().setName("x").setOp("Placeholder").putAttr("dtype", F32))
        .addNode(call("StatefulPartitionedCall", "outer", "StatefulPartitionedCall", 2, "x"))
        .addNode(Nodes.constant("one", TensorCodec.encode(new DenseTensor(new long[0], new double[] {1},
            DataType.DT_FLOAT)), ""))
        .addNode(NodeDef.newBuilder().setName("y").setOp("AddV2").addInput("StatefulPartitionedCall:1")
            .addInput("one").putAttr("T", F32))
        .setLibrary(FunctionDefLibrary.newBuilder().addFunction(inner).addFunction(outer))
        .build();
  }

  private static List<float[]> run(GraphDef g, float[][] x, String... fetch) {
    try (Graph graph = new Graph(); TFloat32 in = TFloat32.tensorOf(StdArrays.ndCopyOf(x))) {
      graph.importGraphDef(g);
      try (Session s = new Session(graph)) {
        Session.Runner r = s.runner().feed("x", in);
        for (String f : fetch) {
          r.fetch(f);
        }
        try (Result res = r.run()) {
          List<float[]> out = new ArrayList<>();
          for (int i = 0; i < fetch.length; i++) {
            TFloat32 t = (TFloat32) res.get(i);
            float[] v = new float[(int) t.shape().size()];
            t.copyTo(org.tensorflow.ndarray.buffer.DataBuffers.of(v, false, false));
            out.add(v);
          }
          return out;
        }
      }
    }
  }

  @Test
  void nestedCallsBecomeOneFlatGraphWithTheSameResults() {
    GraphDef functional = nested();
    FunctionInliner.Inlined flat = FunctionInliner.inline(functional);
    assertEquals(2, flat.calls());
    for (NodeDef n : flat.graph().getNodeList()) {
      assertTrue(!n.getOp().endsWith("PartitionedCall"), "a call is left: " + n.getName());
    }
    NodeDef result = flat.graph().getNodeList().stream().filter(n -> n.getName().equals("StatefulPartitionedCall"))
        .findFirst().orElseThrow();
    assertEquals("IdentityN", result.getOp());
    assertTrue(result.getInputList().stream().anyMatch(i -> i.startsWith("^")), "control output kept");
    float[][] x = {{1, 2, 3}, {4, 5, 6}};
    String[] fetch = {"StatefulPartitionedCall:0", "StatefulPartitionedCall:1", "y"};
    List<float[]> a = run(functional, x, fetch);
    List<float[]> b = run(flat.graph(), x, fetch);
    for (int i = 0; i < fetch.length; i++) {
      assertArrayEquals(a.get(i), b.get(i), fetch[i]);
    }
    assertArrayEquals(new float[] {4, 5, 6}, b.get(0));
    assertArrayEquals(new float[] {2, 4, 6}, b.get(1));
  }

  @Test
  void genericOrNoInlineFunctionsStayCalls() {
    GraphDef g = nested();
    GraphDef.Builder b = g.toBuilder();
    b.getNodeBuilder(1).putAttr("_noinline", AttrValue.newBuilder().setB(true).build());
    assertEquals(0, FunctionInliner.inline(b.build()).calls());
    GraphDef.Builder generic = g.toBuilder();
    generic.getLibraryBuilder().getFunctionBuilder(1).getSignatureBuilder()
        .addAttr(OpDef.AttrDef.newBuilder().setName("T").setType("type"));
    assertEquals(0, FunctionInliner.inline(generic.build()).calls());
  }

  @Test
  void bodyNamesThatClashGetAnotherPrefix() {
    GraphDef g = nested().toBuilder()
        .addNode(NodeDef.newBuilder().setName("StatefulPartitionedCall/done").setOp("NoOp"))
        .build();
    FunctionInliner.Inlined flat = FunctionInliner.inline(g);
    long names = flat.graph().getNodeList().stream().map(NodeDef::getName).distinct().count();
    assertEquals(flat.graph().getNodeCount(), names, "node names unique");
    float[][] x = {{1, 2}, {3, 4}};
    assertArrayEquals(run(g, x, "y").get(0), run(flat.graph(), x, "y").get(0));
  }
}
