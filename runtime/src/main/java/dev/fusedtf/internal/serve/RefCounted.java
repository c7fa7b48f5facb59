package dev.fusedtf.internal.serve;

import dev.fusedtf.FusedModel;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@code RefCounted} holds a model with a reference count: the owner holds one reference, each lease one
 * more; the model is closed when the count reaches zero, so a model swapped out or evicted stays open until the
 * last request using it is done.
 */
public final class RefCounted {
  private final FusedModel model;
  private final AtomicInteger refs = new AtomicInteger(1);

  /** Wraps {@code model}; the caller holds the first (owner's) reference. */
  public RefCounted(FusedModel model) {
    this.model = model;
  }

  /** The model. */
  public FusedModel model() {
    return model;
  }

  /** Takes a reference unless the model is already closed (or closing); returns whether it did. */
  public boolean tryRetain() {
    while (true) {
      int n = refs.get();
      if (n <= 0) {
        return false;
      }
      if (refs.compareAndSet(n, n + 1)) {
        return true;
      }
    }
  }

  /** Drops a reference; the last one closes the model. */
  public void release() {
    if (refs.decrementAndGet() == 0) {
      model.close();
    }
  }

  /** Current number of references (for tests and metrics). */
  public int references() {
    return Math.max(0, refs.get());
  }
}
