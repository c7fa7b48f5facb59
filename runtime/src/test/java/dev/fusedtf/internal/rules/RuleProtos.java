package dev.fusedtf.internal.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.internal.weights.VariableStore;
import dev.fusedtf.report.SkipCode;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Proto builders and runners shared by the rule tests: nodes written top-level style ({@code name = Op(inputs)}),
 * a function body with every weight an argument, and one rule (or the default pipeline) run on pure protos.
 */
final class RuleProtos {
  static final AttrValue F32 = Nodes.type(DataType.DT_FLOAT);

  /** Three-channel BatchNorm parameters shared by the fold tests (a negative gamma on purpose). */
  static final float EPS = 1e-3f;
  static final double[] GAMMA = {1.5, -0.5, 2};
  static final double[] BETA = {0.1, -0.2, 0.3};
  static final double[] MEAN = {0.3, 0.7, -1};
  static final double[] VAR = {2, 0.5, 1};

  private RuleProtos() {}

  /**
   * A decomposed BatchNorm of {@code x} as Keras / {@code tf.nn.batch_normalization} write it, ending at
   * {@code bn/add_1}: {@code x * (Rsqrt(var + eps) * gamma) + (beta - mean * (Rsqrt(var + eps) * gamma))}, with
   * constants {@code var, eps, gamma, mean, beta} holding {@link #VAR}, {@link #EPS}, ....
   */
  static NodeDef.Builder[] decomposedBn(String x) {
    return new NodeDef.Builder[] {
        constant("var", VAR, 3).toBuilder(), scalar("eps", EPS).toBuilder(), constant("gamma", GAMMA, 3).toBuilder(),
        constant("mean", MEAN, 3).toBuilder(), constant("beta", BETA, 3).toBuilder(),
        op("bn/add", "AddV2", "var", "eps"), op("bn/Rsqrt", "Rsqrt", "bn/add"), op("bn/mul", "Mul", "bn/Rsqrt", "gamma"),
        op("bn/mul_1", "Mul", x, "bn/mul"), op("bn/mul_2", "Mul", "mean", "bn/mul"),
        op("bn/sub", "Sub", "beta", "bn/mul_2"), op("bn/add_1", "AddV2", "bn/mul_1", "bn/sub")};
  }

  /** Names of the statistics nodes of {@link #decomposedBn} that a fold or precompute removes. */
  static final List<String> DECOMPOSED_STATS = List.of("bn/add", "bn/Rsqrt", "bn/mul", "bn/mul_2", "bn/sub", "var",
      "eps", "gamma", "mean", "beta");

  // ---- attributes and nodes

  static AttrValue ints(long... v) {
    AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
    for (long x : v) {
      l.addI(x);
    }
    return AttrValue.newBuilder().setList(l).build();
  }

  static AttrValue bool(boolean b) {
    return AttrValue.newBuilder().setB(b).build();
  }

  static AttrValue f(float v) {
    return AttrValue.newBuilder().setF(v).build();
  }

  static NodeDef constant(String name, double[] v, long... shape) {
    return Nodes.constant(name, TensorCodec.encode(new DenseTensor(shape, v, DataType.DT_FLOAT)), "");
  }

  static NodeDef scalar(String name, double v) {
    return constant(name, new double[] {v});
  }

  static NodeDef boolConst(String name, boolean b) {
    return Nodes.constant(name, TensorProto.newBuilder().setDtype(DataType.DT_BOOL)
        .setTensorShape(TensorShapeProto.getDefaultInstance()).addBoolVal(b).build(), "");
  }

  static NodeDef placeholder(String name) {
    return NodeDef.newBuilder().setName(name).setOp("Placeholder").putAttr("dtype", F32).build();
  }

  /** {@code name = op(inputs)} with {@code T = float}. */
  static NodeDef.Builder op(String name, String op, String... inputs) {
    NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp(op).putAttr("T", F32);
    for (String in : inputs) {
      b.addInput(in);
    }
    return b;
  }

  static NodeDef.Builder conv2d(String name, String x, String k, String padding) {
    return op(name, "Conv2D", x, k).putAttr("strides", ints(1, 1, 1, 1)).putAttr("padding", Nodes.string(padding));
  }

  static NodeDef.Builder depthwise(String name, String x, String k, String padding) {
    return op(name, "DepthwiseConv2dNative", x, k).putAttr("strides", ints(1, 1, 1, 1))
        .putAttr("padding", Nodes.string(padding));
  }

