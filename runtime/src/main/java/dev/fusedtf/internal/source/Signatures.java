package dev.fusedtf.internal.source;

import java.lang.reflect.Constructor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Signature;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/**
 * Builds TF Java {@link Signature} objects from a MetaGraphDef's SignatureDefs exactly as {@code SavedModelBundle}
 * does (same keys, tensor names, dtypes and declared shapes), so a model FusedTF built in memory describes its
 * signatures as the SavedModel declared them.
 */
public final class Signatures {
  private static final Constructor<Signature> CONSTRUCTOR = constructor();

  private Signatures() {}

  /** The serving signatures of {@code meta}: internal ones ({@code __...}) and those without outputs left out. */
  public static List<Signature> serving(MetaGraphDef meta, Graph graph) {
    List<Signature> out = new ArrayList<>();
    for (Map.Entry<String, SignatureDef> e : meta.getSignatureDefMap().entrySet()) {
      if (!e.getKey().startsWith("__") && e.getValue().getOutputsCount() > 0) {
        out.add(of(e.getKey(), e.getValue(), graph));
      }
    }
    return out;
  }

  /** Every signature of {@code meta}, as {@code SavedModelBundle.signatures()} lists them. */
  public static List<Signature> all(MetaGraphDef meta, Graph graph) {
    List<Signature> out = new ArrayList<>();
    for (Map.Entry<String, SignatureDef> e : meta.getSignatureDefMap().entrySet()) {
      out.add(of(e.getKey(), e.getValue(), graph));
    }
    return out;
  }

  /** Whether a signature is one users call (not {@code __saved_model_init_op} and the like). */
  public static boolean isServing(Signature s) {
    return !s.key().startsWith("__") && !s.getOutputs().isEmpty();
  }

  /** One signature. */
  public static Signature of(String key, SignatureDef def, Graph graph) {
    if (CONSTRUCTOR != null) {
      try {
        return CONSTRUCTOR.newInstance(key, def);
      } catch (ReflectiveOperationException | RuntimeException e) {
        // fall back to the builder below
      }
    }
    Signature.Builder b = Signature.builder(key).methodName(def.getMethodName());
    for (Map.Entry<String, TensorInfo> in : def.getInputsMap().entrySet()) {
      b.input(in.getKey(), graph.outputOrThrow(in.getValue().getName()));
    }
    for (Map.Entry<String, TensorInfo> out : def.getOutputsMap().entrySet()) {
      b.output(out.getKey(), graph.outputOrThrow(out.getValue().getName()));
    }
    return b.build();
  }

  private static Constructor<Signature> constructor() {
    try {
      Constructor<Signature> c = Signature.class.getDeclaredConstructor(String.class, SignatureDef.class);
      c.setAccessible(true);
      return c;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }
}
