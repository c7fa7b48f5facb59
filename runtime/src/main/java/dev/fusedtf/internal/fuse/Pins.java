package dev.fusedtf.internal.fuse;

import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.report.Pin;
import dev.fusedtf.report.Rewrite;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.tensorflow.Tensor;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Pins placeholders to constants before the rules run: each named {@code Placeholder} or
 * {@code PlaceholderWithDefault} becomes a {@code Const} of the given value under its name, and any signature
 * input it was disappears, so the pinned placeholder is no longer an input of the rewritten model. The original is
 * then run with the same values fed.
 */
final class Pins implements AutoCloseable {
  private final MetaGraphDef meta;
  private final List<Pin> pins;
  private final Map<String, Tensor> feeds;
  private final List<Rewrite> rewrites;

  private Pins(MetaGraphDef meta, List<Pin> pins, Map<String, Tensor> feeds, List<Rewrite> rewrites) {
    this.meta = meta;
    this.pins = pins;
    this.feeds = feeds;
    this.rewrites = rewrites;
  }

  /** The MetaGraphDef with the pins applied. */
  MetaGraphDef meta() {
    return meta;
  }

  /** What was pinned. */
  List<Pin> pins() {
    return pins;
  }

  /** The values to feed the original, by tensor name; closed by {@link #close()}. */
  Map<String, Tensor> feeds() {
    return feeds;
  }

  /** One rewrite per pin. */
  List<Rewrite> rewrites() {
    return rewrites;
  }

  /**
   * Applies {@code values} (placeholder name, with or without {@code :0}, to its value as text).
   *
   * @throws IllegalArgumentException for a name that is not a top-level placeholder, a non-scalar placeholder, or a
   *     value that does not parse as the placeholder's dtype
   */
  static Pins apply(MetaGraphDef meta, Map<String, String> values) {
    if (values.isEmpty()) {
      return new Pins(meta, List.of(), Map.of(), List.of());
    }
    GraphDef.Builder g = meta.getGraphDef().toBuilder();
    List<Pin> pins = new ArrayList<>();
    Map<String, Tensor> feeds = new LinkedHashMap<>();
    List<Rewrite> rewrites = new ArrayList<>();
    MetaGraphDef.Builder out = meta.toBuilder();
    try {
      for (Map.Entry<String, String> e : values.entrySet()) {
        String name = nodeName(e.getKey());
        int idx = indexOf(g, name);
        if (idx < 0) {
          throw new IllegalArgumentException("cannot pin '" + e.getKey() + "': the graph has no node '" + name + "'");
        }
        NodeDef n = g.getNode(idx);
        if (!n.getOp().equals("Placeholder") && !n.getOp().equals("PlaceholderWithDefault")) {
          throw new IllegalArgumentException("cannot pin '" + e.getKey() + "': it is a " + n.getOp()
              + ", not a Placeholder or PlaceholderWithDefault");
        }
        if (n.getAttrMap().containsKey("shape") && !n.getAttrMap().get("shape").getShape().getUnknownRank()
            && n.getAttrMap().get("shape").getShape().getDimCount() > 0) {
          throw new IllegalArgumentException("cannot pin '" + e.getKey() + "': it is not a scalar (shape "
              + n.getAttrMap().get("shape").getShape().getDimList().stream().map(d -> String.valueOf(d.getSize()))
              .toList() + "); only scalar placeholders can be pinned");
        }
        DataType dtype = Nodes.typeAttr(n, "dtype", DataType.DT_FLOAT);
        Value v = parse(e.getKey(), dtype, e.getValue());
        g.setNode(idx, NodeDef.newBuilder().setName(name).setOp("Const").setDevice(n.getDevice())
            .putAttr("dtype", Nodes.type(dtype)).putAttr("value", AttrValue.newBuilder().setTensor(v.proto()).build())
            .build());
        feeds.put(name + ":0", v.tensor());
        pins.add(new Pin(name, dtype.name(), v.text()));
        rewrites.add(new Rewrite(Rewrite.Kind.PIN, List.of(name), null, "pin", n.getOp() + " '" + name
            + "' pinned to " + v.text() + ": it is no longer an input"));
      }
      for (Map.Entry<String, SignatureDef> s : meta.getSignatureDefMap().entrySet()) {
        SignatureDef.Builder sb = s.getValue().toBuilder().clearInputs();
        for (Map.Entry<String, TensorInfo> in : s.getValue().getInputsMap().entrySet()) {
          if (!values.keySet().stream().map(Pins::nodeName)
              .anyMatch(p -> p.equals(TensorRef.parse(in.getValue().getName()).node()))) {
            sb.putInputs(in.getKey(), in.getValue());
          }
        }
        out.putSignatureDef(s.getKey(), sb.build());
      }
    } catch (RuntimeException ex) {
      feeds.values().forEach(Tensor::close);
      throw ex;
    }
    return new Pins(out.setGraphDef(g).build(), List.copyOf(pins), feeds, List.copyOf(rewrites));
  }

  /** {@code name:0} or {@code name} to {@code name}. */
  static String nodeName(String pin) {
    String s = pin.trim();
    return s.endsWith(":0") ? s.substring(0, s.length() - 2) : s;
  }

  private static int indexOf(GraphDef.Builder g, String name) {
    for (int i = 0; i < g.getNodeCount(); i++) {
      if (g.getNode(i).getName().equals(name)) {
        return i;
      }
    }
    return -1;
  }

  private record Value(TensorProto proto, Tensor tensor, String text) {}

  private static Value parse(String pin, DataType dtype, String raw) {
    String v = raw == null ? "" : raw.trim();
    TensorProto.Builder p = TensorProto.newBuilder().setDtype(dtype).setTensorShape(TensorShapeProto.getDefaultInstance());
    try {
      switch (dtype) {
        case DT_BOOL -> {
          String l = v.toLowerCase(Locale.ROOT);
          if (!l.equals("true") && !l.equals("false")) {
            throw new IllegalArgumentException("expected true or false");
          }
          boolean b = Boolean.parseBoolean(l);
          return new Value(p.addBoolVal(b).build(), TBool.scalarOf(b), String.valueOf(b));
        }
        case DT_FLOAT -> {
          float f = Float.parseFloat(v);
          return new Value(p.addFloatVal(f).build(), TFloat32.scalarOf(f), String.valueOf(f));
        }
        case DT_DOUBLE -> {
          double d = Double.parseDouble(v);
          return new Value(p.addDoubleVal(d).build(), TFloat64.scalarOf(d), String.valueOf(d));
        }
        case DT_INT32 -> {
          int i = Integer.parseInt(v);
          return new Value(p.addIntVal(i).build(), TInt32.scalarOf(i), String.valueOf(i));
        }
        case DT_INT64 -> {
          long l = Long.parseLong(v);
          return new Value(p.addInt64Val(l).build(), TInt64.scalarOf(l), String.valueOf(l));
        }
        default -> throw new IllegalArgumentException("placeholders of dtype " + dtype + " cannot be pinned");
      }
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("cannot pin '" + pin + "' to '" + raw + "': not a " + dtype + " value", e);
    } catch (IllegalArgumentException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("cannot pin")) {
        throw e;
      }
      throw new IllegalArgumentException("cannot pin '" + pin + "' (" + dtype + ") to '" + raw + "': "
          + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    feeds.values().forEach(Tensor::close);
  }
}
