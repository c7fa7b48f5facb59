package dev.fusedtf.spark;

import dev.fusedtf.FusedModel;
import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.report.Served;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;
import org.tensorflow.Signature;
import org.tensorflow.proto.DataType;

/**
 * The rows of one partition with their scores: reads at most {@code batchSize} input rows ahead, scores them in one
 * model call, hands them out, then reads the next batch. The model lease is taken before the first row is scored
 * (an empty partition takes none) and released when the rows run out or the task completes, whichever is first.
 */
final class ScoringIterator implements Iterator<Row> {
  private final FusedScorer scorer;
  private final int inputIndex;
  private final FusedScorer.ColumnKind kind;
  private final Iterator<Row> input;
  private final TaskContext task;
  private final int partition;
  private final ArrayDeque<Row> ready = new ArrayDeque<>();

  private ExecutorModels.ModelLease lease;
  private FusedModel model;
  private String signatureKey;
  private String inputName;
  private String outputName;
  private long[] rowShape;
  private int rowLength;
  private float[] buffer;
  private long rowIndex;
  private boolean done;

  ScoringIterator(FusedScorer scorer, int inputIndex, FusedScorer.ColumnKind kind, Iterator<Row> input,
      TaskContext task) {
    this.scorer = scorer;
    this.inputIndex = inputIndex;
    this.kind = kind;
    this.input = input;
    this.task = task;
    this.partition = task == null ? -1 : task.partitionId();
  }

  @Override
  public boolean hasNext() {
    while (ready.isEmpty() && !done) {
      if (input.hasNext()) {
        scoreNextBatch();
      } else {
        done = true;
        release();
      }
    }
    return !ready.isEmpty();
  }

