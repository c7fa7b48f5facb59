package dev.fusedtf.internal.graph;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.tensorflow.TensorFlow;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.OpList;

/**
 * The {@code OpOutputs} knows the name of each op's first output argument, which function bodies use in
 * references ({@code conv:output:0}, {@code bn:y:0}, {@code read:value:0}). Common ops are listed here; any
 * other op is looked up once in TensorFlow's registered op list.
 */
public final class OpOutputs {
  private static final Map<String, String> FIRST = new ConcurrentHashMap<>(Map.ofEntries(
      Map.entry("Const", "output"),
      Map.entry("Identity", "output"),
      Map.entry("Conv2D", "output"),
      Map.entry("Conv3D", "output"),
      Map.entry("DepthwiseConv2dNative", "output"),
      Map.entry("Conv2DBackpropInput", "output"),
      Map.entry("MatMul", "product"),
      Map.entry("BiasAdd", "output"),
      Map.entry("FusedBatchNorm", "y"),
      Map.entry("FusedBatchNormV2", "y"),
      Map.entry("FusedBatchNormV3", "y"),
      Map.entry("ReadVariableOp", "value"),
      Map.entry("Relu", "activations"),
      Map.entry("Relu6", "activations"),
      Map.entry("Add", "z"),
      Map.entry("AddV2", "z"),
      Map.entry("Mul", "z"),
      Map.entry("Sub", "z"),
      Map.entry("Rsqrt", "y")));
  private static volatile Map<String, String> registered;

  private OpOutputs() {}

  /** Name of the first output argument of {@code op}, or {@code "output"} when the op is unknown. */
  public static String firstOutputArg(String op) {
    String known = FIRST.get(op);
    if (known != null) {
      return known;
    }
    Map<String, String> all = registered();
    return all.getOrDefault(op, "output");
  }

  /** The reference to output 0 of {@code node} (of type {@code op}) in the syntax of {@code body}. */
  public static String firstOutputRef(Body body, String node, String op) {
    return body.isFunction() ? node + ":" + firstOutputArg(op) + ":0" : node;
  }

  private static Map<String, String> registered() {
    Map<String, String> r = registered;
    if (r == null) {
      synchronized (OpOutputs.class) {
        if (registered == null) {
          Map<String, String> m = new ConcurrentHashMap<>();
          OpList list = TensorFlow.registeredOpList();
          for (OpDef def : list.getOpList()) {
            if (def.getOutputArgCount() > 0) {
              m.put(def.getName(), def.getOutputArg(0).getName());
            }
          }
          registered = m;
        }
        r = registered;
      }
    }
    return r;
  }
}
