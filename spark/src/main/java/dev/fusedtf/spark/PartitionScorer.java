package dev.fusedtf.spark;

import java.util.Iterator;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;

/** Scores one partition: the function {@link FusedScorer#transform} maps over the partitions. */
final class PartitionScorer implements MapPartitionsFunction<Row, Row> {
  private static final long serialVersionUID = 1L;
  private final FusedScorer scorer;
  private final int inputIndex;
  private final FusedScorer.ColumnKind kind;

  PartitionScorer(FusedScorer scorer, int inputIndex, FusedScorer.ColumnKind kind) {
    this.scorer = scorer;
    this.inputIndex = inputIndex;
    this.kind = kind;
  }

  @Override
  public Iterator<Row> call(Iterator<Row> rows) {
    return new ScoringIterator(scorer, inputIndex, kind, rows, TaskContext.get());
  }
}