  static NodeDef.Builder matMul(String name, String x, String w, boolean transposeB) {
    return op(name, "MatMul", x, w).putAttr("transpose_b", bool(transposeB));
  }

  /** An inference-mode FusedBatchNormV3 with epsilon {@code eps}. */
  static NodeDef.Builder fusedBn(String name, String x, String g, String b, String m, String v, float eps) {
    return op(name, "FusedBatchNormV3", x, g, b, m, v).putAttr("U", F32).putAttr("epsilon", f(eps))
        .putAttr("is_training", bool(false));
  }

  /** {@code first} then {@code rest}, for building graphs from node groups. */
  static NodeDef.Builder[] concat(NodeDef.Builder[] first, NodeDef.Builder... rest) {
    NodeDef.Builder[] out = java.util.Arrays.copyOf(first, first.length + rest.length);
    System.arraycopy(rest, 0, out, first.length, rest.length);
    return out;
  }

  /** A top-level graph of these nodes. */
  static GraphDef graph(NodeDef.Builder... nodes) {
    GraphDef.Builder g = GraphDef.newBuilder();
    for (NodeDef.Builder n : nodes) {
      g.addNode(n);
    }
    return g.build();
  }

  static NodeDef.Builder b(NodeDef n) {
    return n.toBuilder();
  }

  /** {@code g} with each node replaced by the one of the same name in {@code nodes}, or with it appended. */
  static GraphDef with(GraphDef g, NodeDef.Builder... nodes) {
    GraphDef.Builder out = g.toBuilder();
    for (NodeDef.Builder n : nodes) {
      int i = indexOf(out.getNodeList(), n.getName());
      if (i < 0) {
        out.addNode(n);
      } else {
        out.setNode(i, n);
      }
    }
    return out.build();
  }

  /** {@code g} without the named nodes. */
  static GraphDef without(GraphDef g, String... names) {
    GraphDef.Builder out = g.toBuilder();
    for (String name : names) {
      out.removeNode(indexOf(out.getNodeList(), name));
    }
    return out.build();
  }

