package dev.fusedtf.spark;

import dev.fusedtf.errors.FusedTfException;

/**
 * A row the {@link FusedScorer} cannot score with {@link FusedScorer.OnInvalidRow#FAIL}: its input is null, holds a
 * null element, or has the wrong length. The message names the column, the partition, the row's 0-based index in
 * the partition and what is wrong; the task (and so the job) fails, the executor goes on.
 */
public final class InvalidRowException extends FusedTfException {
  private static final long serialVersionUID = 1L;
  private final String column;
  private final int partition;
  private final long row;

  /** An invalid row: {@code column}, {@code partition}, the row's index in the partition, and what is wrong. */
  public InvalidRowException(String column, int partition, long row, String problem) {
    super("FusedScorer: column '" + column + "', row " + row + " of partition " + partition
        + " (0-based, in partition order): " + problem);
    this.column = column;
    this.partition = partition;
    this.row = row;
  }

  /** The input column. */
  public String column() {
    return column;
  }

  /** The Spark partition. */
  public int partition() {
    return partition;
  }

  /** The row's 0-based index within its partition. */
  public long row() {
    return row;
  }
}
