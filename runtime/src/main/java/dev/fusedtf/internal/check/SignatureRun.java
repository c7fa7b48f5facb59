package dev.fusedtf.internal.check;

import java.util.List;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;

/** Runs a signature by tensor names, with extra feeds, and returns its outputs (in signature order) or named tensors. */
final class SignatureRun {
  private SignatureRun() {}

  /** Fetched tensors, owned by this object until {@link #close()}. */
  static final class Outputs implements AutoCloseable {
    private final Result result;

    private Outputs(Result result) {
      this.result = result;
    }

    Tensor get(int i) {
      return result.get(i);
    }

    @Override
    public void close() {
      result.close();
    }
  }

  /** The signature's outputs, in the order of {@code sig.getOutputs()}. */
  static Outputs run(Session s, Signature sig, Map<String, Tensor> inputs, Map<String, Tensor> extraFeeds) {
    List<String> fetches = sig.getOutputs().values().stream().map(d -> d.name).toList();
    return fetch(s, sig, inputs, extraFeeds, fetches);
  }

  /** Named tensors, fed the signature's inputs and {@code extraFeeds}. */
  static Outputs fetch(Session s, Signature sig, Map<String, Tensor> inputs, Map<String, Tensor> extraFeeds,
      List<String> fetches) {
    Session.Runner r = s.runner();
    for (Map.Entry<String, Signature.TensorDescription> e : sig.getInputs().entrySet()) {
      Tensor t = inputs.get(e.getKey());
      if (t == null) {
        throw new IllegalArgumentException("no probe for input '" + e.getKey() + "'");
      }
      r.feed(e.getValue().name, t);
    }
    extraFeeds.forEach(r::feed);
    fetches.forEach(r::fetch);
    return new Outputs(r.run());
  }
}
