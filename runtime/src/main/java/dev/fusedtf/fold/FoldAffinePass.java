package dev.fusedtf.fold;

import dev.fusedtf.graph.Body;
import dev.fusedtf.graph.BodyEditor;
import dev.fusedtf.graph.GraphEditor;
import dev.fusedtf.graph.ModelGraph;
import dev.fusedtf.graph.Nodes;
import dev.fusedtf.graph.OpOutputs;
import dev.fusedtf.graph.TensorRef;
import dev.fusedtf.weights.ConstantEvaluator;
import dev.fusedtf.weights.DenseTensor;
import dev.fusedtf.weights.TensorProtos;
import dev.fusedtf.weights.WeightResolver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * The {@code FoldAffinePass} folds per-channel affine maps written as plain arithmetic:
 *
 * <ul>
 *   <li>a decomposed BatchNorm ({@code x * (Rsqrt(var + eps) * gamma) + (beta - mean * ...)}) as Keras
 *       {@code BatchNormalization(fused=False)}, Keras BN on 2-D input, TF1 {@code tf.layers.batch_normalization},
 *       {@code tf.nn.batch_normalization} and slim write it, with the statistics reached through a
 *       {@code Select} on a training flag that is a constant or a {@code PlaceholderWithDefault(false)};</li>
 *   <li>a Caffe-style "Scale": {@code Mul} by a per-channel or scalar constant, then {@code Add}/{@code AddV2}/
 *       {@code BiasAdd}/{@code Sub} of one; or either alone (a bias added with Add instead of BiasAdd);</li>
 *   <li>chains of those (the pipeline repeats until nothing changes).</li>
 * </ul>
 *
 * <p>When a conv / depthwise / matmul (+BiasAdd, + Identity) produces {@code x} and nothing else reads it, the
 * map folds into its weights ({@code W * s}, {@code b * s + t}). Otherwise, when the scale and shift were
 * computed from statistics (a decomposed BN after an activation), they are precomputed into one {@code Mul} and
 * one {@code AddV2} of constants, so the per-request statistics arithmetic and the training-flag switch go away.
 * The last node of the chain keeps its name.
 */
public final class FoldAffinePass implements Pass {
  /** The pass name used in reports and to disable it. */
  public static final String NAME = "fold-affine";

  private static final Set<String> ADDS = Set.of("Add", "AddV2", "BiasAdd", "Sub");

  @Override
  public String name() {
    return NAME;
  }

  /** A matched affine chain {@code last(mul(x, s), t)}: {@code mul} may be null, {@code s}/{@code t} too. */
  record Chain(NodeDef last, NodeDef mul, TensorRef x, DenseTensor scale, DenseTensor shift, int computed,
      String why) {}

  @Override
  public PassResult run(ModelGraph graph, WeightResolver weights) {
    GraphEditor editor = new GraphEditor(graph);
    List<Fold> folds = new ArrayList<>();
    List<Skip> skips = new ArrayList<>();
    ConstantEvaluator eval = new ConstantEvaluator(weights);
    for (Body body : graph.servingBodies()) {
      Set<String> touched = new HashSet<>();
      Set<String> keep = graph.protectedNodes(body);
      for (NodeDef n : body.nodes()) {
        if (!graph.isLive(body, n.getName())) {
          continue;
        }
        Chain c = match(graph, body, n, eval);
        if (c == null) {
          continue;
        }
        if (c.why() != null) {
          skips.add(new Skip(n.getName(), c.why(), body.functionName(), NAME));
          continue;
        }
        if (touched.contains(n.getName()) || (c.mul() != null && touched.contains(c.mul().getName()))) {
          continue;
        }
        String kind = c.computed() > 0 ? "DecomposedBatchNorm"
            : c.mul() != null ? "Scale(Mul+" + n.getOp() + ")"
            : n.getOp().equals("Mul") ? "Scale(Mul)"
            : n.getOp() + "(bias)";
        NodeDef reader = c.mul() != null ? c.mul() : n;
        LinearFold.Found found = LinearFold.find(graph, body, c.x(), reader, weights);
        if (found.target() != null && c.mul() == null && c.computed() == 0 && n.getOp().equals("BiasAdd")
            && found.target().bias() == null && found.target().identities().isEmpty()) {
          continue; // BiasAdd right after the linear op (and its Squeeze) is already the folded form
        }
        if (found.target() != null) {
          String why = foldInto(body, editor.edit(body), found.target(), c, keep);
          if (why == null) {
            folds.add(new Fold(n.getName(), found.target().conv().getName(), found.target().pattern() + "+" + kind,
                body.functionName(), NAME, LinearFold.sharedKernelNote(body, found.target())));
            markTouched(touched, n, c, found.target());
            continue;
          }
          if (c.computed() == 0) {
            continue; // a plain scale we cannot fold and cannot improve
          }
          found = new LinearFold.Found(null, why);
        }
        if (c.computed() == 0) {
          continue; // plain constants after a non-linear op: nothing to fold into, nothing to precompute
        }
        precompute(body, editor.edit(body), c, keep);
        touched.add(n.getName());
        folds.add(new Fold(n.getName(), LinearFold.producerOfFirstOutput(body, c.x()).map(NodeDef::getName)
            .orElse(c.x().node()), kind + " statistics precomputed into Mul+AddV2 (" + found.reason() + ")",
            body.functionName(), NAME, null));
      }
    }
    return new PassResult(editor.changed() ? editor.build() : null, folds, skips);
  }

