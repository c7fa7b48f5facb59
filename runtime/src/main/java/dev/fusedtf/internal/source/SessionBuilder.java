package dev.fusedtf.internal.source;

import dev.fusedtf.internal.graph.TensorRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.proto.AssetFileDef;
import org.tensorflow.proto.CollectionDef;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TString;

/**
 * The {@code SessionBuilder} loads a MetaGraphDef into a new graph and session in memory, as
 * {@code SavedModelBundle.load} would from disk: import the graph, create the session, restore the variables still
 * in it from a checkpoint through the SaverDef, and run the init ops (main op, legacy init op, table initializers)
 * with the asset file tensors fed. A frozen graph (no variables) needs only the first two steps.
 */
public final class SessionBuilder {
  private static final Set<String> VARIABLES = Set.of("VarHandleOp", "VariableV2", "Variable");

  private SessionBuilder() {}

  /**
   * Builds the session.
   *
   * @param meta the graph and its signatures
   * @param config the session config, or null
   * @param variablesPrefix the checkpoint to restore remaining variables from (a SavedModel's
   *     {@code variables/variables}), or null when there is none
   * @param assetsDir the folder holding the asset files, or null
   * @throws IllegalStateException when the graph holds variables but there is nothing to restore them from
   */
  public static LoadedGraph build(MetaGraphDef meta, ConfigProto config, Path variablesPrefix, Path assetsDir) {
    Graph g = new Graph();
    Session s = null;
    try {
      g.importGraphDef(meta.getGraphDef());
      s = config != null ? new Session(g, config) : new Session(g);
      if (hasVariables(meta.getGraphDef())) {
        restore(s, meta, variablesPrefix);
      }
      runInitOps(s, meta, assetsDir);
      Session session = s;
      return new LoadedGraph(g, s, meta, Signatures.all(meta, g), () -> {
        session.close();
        g.close();
      });
    } catch (RuntimeException e) {
      if (s != null) {
        s.close();
      }
      g.close();
      throw e;
    }
  }

  /** Whether the graph's top level holds variables that need values. */
  public static boolean hasVariables(GraphDef graph) {
    for (NodeDef n : graph.getNodeList()) {
      if (VARIABLES.contains(n.getOp())) {
        return true;
      }
    }
    return false;
  }

  private static void restore(Session s, MetaGraphDef meta, Path prefix) {
    if (!meta.hasSaverDef() || meta.getSaverDef().getRestoreOpName().isEmpty()) {
      throw new IllegalStateException("the graph holds variables but has no SaverDef to restore them");
    }
    if (prefix == null) {
      throw new IllegalStateException("the graph holds variables but there is no checkpoint to restore them from");
    }
    SaverDef saver = meta.getSaverDef();
    try (TString p = TString.scalarOf(prefix.toString())) {
      s.runner().feed(saver.getFilenameTensorName(), p).addTarget(saver.getRestoreOpName()).run();
    }
  }

  /** Runs the init op of a TF2 SavedModel or the main/legacy init op of a TF1 one, with assets fed. */
  private static void runInitOps(Session s, MetaGraphDef meta, Path assetsDir) {
    List<String> targets = new ArrayList<>();
    SignatureDef init = meta.getSignatureDefMap().get("__saved_model_init_op");
    if (init != null) {
      init.getOutputsMap().values().forEach(t -> targets.add(TensorRef.parse(t.getName()).node()));
    }
    for (String c : List.of("saved_model_main_op", "legacy_init_op", "main_op")) {
      CollectionDef def = meta.getCollectionDefMap().get(c);
      if (def != null && targets.isEmpty()) {
        def.getNodeList().getValueList().forEach(v -> targets.add(TensorRef.parse(v).node()));
      }
    }
    targets.removeIf(t -> meta.getGraphDef().getNodeList().stream().noneMatch(n -> n.getName().equals(t)));
    if (targets.isEmpty()) {
      return;
    }
    Session.Runner r = s.runner();
    List<TString> fed = new ArrayList<>();
    try {
      for (AssetFileDef a : meta.getAssetFileDefList()) {
        Path file = assetsDir != null ? assetsDir.resolve(a.getFilename()) : Path.of(a.getFilename());
        if (assetsDir != null && !Files.exists(file)) {
          throw new IllegalStateException("asset file " + file + " is missing");
        }
        TString t = TString.scalarOf(file.toString());
        fed.add(t);
        r.feed(a.getTensorInfo().getName(), t);
      }
      targets.forEach(r::addTarget);
      r.run();
    } finally {
      fed.forEach(TString::close);
    }
  }
}