  @Override
  public Row next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    return ready.poll();
  }

  private void release() {
    if (lease != null) {
      lease.close();
    }
  }

  private void open() {
    ExecutorModels.ModelLease l = ExecutorModels.acquire(scorer.modelPath(), scorer.modelOptions());
    lease = l;
    if (task != null) {
      task.addTaskCompletionListener((TaskCompletionListener) ctx -> l.close());
    }
    model = l.model();
    if (!scorer.folding() && model.served() != Served.ORIGINAL) {
      throw new IllegalStateException("FusedScorer: folding(false) should serve the original graph of "
          + scorer.modelPath() + " but the runtime served " + model.served() + " (a rule FusedScorer does not know "
          + "of changed the graph: " + model.report().rewrites() + ")");
    }
    signatureKey = scorer.signature() != null ? scorer.signature() : model.defaultSignature().key();
    Signature sig = model.signature(signatureKey);
    inputName = pick(scorer.inputName(), sig.getInputs(), "input", "inputName");
    outputName = pick(scorer.outputName(), sig.getOutputs(), "output", "outputName");
    Signature.TensorDescription in = sig.getInputs().get(inputName);
    if (in.dataType != DataType.DT_FLOAT) {
      throw new IllegalArgumentException("FusedScorer: input '" + inputName + "' of signature '" + signatureKey
          + "' is " + in.dataType + "; only DT_FLOAT inputs can be scored");
    }
    rowShape = scorer.rowShape() != null ? scorer.rowShape() : rowShapeOf(in);
    long length = 1;
    for (long d : rowShape) {
      length = Math.multiplyExact(length, d);
    }
    rowLength = Math.toIntExact(length);
    buffer = new float[Math.multiplyExact(rowLength, scorer.batchSize())];
  }

  private long[] rowShapeOf(Signature.TensorDescription in) {
    int rank = in.shape.isUnknown() ? -1 : in.shape.numDimensions();
    long[] dims = rank < 1 ? null : Arrays.copyOfRange(in.shape.asArray(), 1, rank);
    if (dims == null || dims.length == 0 || Arrays.stream(dims).anyMatch(d -> d < 1)) {
      throw new IllegalArgumentException("FusedScorer: input '" + inputName + "' of signature '" + signatureKey
          + "' has shape " + in.shape + "; set rowShape(...) to the shape of one row (without the batch dimension)");
    }
    return dims;
  }

  private String pick(String wanted, Map<String, Signature.TensorDescription> names, String what, String option) {
    if (wanted != null) {
      if (!names.containsKey(wanted)) {
        throw new IllegalArgumentException("FusedScorer: signature '" + signatureKey + "' of " + scorer.modelPath()
            + " has no " + what + " '" + wanted + "'; its " + what + "s: " + names.keySet());
      }
      return wanted;
    }
    if (names.size() != 1) {
      throw new IllegalArgumentException("FusedScorer: signature '" + signatureKey + "' has " + names.size() + " "
          + what + "s " + names.keySet() + "; name one with " + option + "(...)");
    }
    return names.keySet().iterator().next();
  }

  private void scoreNextBatch() {
    if (model == null) {
      open();
    }
    int batch = scorer.batchSize();
    Row[] rows = new Row[batch];
    int[] slot = new int[batch];
    int count = 0;
    int valid = 0;
    while (count < batch && input.hasNext()) {
      Row row = input.next();
      long index = rowIndex++;
      String problem = copyRow(row, valid * rowLength);
      if (problem == null) {
        slot[count] = valid++;
      } else if (scorer.onInvalidRow() == FusedScorer.OnInvalidRow.FAIL) {
        throw new InvalidRowException(scorer.inputColumn(), partition, index, problem);
      } else {
        slot[count] = -1;
      }
      rows[count++] = row;
    }
    float[] out = null;
    int perRow = 0;
    if (valid > 0) {
      long[] shape = new long[rowShape.length + 1];
      shape[0] = valid;
      System.arraycopy(rowShape, 0, shape, 1, rowShape.length);
      float[] data = valid == batch ? buffer : Arrays.copyOf(buffer, valid * rowLength);
      try (Prediction p = model.predictInputs(signatureKey, Map.of(inputName, Input.of(data, shape)))) {
        long[] outShape = p.shape(outputName);
        if (outShape.length == 0 || outShape[0] != valid) {
          throw new IllegalStateException("FusedScorer: output '" + outputName + "' has shape "
              + Arrays.toString(outShape) + " for a batch of " + valid + " rows; its first dimension must be the batch");
        }
        out = p.floats(outputName);
        perRow = out.length / valid;
      }
    }
    for (int k = 0; k < count; k++) {
      float[] score = slot[k] < 0 ? null : Arrays.copyOfRange(out, slot[k] * perRow, (slot[k] + 1) * perRow);
      ready.add(withScore(rows[k], score));
    }
  }

  private static Row withScore(Row row, float[] score) {
    int n = row.size();
    Object[] values = new Object[n + 1];
    for (int i = 0; i < n; i++) {
      values[i] = row.get(i);
    }
    values[n] = score;
    return RowFactory.create(values);
  }

  /** Copies the row's input into the buffer at {@code offset}; returns what is wrong with it, or null. */
  private String copyRow(Row row, int offset) {
    if (row.isNullAt(inputIndex)) {
      return "the value is null";
    }
    String expected = rowLength + " values (row shape " + Arrays.toString(rowShape) + ")";
    switch (kind) {
      case BINARY -> {
        byte[] bytes = (byte[]) row.get(inputIndex);
        if (bytes.length != rowLength * 4) {
          return "expected " + (rowLength * 4L) + " bytes (" + expected.replace(" values", " little-endian float32")
              + "), got " + bytes.length + " bytes";
        }
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(buffer, offset, rowLength);
        return null;
      }
      case FLOATS, DOUBLES -> {
        Object value = row.get(inputIndex);
        if (value instanceof float[] f) { // a Row built by hand; Spark's own rows hold a Seq
          if (f.length != rowLength) {
            return "expected " + expected + ", got " + f.length;
          }
          System.arraycopy(f, 0, buffer, offset, rowLength);
          return null;
        }
        List<?> values = value instanceof List<?> l ? l
            : value instanceof Object[] a ? Arrays.asList(a) : row.getList(inputIndex);
        if (values.size() != rowLength) {
          return "expected " + expected + ", got " + values.size();
        }
        for (int i = 0; i < rowLength; i++) {
          Object v = values.get(i);
          if (v == null) {
            return "element " + i + " is null";
          }
          buffer[offset + i] = ((Number) v).floatValue();
        }
        return null;
      }
      default -> throw new IllegalStateException(kind.toString());
    }
  }
}
