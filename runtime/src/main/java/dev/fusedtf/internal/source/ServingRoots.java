package dev.fusedtf.internal.source;

import dev.fusedtf.internal.graph.TensorRef;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.AssetFileDef;
import org.tensorflow.proto.CollectionDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/**
 * The {@code ServingRoots} are the top-level nodes a served SavedModel needs, so that everything else (gradients,
 * optimizer and summary ops of a TF1 training graph, Keras' per-layer functions) can be pruned: what the
 * signatures fetch and feed, the init ops ({@code saved_model_main_op}, {@code legacy_init_op},
 * {@code table_initializer}, ...), the asset file tensors, and, when variables are still restored, the SaverDef's
 * restore op and filename tensor.
 */
public final class ServingRoots {
  /** Collections whose nodes the SavedModel loader runs at load (init and asset ops). */
  public static final List<String> INIT_COLLECTIONS = List.of("saved_model_main_op", "legacy_init_op", "main_op",
      "init_op", "table_initializer", "asset_filepaths", "saved_model_assets");

  private ServingRoots() {}

  /** Top-level nodes the signatures fetch ({@code outputs}) or feed. */
  public static Set<String> signatureNodes(MetaGraphDef meta, boolean outputs) {
    Set<String> out = new LinkedHashSet<>();
    for (SignatureDef s : meta.getSignatureDefMap().values()) {
      for (TensorInfo t : (outputs ? s.getOutputsMap() : s.getInputsMap()).values()) {
        out.add(TensorRef.parse(t.getName()).node());
      }
    }
    return out;
  }

  /** The root node names of {@code meta}; with {@code saver}, the restore op and filename tensor too. */
  public static Set<String> of(MetaGraphDef meta, boolean saver) {
    Set<String> out = signatureNodes(meta, true);
    out.addAll(signatureNodes(meta, false));
    for (String c : INIT_COLLECTIONS) {
      CollectionDef def = meta.getCollectionDefMap().get(c);
      if (def != null) {
        def.getNodeList().getValueList().forEach(v -> out.add(TensorRef.parse(v).node()));
      }
    }
    for (AssetFileDef a : meta.getAssetFileDefList()) {
      out.add(TensorRef.parse(a.getTensorInfo().getName()).node());
    }
    if (saver && meta.hasSaverDef()) {
      SaverDef sd = meta.getSaverDef();
      for (String name : List.of(sd.getRestoreOpName(), sd.getFilenameTensorName(), sd.getSaveTensorName())) {
        if (!name.isEmpty()) {
          out.add(TensorRef.parse(name).node());
        }
      }
    }
    return out;
  }
}
