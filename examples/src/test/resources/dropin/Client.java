import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.SessionFunction;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.types.TFloat32;

/** An ordinary TensorFlow Java 1.1.0 client: loads a SavedModel and runs it every way the API offers. */
public final class Client {
  private Client() {}

  public static List<Object> run(String dir) {
    List<Object> out = new ArrayList<>();
    try (SavedModelBundle model = SavedModelBundle.loader(dir).withTags("serve")
        .withConfigProto(ConfigProto.newBuilder().build()).load()) {
      Signature sig = null;
      for (Signature s : model.signatures()) {
        if (s.key().equals("serving_default")) {
          sig = s;
        }
      }
      String in = sig.inputNames().iterator().next();
      String outName = sig.outputNames().iterator().next();
      Signature.TensorDescription d = sig.getInputs().get(in);
      long[] shape = d.shape.asArray();
      int n = 1;
      for (int i = 0; i < shape.length; i++) {
        shape[i] = shape[i] < 0 ? 2 : shape[i];
        n *= (int) shape[i];
      }
      float[] data = new float[n];
      for (int i = 0; i < n; i++) {
        data[i] = (float) Math.sin(i * 0.37);
      }
      try (TFloat32 x = TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(data, true, false))) {
        Map<String, Tensor> inputs = Map.of(in, x);
        try (Result r = model.call(inputs)) {
          out.add(values(r.get(outName).get()));
        }
        SessionFunction f = model.function("serving_default");
        try (Result r = f.call(inputs)) {
          out.add(values(r.get(outName).get()));
        }
        try (Result r = model.session().runner().feed(d.name, x).fetch(sig.getOutputs().get(outName).name).run()) {
          out.add(values(r.get(0)));
        }
      }
      List<SessionFunction> functions = model.functions();
      out.add(functions.size());
      out.add(model.signatures().size());
      MetaGraphDef meta = model.metaGraphDef();
      out.add(meta.getSignatureDefCount());
      out.add(model.graph() != null);
    }
    try (SavedModelBundle again = SavedModelBundle.load(dir, "serve")) {
      out.add(again.signatures().size());
    }
    try (SavedModelBundle third = SavedModelBundle.load(dir)) {
      out.add(third.signatures().size());
    }
    return out;
  }

  private static float[] values(Tensor t) {
    float[] v = new float[(int) t.shape().size()];
    t.asRawTensor().data().asFloats().read(v);
    return v;
  }
}
