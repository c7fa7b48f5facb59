package dev.fusedtf.internal.source;

import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.proto.MetaGraphDef;

/**
 * A graph loaded into a session, ready to run: the session, its graph, the MetaGraphDef it was built from, and the
 * serving signatures. {@link #close()} frees what this object owns (a {@code SavedModelBundle} when it wraps one).
 *
 * @param graph the graph
 * @param session the session
 * @param meta the MetaGraphDef
 * @param signatures every signature, as {@code SavedModelBundle.signatures()} lists them
 * @param closer frees the session and graph
 */
public record LoadedGraph(Graph graph, Session session, MetaGraphDef meta, List<Signature> signatures,
    AutoCloseable closer) implements AutoCloseable {

  /** Copies the signature list. */
  public LoadedGraph {
    signatures = List.copyOf(signatures);
  }

  /** The signatures users call ({@code __saved_model_init_op} and signatures without outputs left out). */
  public List<Signature> servingSignatures() {
    return signatures.stream().filter(Signatures::isServing).toList();
  }

  @Override
  public void close() {
    try {
      closer.close();
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException("cannot close a loaded graph: " + e.getMessage(), e);
    }
  }
}
