package dev.fusedtf.serving;

import dev.fusedtf.FusedModel;
import dev.fusedtf.internal.serve.InputValidator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.Result;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.ByteDataBuffer;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TUint8;
import org.tensorflow.types.family.TType;

/**
 * The {@code MicroBatcher} stacks concurrent single-example requests along dimension 0 into one call, up to a
 * maximum batch size or a delay after the first request, runs the model once, and splits the outputs back per
 * request (TF Serving's {@code max_batch_size} / {@code batch_timeout_micros}).
 *
 * <pre>{@code
 * try (MicroBatcher batcher = new MicroBatcher(model, "serving_default", 16, Duration.ofMillis(2))) {
 *   Map<String, Tensor> out = batcher.submit(Map.of("image", oneImage)).join(); // caller closes out's tensors
 * }
 * }</pre>
 *
 * <p>Each request's inputs must have batch size 1 and are validated against the signature when submitted, so a
 * bad request fails alone; requests of different valid shapes (a variable length) are run in separate calls. Input bytes are copied at submission: the caller may close its tensors once
 * {@code submit} returns. Numeric dtypes only (strings are not stacked).
 */
public final class MicroBatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MicroBatcher.class);

  private record Row(Map<String, byte[]> inputs, Map<String, long[]> shapes,
      CompletableFuture<Map<String, Tensor>> result) {}

  private final FusedModel model;
  private final Signature signature;
  private final int maxBatch;
  private final long maxDelayNanos;
  private final BlockingQueue<Row> queue = new LinkedBlockingQueue<>();
  private final Thread worker;
  private final AtomicLong batches = new AtomicLong();
  private final AtomicLong rows = new AtomicLong();
  private volatile boolean closed;

  /**
   * @param model the model (not closed by the batcher)
   * @param signature the signature key
   * @param maxBatch the most requests stacked into one call
   * @param maxDelay how long the first request of a batch waits for others
   */
  public MicroBatcher(FusedModel model, String signature, int maxBatch, Duration maxDelay) {
    if (model == null) {
      throw new IllegalArgumentException("MicroBatcher needs a model");
    }
    if (maxBatch < 1) {
      throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
    }
    if (maxDelay == null || maxDelay.isNegative()) {
      throw new IllegalArgumentException("maxDelay must be zero or positive, got " + maxDelay);
    }
    this.model = model;
    this.signature = model.signature(signature);
    for (Map.Entry<String, Signature.TensorDescription> e : this.signature.getInputs().entrySet()) {
      if (type(e.getValue().dataType) == null) {
        throw new IllegalArgumentException("input '" + e.getKey() + "' has dtype " + e.getValue().dataType
            + ", which cannot be batched");
      }
    }
    this.maxBatch = maxBatch;
    this.maxDelayNanos = maxDelay.toNanos();
    this.worker = new Thread(this::loop, "fusedtf-batcher-" + signature);
    this.worker.setDaemon(true);
    this.worker.start();
  }

  /**
   * Queues one request (every input with batch size 1). The future completes with the outputs for this request
   * (batch size 1), which the caller closes, or exceptionally with the model's error.
   *
   * @throws IllegalArgumentException for inputs the signature rejects or with batch size other than 1
   * @throws IllegalStateException after {@link #close()}
   */
  public CompletableFuture<Map<String, Tensor>> submit(Map<String, ? extends Tensor> inputs) {
    if (closed) {
      throw new IllegalStateException("batcher closed");
    }
    InputValidator.validate(signature, inputs, InputValidator.Limits.NONE);
    Map<String, byte[]> copy = new LinkedHashMap<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (Map.Entry<String, ? extends Tensor> e : inputs.entrySet()) {
      long[] shape = e.getValue().shape().asArray();
      if (shape.length == 0 || shape[0] != 1) {
        throw new IllegalArgumentException("input '" + e.getKey() + "' must have batch size 1 to be batched");
      }
      byte[] b = new byte[Math.toIntExact(e.getValue().numBytes())];
      e.getValue().asRawTensor().data().read(b);
      copy.put(e.getKey(), b);
      shapes.put(e.getKey(), shape);
    }
    Row row = new Row(copy, shapes, new CompletableFuture<>());
    queue.add(row);
    if (closed && queue.remove(row)) { // closed while we queued: the worker may be gone
      row.result().completeExceptionally(new IllegalStateException("batcher closed"));
    }
    return row.result();
  }

  /** Number of model calls made. */
  public long batchesRun() {
    return batches.get();
  }

  /** Number of requests served. */
  public long requestsServed() {
    return rows.get();
  }

  private void loop() {
    while (!closed || !queue.isEmpty()) {
      try {
        Row first = queue.poll(50, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        List<Row> batch = new ArrayList<>();
        batch.add(first);
        long deadline = System.nanoTime() + maxDelayNanos;
        while (batch.size() < maxBatch) {
          long left = deadline - System.nanoTime();
          Row next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
          if (next == null) {
            break;
          }
          batch.add(next);
        }
        runByShape(batch);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        LOG.warn("batch failed", e);
      }
    }
  }

  /** Requests of different (valid) shapes cannot be stacked: one call per shape. */
  private void runByShape(List<Row> batch) {
    Map<String, List<Row>> groups = new LinkedHashMap<>();
    for (Row r : batch) {
      StringBuilder key = new StringBuilder();
      r.shapes().forEach((k, v) -> key.append(k).append(java.util.Arrays.toString(v)));
      groups.computeIfAbsent(key.toString(), k -> new ArrayList<>()).add(r);
    }
    groups.values().forEach(this::run);
  }

  private void run(List<Row> batch) {
    int n = batch.size();
    Map<String, Tensor> stacked = new LinkedHashMap<>();
    List<Map<String, Tensor>> split = new ArrayList<>();
    boolean delivered = false;
    try {
      for (Map.Entry<String, Signature.TensorDescription> e : signature.getInputs().entrySet()) {
        String name = e.getKey();
        byte[] first = batch.get(0).inputs().get(name);
        byte[] all = new byte[first.length * n];
        for (int i = 0; i < n; i++) {
          byte[] b = batch.get(i).inputs().get(name);
          System.arraycopy(b, 0, all, i * first.length, b.length);
        }
        long[] shape = batch.get(0).shapes().get(name).clone();
        shape[0] = n;
        stacked.put(name, Tensor.of(type(e.getValue().dataType), Shape.of(shape), DataBuffers.of(all, true, false)));
      }
      try (Result r = model.call(signature.key(), stacked)) {
        for (int i = 0; i < n; i++) {
          split.add(new LinkedHashMap<>());
        }
        for (String out : signature.getOutputs().keySet()) {
          Tensor t = r.get(out).orElseThrow();
          long[] shape = t.shape().asArray();
          if (shape.length == 0 || shape[0] != n || type(t.dataType()) == null) {
            throw new IllegalStateException("output '" + out + "' is not batch-major");
          }
          int rowBytes = Math.toIntExact(t.numBytes() / n);
          byte[] all = new byte[Math.toIntExact(t.numBytes())];
          t.asRawTensor().data().read(all);
          shape[0] = 1;
          for (int i = 0; i < n; i++) {
            ByteDataBuffer rowBuf = DataBuffers.of(java.util.Arrays.copyOfRange(all, i * rowBytes, (i + 1) * rowBytes),
                true, false);
            split.get(i).put(out, Tensor.of(type(t.dataType()), Shape.of(shape), rowBuf));
          }
        }
        batches.incrementAndGet();
        rows.addAndGet(n);
        delivered = true;
        for (int i = 0; i < n; i++) {
          batch.get(i).result().complete(split.get(i));
        }
      }
    } catch (RuntimeException e) {
      if (!delivered) {
        split.forEach(m -> m.values().forEach(Tensor::close)); // outputs split before the failure
      }
      for (Row row : batch) {
        row.result().completeExceptionally(e);
      }
    } finally {
      stacked.values().forEach(Tensor::close);
    }
  }

  private static Class<? extends TType> type(DataType dt) {
    return switch (dt) {
      case DT_FLOAT -> TFloat32.class;
      case DT_DOUBLE -> TFloat64.class;
      case DT_INT32 -> TInt32.class;
      case DT_INT64 -> TInt64.class;
      case DT_BOOL -> TBool.class;
      case DT_UINT8 -> TUint8.class;
      default -> null;
    };
  }

  /** Serves what is queued, then stops the worker. The model stays open. */
  @Override
  public void close() {
    closed = true;
    try {
      worker.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Row left; (left = queue.poll()) != null; ) { // queued as the worker stopped
      left.result().completeExceptionally(new IllegalStateException("batcher closed"));
    }
  }
}
