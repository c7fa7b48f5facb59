package dev.fusedtf.internal.graph;

import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;

/** Small factories and attribute readers for NodeDef protos. */
public final class Nodes {
  private Nodes() {}

  /** A {@code Const} node holding {@code value}. */
  public static NodeDef constant(String name, TensorProto value, String device) {
    return NodeDef.newBuilder()
        .setName(name)
        .setOp("Const")
        .setDevice(device == null ? "" : device)
        .putAttr("dtype", AttrValue.newBuilder().setType(value.getDtype()).build())
        .putAttr("value", AttrValue.newBuilder().setTensor(value).build())
        .build();
  }

  /** The string attribute {@code key}, or {@code dflt} when absent (TF strips attributes equal to defaults). */
  public static String stringAttr(NodeDef n, String key, String dflt) {
    AttrValue v = n.getAttrMap().get(key);
    return v == null ? dflt : v.getS().toStringUtf8();
  }

  /** The bool attribute {@code key}, or {@code dflt} when absent. */
  public static boolean boolAttr(NodeDef n, String key, boolean dflt) {
    AttrValue v = n.getAttrMap().get(key);
    return v == null ? dflt : v.getB();
  }

  /** The float attribute {@code key}, or {@code dflt} when absent. */
  public static float floatAttr(NodeDef n, String key, float dflt) {
    AttrValue v = n.getAttrMap().get(key);
    return v == null ? dflt : v.getF();
  }

  /** The int list attribute {@code key}, or null when absent. */
  public static long[] intsAttr(NodeDef n, String key) {
    AttrValue v = n.getAttrMap().get(key);
    if (v == null) {
      return null;
    }
    return v.getList().getIList().stream().mapToLong(Long::longValue).toArray();
  }

  /** The type attribute {@code key}, or {@code dflt} when absent. */
  public static DataType typeAttr(NodeDef n, String key, DataType dflt) {
    AttrValue v = n.getAttrMap().get(key);
    return v == null ? dflt : v.getType();
  }

  /** A string-valued AttrValue. */
  public static AttrValue string(String s) {
    return AttrValue.newBuilder().setS(com.google.protobuf.ByteString.copyFromUtf8(s)).build();
  }

  /** A type-valued AttrValue. */
  public static AttrValue type(DataType t) {
    return AttrValue.newBuilder().setType(t).build();
  }
}
