package dev.fusedtf.internal.source;

import dev.fusedtf.errors.ModelLoadException;
import dev.fusedtf.internal.graph.TensorRef;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/** Checks, before anything runs, that every tensor a signature names exists in the loaded graph. */
final class SignatureTensors {
  private SignatureTensors() {}

  static void validate(MetaGraphDef meta, Graph graph, String model) {
    for (Map.Entry<String, SignatureDef> s : meta.getSignatureDefMap().entrySet()) {
      check(s.getKey(), s.getValue().getInputsMap(), "input", graph, model);
      check(s.getKey(), s.getValue().getOutputsMap(), "output", graph, model);
    }
  }

  private static void check(String sig, Map<String, TensorInfo> tensors, String what, Graph graph, String model) {
    for (Map.Entry<String, TensorInfo> t : tensors.entrySet()) {
      String name = t.getValue().getName();
      if (name.isEmpty()) {
        throw new ModelLoadException(model + ": signature '" + sig + "' " + what + " '" + t.getKey()
            + "' names no tensor (only dense tensors are supported)");
      }
      TensorRef ref = TensorRef.parse(name);
      GraphOperation op = graph.operation(ref.node());
      if (op == null) {
        throw new ModelLoadException(model + ": signature '" + sig + "' " + what + " '" + t.getKey()
            + "' names tensor '" + name + "', but the graph has no node '" + ref.node() + "'");
      }
      int index = ref.output().isEmpty() ? 0 : parseIndex(ref.output());
      if (sig.startsWith("__") && op.numOutputs() == 0) {
        continue; // an init-op signature names its op as a target, not a tensor
      }
      if (index < 0 || index >= op.numOutputs()) {
        throw new ModelLoadException(model + ": signature '" + sig + "' " + what + " '" + t.getKey()
            + "' names tensor '" + name + "', but node '" + ref.node() + "' has " + op.numOutputs() + " outputs");
      }
    }
  }

  private static int parseIndex(String s) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