  private static void markTouched(Set<String> touched, NodeDef n, Chain c, LinearFold.Target t) {
    touched.add(n.getName());
    touched.add(t.conv().getName());
    if (c.mul() != null) {
      touched.add(c.mul().getName());
    }
    if (t.bias() != null) {
      touched.add(t.bias().getName());
    }
  }

  /** A chain ending at {@code n}, a chain with a skip reason (a BN-like chain that cannot fold), or null. */
  static Chain match(ModelGraph graph, Body body, NodeDef n, ConstantEvaluator eval) {
    if (!ADDS.contains(n.getOp()) && !n.getOp().equals("Mul")) {
      return null;
    }
    List<TensorRef> in = Body.dataInputs(n);
    if (in.size() != 2) {
      return null;
    }
    boolean bnNamed = n.getName().endsWith("batchnorm/add_1");
    if (n.getOp().equals("Mul")) {
      // a scale alone: only when its reader is not an add of a constant (then the add is the chain's end)
      for (Body.Use u : graph.liveDataUses(body, n.getName())) {
        if (u.consumer() != null && ADDS.contains(u.consumer().getOp())) {
          return null;
        }
      }
      Side side = split(body, in, eval, false);
      if (side == null) {
        return null;
      }
      return new Chain(n, null, side.x(), side.constant().value(), null, side.constant().computedNodes(), null);
    }
    Side side = split(body, in, eval, n.getOp().equals("Sub"));
    if (side == null) {
      if (bnNamed) {
        ConstantEvaluator.Result r = eval.evaluate(body, in.get(1));
        return new Chain(n, null, null, null, null, 0,
            "decomposed BatchNorm not folded: its shift is not constant (" + r.reason() + ")");
      }
      return null;
    }
    DenseTensor shift = side.constant().value();
    if (n.getOp().equals("BiasAdd") && Nodes.stringAttr(n, "data_format", "NHWC").startsWith("NC")
        && shift.rank() == 1) {
      shift = new DenseTensor(new long[] {1, shift.size(), 1, 1}, shift.values(), shift.dtype()); // bias on axis 1
    }
    if (n.getOp().equals("Sub")) {
      double[] v = shift.values().clone();
      for (int i = 0; i < v.length; i++) {
        v[i] = -v[i];
      }
      shift = shift.withValues(v);
    }
    int computed = side.constant().computedNodes();
    Optional<NodeDef> m = LinearFold.producerOfFirstOutput(body, side.x());
    if (m.isPresent() && m.get().getOp().equals("Mul") && graph.liveDataUses(body, m.get().getName()).size() == 1
        && !graph.isProtected(body, m.get().getName())) {
      Side ms = split(body, Body.dataInputs(m.get()), eval, false);
      if (ms != null) {
        return new Chain(n, m.get(), ms.x(), ms.constant().value(), shift,
            computed + ms.constant().computedNodes(), null);
      }
      if (bnNamed) {
        ConstantEvaluator.Result r = eval.evaluate(body, Body.dataInputs(m.get()).get(1));
        return new Chain(n, null, null, null, null, 0,
            "decomposed BatchNorm not folded: its scale is not constant (" + r.reason() + ")");
      }
    }
    if (n.getOp().equals("BiasAdd") && m.isPresent() && ChannelOp.of(m.get().getOp()) != null) {
      return null; // conv + BiasAdd is already the folded form
    }
    return new Chain(n, null, side.x(), null, shift, computed, null);
  }

  /** The non-constant input and the constant one. */
  private record Side(TensorRef x, ConstantEvaluator.Result constant) {}

  private static Side split(Body body, List<TensorRef> in, ConstantEvaluator eval, boolean ordered) {
    ConstantEvaluator.Result b = eval.evaluate(body, in.get(1));
    if (b.known() && isFloat(b.value()) && !eval.evaluate(body, in.get(0)).known()) {
      return new Side(in.get(0), b);
    }
    if (ordered) {
      return null;
    }
    ConstantEvaluator.Result a = eval.evaluate(body, in.get(0));
    if (a.known() && isFloat(a.value()) && !b.known()) {
      return new Side(in.get(1), a);
    }
    return null;
  }

