package dev.fusedtf.testsupport;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.tensorflow.TensorFlow;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/** The few proto helpers the model builders need: attributes, shapes, constants, output argument names. */
public final class Protos {
  private static final Map<String, String> FIRST_OUTPUT = new ConcurrentHashMap<>();

  private Protos() {}

  /** A type attribute. */
  public static AttrValue type(DataType t) {
    return AttrValue.newBuilder().setType(t).build();
  }

  /** A string attribute. */
  public static AttrValue string(String s) {
    return AttrValue.newBuilder().setS(ByteString.copyFromUtf8(s)).build();
  }

  /** A bool attribute. */
  public static AttrValue bool(boolean b) {
    return AttrValue.newBuilder().setB(b).build();
  }

  /** A float attribute. */
  public static AttrValue real(float f) {
    return AttrValue.newBuilder().setF(f).build();
  }

  /** A list-of-ints attribute. */
  public static AttrValue ints(long... v) {
    AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
    for (long x : v) {
      l.addI(x);
    }
    return AttrValue.newBuilder().setList(l).build();
  }

  /** A shape proto ({@code -1} for an unknown dimension). */
  public static TensorShapeProto shape(long... dims) {
    TensorShapeProto.Builder b = TensorShapeProto.newBuilder();
    for (long d : dims) {
      b.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    }
    return b.build();
  }

  /** A shape attribute. */
  public static AttrValue shapeAttr(long... dims) {
    return AttrValue.newBuilder().setShape(shape(dims)).build();
  }

  /** Number of elements of a fully known shape. */
  public static long numElements(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** Float or double values as a TensorProto with little-endian {@code tensor_content}. */
  public static TensorProto tensor(Values v) {
    int width = v.dtype() == DataType.DT_DOUBLE ? 8 : 4;
    ByteBuffer bb = ByteBuffer.allocate(v.size() * width).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < v.size(); i++) {
      if (width == 8) {
        bb.putDouble(v.get(i));
      } else {
        bb.putFloat((float) v.get(i));
      }
    }
    bb.flip();
    return TensorProto.newBuilder().setDtype(v.dtype()).setTensorShape(shape(v.shape()))
        .setTensorContent(ByteString.copyFrom(bb)).build();
  }

  /** A scalar bool TensorProto. */
  public static TensorProto boolScalar(boolean b) {
    return TensorProto.newBuilder().setDtype(DataType.DT_BOOL).setTensorShape(TensorShapeProto.getDefaultInstance())
        .addBoolVal(b).build();
  }

  /** An int32 vector TensorProto. */
  public static TensorProto int32s(long... values) {
    TensorProto.Builder t = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
        .setTensorShape(shape(values.length));
    for (long v : values) {
      t.addIntVal((int) v);
    }
    return t.build();
  }

  /** A DT_STRING tensor: a scalar (vector=false, one value) or a vector. */
  public static TensorProto strings(String[] values, boolean vector) {
    TensorProto.Builder b = TensorProto.newBuilder().setDtype(DataType.DT_STRING);
    b.setTensorShape(vector ? shape(values.length) : TensorShapeProto.getDefaultInstance());
    for (String v : values) {
      b.addStringVal(ByteString.copyFromUtf8(v));
    }
    return b.build();
  }

  /** A Const node holding {@code value}. */
  public static NodeDef constant(String name, TensorProto value) {
    return NodeDef.newBuilder().setName(name).setOp("Const")
        .putAttr("dtype", type(value.getDtype()))
        .putAttr("value", AttrValue.newBuilder().setTensor(value).build())
        .build();
  }

  /** Name of the first output argument of {@code op}, as TensorFlow registers it (function-body references). */
  public static String firstOutputArg(String op) {
    if (FIRST_OUTPUT.isEmpty()) {
      synchronized (FIRST_OUTPUT) {
        if (FIRST_OUTPUT.isEmpty()) {
          for (OpDef def : TensorFlow.registeredOpList().getOpList()) {
            if (def.getOutputArgCount() > 0) {
              FIRST_OUTPUT.put(def.getName(), def.getOutputArg(0).getName());
            }
          }
        }
      }
    }
    return FIRST_OUTPUT.getOrDefault(op, "output");
  }
}
