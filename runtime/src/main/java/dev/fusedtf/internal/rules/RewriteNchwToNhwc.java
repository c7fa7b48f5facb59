package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.BodyEditor;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.weights.TensorCodec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import dev.fusedtf.report.Rewrite;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;

/**
 * Rewrites chains of channels-first (NCHW) convolutions, bias adds, BatchNorms,
 * pools and the element-wise ops between them to channels-last (NHWC), with one {@code Transpose} where a chain
 * is entered and one where its result leaves it. On CPU an NCHW Conv2D runs on a reference kernel (measured
 * about 1000x slower than NHWC at batch 1 with oneDNN) or fails without oneDNN.
 *
 * <p>Runs only for CPU sessions: on a GPU, channels-first is the fast layout. Nodes keep their names: a node whose
 * result is read outside the chain becomes a Transpose back to NCHW under its old name, and its NHWC version is
 * renamed {@code <name>/nhwc}.
 */
final class RewriteNchwToNhwc implements Rule {
  static final String NAME = "nchw-to-nhwc";

  private static final Set<String> SENSITIVE = Set.of("Conv2D", "DepthwiseConv2dNative", "BiasAdd", "FusedBatchNorm",
      "FusedBatchNormV2", "FusedBatchNormV3", "MaxPool", "AvgPool");
  private static final Set<String> CONVS = Set.of("Conv2D", "DepthwiseConv2dNative");
  private static final Set<String> UNARY = Set.of("Relu", "Relu6", "Elu", "Selu", "Sigmoid", "Tanh", "Identity",
      "LeakyRelu", "Softplus");
  private static final Set<String> BINARY = Set.of("Add", "AddV2", "Mul", "Sub", "Maximum", "Minimum");
  private static final String[] LIST_ATTRS = {"strides", "dilations", "ksize"};

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<String> targetOps() {
    return CONVS;
  }

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef conv) {
    if (!ctx.cpu() || !nchw(conv)) {
      return Match.none(); // on a GPU channels-first is the fast layout
    }
    Set<String> domain = domain(ctx.graph(), body);
    String first = domain.stream().filter(n -> CONVS.contains(body.node(n).orElseThrow().getOp())).findFirst()
        .orElse(null);
    if (!conv.getName().equals(first)) {
      return Match.none(); // one plan per body, made at its first channels-first conv
    }
    Set<String> keepNames = ctx.graph().protectedNodes(body);
    Set<String> readOutside = new LinkedHashSet<>();
    for (String name : domain) {
      boolean outside = keepNames.contains(name);
      for (Body.Use u : body.uses(name)) {
        if (!u.isControl() && (u.consumer() == null || !domain.contains(u.consumer().getName()))) {
          outside = true;
        }
      }
      if (outside) {
        readOutside.add(name);
      }
    }
    List<String> nodes = new ArrayList<>(domain);
    Rewrite r = new Rewrite(Rewrite.Kind.LAYOUT, nodes, body.functionName(), NAME, "NCHW -> NHWC: " + domain.size()
        + " ops run channels-last, with a Transpose where the chain is entered and where its result is read");
    return new Plan(domain, new Plan.RewriteChange(r), ed -> rewrite(ed, domain, readOutside));
  }

  private static boolean nchw(NodeDef n) {
    return Nodes.stringAttr(n, "data_format", "NHWC").equals("NCHW");
  }

  /** The live nodes that can run channels-last together. */
  private static Set<String> domain(ModelGraph graph, Body body) {
    Set<String> d = new LinkedHashSet<>();
    for (NodeDef n : body.nodes()) {
      // BiasAdd is legal on any rank: it joins only through an input already in the domain (4-D)
      if (SENSITIVE.contains(n.getOp()) && !n.getOp().equals("BiasAdd") && nchw(n) && graph.isLive(body, n.getName())
          && onlyFirstOutputRead(graph, body, n) && !graph.isProtected(body, n.getName())) {
        d.add(n.getName());
      }
    }
    boolean grew = true;
    while (grew) {
      grew = false;
      for (NodeDef n : body.nodes()) {
        if (d.contains(n.getName()) || !graph.isLive(body, n.getName())) {
          continue;
        }
        List<TensorRef> in = Body.dataInputs(n);
        boolean ok = false;
        if (n.getOp().equals("BiasAdd") && nchw(n) && in.size() == 2) {
          ok = inDomain(body, d, in.get(0)) && onlyFirstOutputRead(graph, body, n);
        } else if (UNARY.contains(n.getOp()) && in.size() == 1) {
          ok = inDomain(body, d, in.get(0));
        } else if (BINARY.contains(n.getOp()) && in.size() == 2) {
          boolean a = inDomain(body, d, in.get(0));
          boolean b = inDomain(body, d, in.get(1));
          ok = (a && b) || (a && scalarConst(body, in.get(1))) || (b && scalarConst(body, in.get(0)));
        }
        if (ok && !graph.isProtected(body, n.getName())) {
          d.add(n.getName());
          grew = true;
        }
      }
    }
    return d;
  }

  private static boolean onlyFirstOutputRead(ModelGraph graph, Body body, NodeDef n) {
    String first = OpOutputs.firstOutputArg(n.getOp());
    return graph.liveDataUses(body, n.getName()).stream().allMatch(u -> u.ref().isFirstOutput(first));
  }

  private static boolean inDomain(Body body, Set<String> d, TensorRef r) {
    Optional<NodeDef> p = body.producer(r);
    return p.isPresent() && d.contains(p.get().getName()) && r.isFirstOutput(OpOutputs.firstOutputArg(p.get().getOp()));
  }

  private static boolean scalarConst(Body body, TensorRef r) {
    Optional<NodeDef> p = body.producer(r);
    if (p.isEmpty() || !p.get().getOp().equals("Const")) {
      return false;
    }
    return TensorCodec.numElements(TensorCodec.shapeOf(p.get().getAttrMap().get("value").getTensor()
        .getTensorShape())) == 1;
  }

  /** Converts the domain; returns the number of transposes added. */
  private static int rewrite(BodyEditor ed, Set<String> d, Set<String> readOutside) {
    Body body = ed.original();
    String toNhwc = ed.uniqueName("fusedtf/nchw_to_nhwc_perm");
    ed.add(Nodes.constant(toNhwc, perm(0, 2, 3, 1), ""), null);
    String toNchw = ed.uniqueName("fusedtf/nhwc_to_nchw_perm");
    ed.add(Nodes.constant(toNchw, perm(0, 3, 1, 2), ""), null);
    Map<String, String> inTransposes = new HashMap<>();
    Map<String, String> renamed = new HashMap<>();
    int count = 0;
    // nodes read outside the domain get an NHWC twin; the old name becomes the transpose back
    for (String name : readOutside) {
      renamed.put(name, ed.uniqueName(name + "/nhwc"));
    }
    for (String name : d) {
      NodeDef n = body.node(name).orElseThrow();
      NodeDef.Builder b = n.toBuilder().clearInput().removeAttr("_output_shapes");
      if (SENSITIVE.contains(n.getOp())) {
        b.putAttr("data_format", Nodes.string("NHWC"));
        for (String a : LIST_ATTRS) {
          long[] v = Nodes.intsAttr(n, a);
          if (v != null && v.length == 4) {
            b.putAttr(a, ints(v[0], v[2], v[3], v[1]));
          }
        }
        long[] pads = Nodes.intsAttr(n, "explicit_paddings"); // (before, after) pairs in dimension order
        if (pads != null && pads.length == 8) {
          b.putAttr("explicit_paddings", ints(pads[0], pads[1], pads[4], pads[5], pads[6], pads[7], pads[2], pads[3]));
        }
      }
      int dataIdx = 0;
      for (String in : n.getInputList()) {
        TensorRef r = TensorRef.parse(in);
        if (r.isControl()) {
          b.addInput(in);
          continue;
        }
        boolean layoutInput = !SENSITIVE.contains(n.getOp()) || dataIdx == 0;
        dataIdx++;
        if (!layoutInput) {
          b.addInput(in);
        } else if (inDomain(body, d, r)) {
          String src = r.node();
          String target = renamed.getOrDefault(src, src);
          b.addInput(OpOutputs.firstOutputRef(body, target, body.node(src).orElseThrow().getOp()));
        } else if (scalarConst(body, r)) {
          b.addInput(in);
        } else {
          String t = inTransposes.get(in);
          if (t == null) {
            t = ed.uniqueName(r.node() + "/to_nhwc");
            ed.add(transpose(body, t, in, toNhwc, Nodes.typeAttr(n, "T", DataType.DT_FLOAT)), name);
            inTransposes.put(in, t);
            count++;
          }
          b.addInput(OpOutputs.firstOutputRef(body, t, "Transpose"));
        }
      }
      String newName = renamed.get(name);
      if (newName == null) {
        ed.replace(b.build());
      } else {
        ed.add(b.setName(newName).build(), name);
        ed.replace(transpose(body, name, OpOutputs.firstOutputRef(body, newName, n.getOp()), toNchw,
            Nodes.typeAttr(n, "T", DataType.DT_FLOAT)));
        ed.redirectFirstOutput(name, OpOutputs.firstOutputArg(n.getOp()), OpOutputs.firstOutputRef(body, name, "Transpose"));
        count++;
      }
    }
    return count;
  }

  private static NodeDef transpose(Body body, String name, String input, String permNode, DataType t) {
    return NodeDef.newBuilder().setName(name).setOp("Transpose").addInput(input)
        .addInput(OpOutputs.firstOutputRef(body, permNode, "Const"))
        .putAttr("T", Nodes.type(t)).putAttr("Tperm", Nodes.type(DataType.DT_INT32)).build();
  }

  private static TensorProto perm(int... p) {
    TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
        .setTensorShape(TensorCodec.shapeProto(new long[] {p.length}));
    for (int v : p) {
      t.addIntVal(v);
    }
    return t.build();
  }

  private static AttrValue ints(long... v) {
    AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
    for (long x : v) {
      l.addI(x);
    }
    return AttrValue.newBuilder().setList(l).build();
  }
}