  private static boolean isFloat(DenseTensor t) {
    return TensorProtos.isSupported(t.dtype());
  }

  /**
   * Per-channel values of {@code t} as it broadcasts against a tensor of rank {@code rank} whose channel axis is 1
   * ({@code channelsFirst}) or last, or null when it does not broadcast that way (a scalar fills every channel; a
   * null {@code t} gives {@code fill}). A constant of higher rank than the tensor would change the result's rank.
   */
  static double[] perChannel(DenseTensor t, int channels, boolean channelsFirst, int fill, int rank) {
    if (t == null || t.size() == 1) {
      if (t != null && t.rank() > rank) {
        return null;
      }
      double[] v = new double[channels];
      java.util.Arrays.fill(v, t == null ? fill : t.get(0));
      return v;
    }
    long[] s = t.shape();
    if (s.length > rank || t.size() != channels) {
      return null;
    }
    int axis = channelsFirst ? 1 : rank - 1;
    for (int i = 0; i < s.length; i++) {
      int aligned = rank - s.length + i;
      if (aligned == axis ? s[i] != channels : s[i] != 1) {
        return null;
      }
    }
    return axis >= rank - s.length ? t.values() : null;
  }

  /** Folds into the target's weights; returns null on success or why it cannot. */
  private static String foldInto(Body body, BodyEditor ed, LinearFold.Target t, Chain c, Set<String> keep) {
    int rank = t.outputRank();
    double[] s = perChannel(c.scale(), t.channels(), t.channelsFirst(), 1, rank);
    double[] shift = perChannel(c.shift(), t.channels(), t.channelsFirst(), 0, rank);
    if (s == null || shift == null) {
      return "scale/shift shapes do not match the " + t.channels() + " channels of " + t.conv().getName();
    }
    DataType outType = Nodes.typeAttr(c.last(), "T", DataType.DT_FLOAT);
    LinearFold.rewrite(ed, t, s, shift, c.last(), outType, c.mul() != null ? List.of(c.mul()) : List.of(), keep);
    return null;
  }

  /** Replaces the chain by {@code AddV2(Mul(x, s), t)} of constants, keeping the names of its nodes. */
  private static void precompute(Body body, BodyEditor ed, Chain c, Set<String> keep) {
    NodeDef last = c.last();
    DataType dt = Nodes.typeAttr(last, "T", DataType.DT_FLOAT);
    String xRef = ed.currentRef(c.x());
    List<TensorRef> orphans = new ArrayList<>(Body.dataInputs(last));
    if (c.scale() != null) {
      NodeDef mulNode = c.mul() != null ? c.mul() : last; // a scale alone ends at its own Mul
      String sName = ed.uniqueName(mulNode.getName() + "/folded_scale");
      ed.add(Nodes.constant(sName, TensorProtos.encode(asType(c.scale(), dt)), last.getDevice()), mulNode.getName());
      orphans.addAll(Body.dataInputs(mulNode));
      ed.replace(NodeDef.newBuilder().setName(mulNode.getName()).setOp("Mul").setDevice(mulNode.getDevice())
          .addInput(xRef).addInput(OpOutputs.firstOutputRef(body, sName, "Const"))
          .addAllInput(Body.controlInputs(mulNode)).putAttr("T", Nodes.type(dt)).build());
      xRef = OpOutputs.firstOutputRef(body, mulNode.getName(), "Mul");
    }
    if (c.shift() != null) {
      String tName = ed.uniqueName(last.getName() + "/folded_shift");
      ed.add(Nodes.constant(tName, TensorProtos.encode(asType(c.shift(), dt)), last.getDevice()), last.getName());
      ed.replace(NodeDef.newBuilder().setName(last.getName()).setOp("AddV2").setDevice(last.getDevice())
          .addInput(xRef).addInput(OpOutputs.firstOutputRef(body, tName, "Const"))
          .addAllInput(Body.controlInputs(last)).putAttr("T", Nodes.type(dt)).build());
      ed.redirectFirstOutput(last.getName(), OpOutputs.firstOutputArg(last.getOp()),
          OpOutputs.firstOutputRef(body, last.getName(), "AddV2"));
    }
    for (TensorRef r : orphans) {
      ed.removeIfUnused(r.node(), keep);
    }
  }

  private static DenseTensor asType(DenseTensor t, DataType dt) {
    return new DenseTensor(t.shape(), t.values(), dt);
  }
}