  private static int indexOf(List<NodeDef> nodes, String name) {
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i).getName().equals(name)) {
        return i;
      }
    }
    return -1;
  }

  static NodeDef intConst(String name, int... v) {
    TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
        .setTensorShape(TensorCodec.shapeProto(new long[] {v.length}));
    for (int x : v) {
      t.addIntVal(x);
    }
    return Nodes.constant(name, t.build(), "");
  }

  // ---- function bodies (TF2 style)

  /** A function whose arguments are {@code args} (float), returning {@code ret -> ref} for one output "y". */
  static FunctionDef function(String name, List<String> args, String yRef, NodeDef.Builder... nodes) {
    OpDef.Builder sig = OpDef.newBuilder().setName(name);
    for (String a : args) {
      sig.addInputArg(OpDef.ArgDef.newBuilder().setName(a).setType(DataType.DT_FLOAT));
    }
    sig.addOutputArg(OpDef.ArgDef.newBuilder().setName("y").setType(DataType.DT_FLOAT));
    FunctionDef.Builder f = FunctionDef.newBuilder().setSignature(sig).putRet("y", yRef);
    for (NodeDef.Builder n : nodes) {
      f.addNodeDef(n);
    }
    return f.build();
  }

  /**
   * A top-level graph calling {@code fn} once: {@code call = StatefulPartitionedCall(args...)},
   * {@code out = Identity(call)}; {@code top} holds the argument producers.
   */
  static GraphDef callGraph(FunctionDef fn, List<String> args, NodeDef.Builder... top) {
    AttrValue.ListValue.Builder tin = AttrValue.ListValue.newBuilder();
    args.forEach(a -> tin.addType(DataType.DT_FLOAT));
    GraphDef.Builder g = graph(top).toBuilder();
    NodeDef.Builder call = NodeDef.newBuilder().setName("call").setOp("StatefulPartitionedCall")
        .putAttr("Tin", AttrValue.newBuilder().setList(tin).build())
        .putAttr("Tout", AttrValue.newBuilder().setList(AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT))
            .build())
        .putAttr("f", AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName(fn.getSignature().getName()))
            .build());
    args.forEach(call::addInput);
    return g.addNode(call).addNode(op("out", "Identity", "call"))
        .setLibrary(FunctionDefLibrary.newBuilder().addFunction(fn)).build();
  }

  // ---- running rules

  /** One rule through the pipeline, fetching {@code fetch}, to a fixed point. */
  static Pipeline.Result run(Rule rule, GraphDef g, Collection<String> fetch) {
    return run(List.of(rule), g, fetch, Set.of());
  }

  static Pipeline.Result run(List<Rule> rules, GraphDef g, Collection<String> fetch, Collection<String> fed) {
    return new Pipeline(rules, List.of()).run(g, fetch, fed, VariableStore.none(), true);
  }

  /** The default rules. */
  static Pipeline.Result runAll(GraphDef g, Collection<String> fetch) {
    return run(Rules.defaults(), g, fetch, Set.of());
  }

  /** What {@code rule} answers for top-level node {@code node}, without applying anything. */
  static Match match(Rule rule, GraphDef g, Collection<String> fetch, Collection<String> fed, String node) {
    ModelGraph graph = new ModelGraph(g, fetch, fed);
    Body top = graph.topLevel();
    return rule.match(new RuleContext(graph, VariableStore.none(), true), top, top.node(node).orElseThrow());
  }

  static Match match(Rule rule, GraphDef g, Collection<String> fetch, String node) {
    return match(rule, g, fetch, Set.of(), node);
  }

  /** Asserts {@code m} is a skip with {@code code} whose reason contains {@code text}; returns it. */
  static Skipped assertSkip(Match m, SkipCode code, String text) {
    Skipped s = assertInstanceOf(Skipped.class, m, "expected a skip, got " + m);
    assertEquals(code, s.code(), s.reason());
    assertTrue(s.reason().contains(text), "reason '" + s.reason() + "' should mention '" + text + "'");
    return s;
  }

  /** A second run of the same rules over the result changes nothing. */
  static void assertSettled(List<Rule> rules, Pipeline.Result r, Collection<String> fetch) {
    Pipeline.Result again = run(rules, r.graph(), fetch, Set.of());
    assertTrue(again.folds().isEmpty() && again.rewrites().isEmpty(),
        "second run changed something: " + again.folds() + " " + again.rewrites());
    assertEquals(r.graph(), again.graph(), "second run leaves the graph as it was");
    assertEquals(1, again.rounds());
  }

  // ---- reading results

  static Optional<NodeDef> node(GraphDef g, String name) {
    return g.getNodeList().stream().filter(n -> n.getName().equals(name)).findFirst();
  }

  static NodeDef nodeOf(GraphDef g, String name) {
    return node(g, name).orElseThrow(() -> new AssertionError("no node '" + name + "' in\n" + g));
  }

  static NodeDef nodeOf(FunctionDef f, String name) {
    return f.getNodeDefList().stream().filter(n -> n.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no node '" + name + "' in\n" + f));
  }

  static FunctionDef function(GraphDef g, String name) {
    return g.getLibrary().getFunctionList().stream().filter(f -> f.getSignature().getName().equals(name)).findFirst()
        .orElseThrow();
  }

  static DenseTensor value(NodeDef constNode) {
    assertEquals("Const", constNode.getOp(), constNode.toString());
    return TensorCodec.decode(constNode.getAttrMap().get("value").getTensor());
  }

  static boolean hasOp(GraphDef g, String op) {
    return g.getNodeList().stream().anyMatch(n -> n.getOp().equals(op));
  }

  /** Element-wise equality within float32 rounding of values near {@code expected}. */
  static void assertClose(double[] expected, double[] actual) {
    assertEquals(expected.length, actual.length, "length");
    for (int i = 0; i < expected.length; i++) {
      double tol = 1e-6 * Math.max(1, Math.abs(expected[i]));
      assertEquals(expected[i], actual[i], tol, "element " + i);
    }
  }

  // ---- reference math (double precision, written independently of ChannelMath)

  /** s[c] = gamma[c] / sqrt(var[c] + eps), with eps as the float32 attribute holds it. */
  static double[] bnScale(double[] gamma, double[] var, float eps) {
    double[] s = new double[gamma.length];
    for (int c = 0; c < s.length; c++) {
      s[c] = gamma[c] / Math.sqrt(var[c] + (double) eps);
    }
    return s;
  }

  /** b'[c] = (b[c] - mean[c]) * s[c] + beta[c]. */
  static double[] foldedBias(double[] bias, double[] mean, double[] beta, double[] s) {
    double[] out = new double[s.length];
    for (int c = 0; c < s.length; c++) {
      out[c] = ((bias == null ? 0 : bias[c]) - mean[c]) * s[c] + beta[c];
    }
    return out;
  }

  static double[] seq(int n, double start, double step) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = start + i * step;
    }
    return v;
  }
}
