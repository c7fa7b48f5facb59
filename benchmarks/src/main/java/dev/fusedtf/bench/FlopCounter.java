package dev.fusedtf.bench;

import dev.fusedtf.internal.rules.KernelLayout;
import dev.fusedtf.internal.weights.TensorCodec;
import java.util.HashMap;
import java.util.Map;
import java.util.Map.Entry;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.NodeOutput;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.proto.TensorShapeProto;

/**
 * The {@code FlopCounter} counts the multiply-adds of the convolutions and matrix products one call runs, from
 * a traced run: the output shape of each conv / depthwise / matmul node as executed (after Grappler's fusions),
 * and its kernel's shape from the constants of the graph, read through the runtime's {@link KernelLayout}. Other ops are not counted. When a kernel is not a
 * constant of the graph (a variable), that node's FLOPs are unknown and the total is reported as unknown.
 */
public final class FlopCounter {
  private static final Pattern LABEL = Pattern.compile("(\\S+) = (\\S+)\\(([^)]*)\\)");

  private FlopCounter() {}

  /**
   * FLOPs (2 x multiply-adds) of one run of {@code sig} on {@code inputs}, or -1 when some conv's kernel shape is
   * unknown or nothing was counted.
   */
  public static long count(Session session, GraphDef graph, Signature sig, Map<String, Tensor> inputs) {
    Map<String, long[]> constShapes = constShapes(graph);
    Session.Runner r = session.runner();
    for (Entry<String, Signature.TensorDescription> e : sig.getInputs().entrySet()) {
      r.feed(e.getValue().name, inputs.get(e.getKey()));
    }
    for (Signature.TensorDescription d : sig.getOutputs().values()) {
      r.fetch(d.name);
    }
    r.setOptions(RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build());
    long total = 0;
    boolean unknown = false;
    try (Result res = r.runAndFetchMetadata()) {
      RunMetadata md = res.getMetadata().orElse(null);
      if (md == null) {
        return -1;
      }
      // the shape every executed node produced (kernels included: Const and ReadVariableOp run too)
      Map<String, long[]> produced = new HashMap<>();
      for (DeviceStepStats dev : md.getStepStats().getDevStatsList()) {
        for (NodeExecStats n : dev.getNodeStatsList()) {
          if (n.getOutputCount() > 0 && shape(n.getOutput(0)) != null) {
            produced.put(n.getNodeName(), shape(n.getOutput(0)));
          }
        }
      }
      for (DeviceStepStats dev : md.getStepStats().getDevStatsList()) {
        for (NodeExecStats n : dev.getNodeStatsList()) {
          Matcher m = LABEL.matcher(n.getTimelineLabel());
          if (!m.find() || n.getOutputCount() == 0) {
            continue;
          }
          String op = m.group(2);
          boolean depthwise = op.contains("DepthwiseConv2dNative");
          boolean conv = op.contains("Conv2D") && !op.contains("Backprop") && !depthwise;
          boolean matmul = op.contains("MatMul");
          if (!conv && !depthwise && !matmul) {
            continue;
          }
          String[] ins = m.group(3).split(",\\s*");
          String kernelName = ins.length > 1 ? ins[1].replaceAll(":.*$", "") : "";
          long[] kernel = produced.containsKey(kernelName) ? produced.get(kernelName) : constShapes.get(kernelName);
          long[] out = shape(n.getOutput(0));
          if (kernel == null || out == null || out.length == 0) {
            unknown = true;
            continue;
          }
          long outElems = TensorCodec.numElements(out);
          boolean transposed = matmul && kernel.length == 2 && kernel[1] != out[out.length - 1];
          KernelLayout layout = KernelLayout.of(NodeDef.newBuilder()
              .setOp(depthwise ? "DepthwiseConv2dNative" : conv ? "Conv2D" : "MatMul")
              .putAttr("transpose_b", org.tensorflow.proto.AttrValue.newBuilder().setB(transposed).build())
              .build(), kernel);
          if (layout == null) {
            unknown = true;
          } else {
            total += 2 * outElems * layout.macsPerOutput();
          }
        }
      }
    }
    return unknown || total == 0 ? -1 : total;
  }

  private static long[] shape(NodeOutput o) {
    if (!o.hasTensorDescription()) {
      return null;
    }
    TensorShapeProto s = o.getTensorDescription().getShape();
    return s.getUnknownRank() ? null : TensorCodec.shapeOf(s);
  }

  private static Map<String, long[]> constShapes(GraphDef g) {
    Map<String, long[]> out = new HashMap<>();
    for (NodeDef n : g.getNodeList()) {
      addConst(out, n);
    }
    for (FunctionDef f : g.getLibrary().getFunctionList()) {
      for (NodeDef n : f.getNodeDefList()) {
        addConst(out, n);
      }
    }
    return out;
  }

  private static void addConst(Map<String, long[]> out, NodeDef n) {
    if (n.getOp().equals("Const") && n.getAttrMap().containsKey("value")) {
      out.put(n.getName(), TensorCodec.shapeOf(n.getAttrMap().get("value").getTensor().getTensorShape()));
    }
  }
}
