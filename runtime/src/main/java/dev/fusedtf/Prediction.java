package dev.fusedtf;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;
import org.tensorflow.Result;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;

/**
 * The {@code Prediction} holds the outputs of one {@link dev.fusedtf.FusedModel#predict(String, java.util.Map)}
 * call, by signature output name. It owns the output tensors and frees them on {@link #close()}: always close
 * it, best with try-with-resources.
 *
 * <pre>{@code
 * try (Prediction p = model.predict(Map.of("x", image))) {
 *   float[] y = p.floats("y");
 *   long[] shape = p.shape("y");
 * }
 * }</pre>
 *
 * <p>Like a {@link Tensor}, a {@code Prediction} is not thread-safe: use it from one thread at a time. After
 * {@link #close()} every accessor throws {@link IllegalStateException} (reading a closed tensor would return
 * garbage silently), and tensors obtained from {@link #tensor(String)} must no longer be used.
 */
public final class Prediction implements AutoCloseable {
  private final String signature;
  private final Result result;
  private final Set<String> names;
  private boolean closed;

  /**
   * Wraps {@code result}, taking ownership of it: closing this prediction closes the result and its tensors.
   *
   * @param signature the key of the signature that produced the result
   * @param result the outputs, by signature output name
   */
  Prediction(String signature, Result result) {
    this.signature = Objects.requireNonNull(signature, "signature");
    this.result = Objects.requireNonNull(result, "result");
    this.names = Collections.unmodifiableSet(new LinkedHashSet<>(result.keySet()));
  }

  /** The key of the signature that produced these outputs. */
  public String signature() {
    return signature;
  }

  /** The output names, in the result's order. */
  public Set<String> names() {
    return names;
  }

  /**
   * The output tensor {@code name}, still owned by this prediction: do not close it, and do not use it after
   * this prediction is closed.
   *
   * @throws IllegalArgumentException if there is no output of that name
   * @throws IllegalStateException if this prediction is closed
   */
  public Tensor tensor(String name) {
    ensureOpen();
    return result.get(name).orElseThrow(() -> new IllegalArgumentException(
        "signature '" + signature + "' has no output '" + name + "'; outputs are " + new ArrayList<>(names)));
  }

  /** The shape of output {@code name}. @throws IllegalArgumentException if there is no such output */
  public long[] shape(String name) {
    return tensor(name).shape().asArray().clone();
  }

  /**
   * A copy of the values of the {@code DT_FLOAT} output {@code name}, in row-major order.
   *
   * @throws IllegalArgumentException if there is no such output or it is not {@code DT_FLOAT}
   * @throws IllegalStateException if this prediction is closed
   */
  public float[] floats(String name) {
    Tensor t = tensor(name);
    if (t.dataType() != DataType.DT_FLOAT || !(t instanceof TFloat32 f)) {
      throw new IllegalArgumentException("output '" + name + "' is " + t.dataType() + ", not DT_FLOAT");
    }
    float[] out = new float[Math.toIntExact(f.shape().size())];
    f.copyTo(DataBuffers.of(out, false, false));
    return out;
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }

  /** Frees the output tensors. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      result.close();
    }
  }

  @Override
  public String toString() {
    return "Prediction{" + signature + ", " + names + (closed ? ", closed" : "") + "}";
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("prediction of signature '" + signature + "' is closed");
    }
  }
}
