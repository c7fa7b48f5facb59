package dev.fusedtf.internal.weights;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.tensorflow.Tensor;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

/** Conversions between {@link DenseTensor}, TensorFlow's {@code TensorProto} and native tensors. */
public final class TensorCodec {
  private TensorCodec() {}

  /** Whether folding can read and write tensors of this dtype. */
  public static boolean isSupported(DataType t) {
    return t == DataType.DT_FLOAT || t == DataType.DT_DOUBLE;
  }

  /**
   * Decodes a TensorProto of dtype float or double, from {@code tensor_content} or the typed value list (a single
   * listed value fills the whole shape, as TensorFlow does).
   *
   * @throws IllegalArgumentException for other dtypes or inconsistent content
   */
  public static DenseTensor decode(TensorProto p) {
    long[] shape = shapeOf(p.getTensorShape());
    int n = Math.toIntExact(numElements(shape));
    double[] v = new double[n];
    DataType t = p.getDtype();
    if (t == DataType.DT_INT32 || t == DataType.DT_INT64 || t == DataType.DT_BOOL) {
      return decodeIntegral(p, shape, n);
    }
    if (!isSupported(t)) {
      throw new IllegalArgumentException("unsupported dtype " + t);
    }
    if (!p.getTensorContent().isEmpty()) {
      ByteBuffer bb = p.getTensorContent().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      int width = t == DataType.DT_FLOAT ? 4 : 8;
      if (bb.remaining() != (long) n * width) {
        throw new IllegalArgumentException("tensor_content has " + bb.remaining() + " bytes for " + n + " values");
      }
      for (int i = 0; i < n; i++) {
        v[i] = t == DataType.DT_FLOAT ? bb.getFloat() : bb.getDouble();
      }
    } else {
      int listed = t == DataType.DT_FLOAT ? p.getFloatValCount() : p.getDoubleValCount();
      for (int i = 0; i < n; i++) {
        if (listed == 0) {
          v[i] = 0;
        } else {
          int j = Math.min(i, listed - 1);
          v[i] = t == DataType.DT_FLOAT ? p.getFloatVal(j) : p.getDoubleVal(j);
        }
      }
    }
    return new DenseTensor(shape, v, t);
  }

  /** int32, int64 and bool constants (shapes, axes, flags) as float64 values. */
  private static DenseTensor decodeIntegral(TensorProto p, long[] shape, int n) {
    DataType t = p.getDtype();
    double[] v = new double[n];
    if (!p.getTensorContent().isEmpty()) {
      ByteBuffer bb = p.getTensorContent().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; i++) {
        v[i] = t == DataType.DT_INT32 ? bb.getInt() : t == DataType.DT_INT64 ? bb.getLong() : bb.get();
      }
    } else {
      int listed = t == DataType.DT_INT32 ? p.getIntValCount() : t == DataType.DT_INT64 ? p.getInt64ValCount()
          : p.getBoolValCount();
      for (int i = 0; i < n && listed > 0; i++) {
        int j = Math.min(i, listed - 1);
        v[i] = t == DataType.DT_INT32 ? p.getIntVal(j) : t == DataType.DT_INT64 ? p.getInt64Val(j)
            : (p.getBoolVal(j) ? 1 : 0);
      }
    }
    return new DenseTensor(shape, v, t);
  }

  /** Encodes {@code t} as a TensorProto in its own dtype (float64 values are rounded to float32 if needed). */
  public static TensorProto encode(DenseTensor t) {
    DataType dt = t.dtype();
    if (!isSupported(dt)) {
      throw new IllegalArgumentException("unsupported dtype " + dt);
    }
    int width = dt == DataType.DT_FLOAT ? 4 : 8;
    ByteBuffer bb = ByteBuffer.allocate(t.size() * width).order(ByteOrder.LITTLE_ENDIAN);
    for (double d : t.values()) {
      if (dt == DataType.DT_FLOAT) {
        bb.putFloat((float) d);
      } else {
        bb.putDouble(d);
      }
    }
    bb.flip();
    return TensorProto.newBuilder()
        .setDtype(dt)
        .setTensorShape(shapeProto(t.shape()))
        .setTensorContent(ByteString.copyFrom(bb))
        .build();
  }

  /**
   * A native tensor holding a TensorProto's value (float, double, int32, int64, bool, string). The caller
   * closes it.
   *
   * @throws IllegalArgumentException for other dtypes
   */
  public static Tensor toTensor(TensorProto p) {
    org.tensorflow.ndarray.Shape shape = org.tensorflow.ndarray.Shape.of(shapeOf(p.getTensorShape()));
    DataType t = p.getDtype();
    if (t == DataType.DT_STRING) {
      int n = Math.toIntExact(shape.size());
      byte[][] v = new byte[n][];
      for (int i = 0; i < n; i++) {
        v[i] = p.getStringVal(Math.min(i, p.getStringValCount() - 1)).toByteArray();
      }
      return org.tensorflow.types.TString.tensorOfBytes(shape, org.tensorflow.ndarray.buffer.DataBuffers.ofObjects(v));
    }
    double[] v = decode(p).values();
    return switch (t) {
      case DT_FLOAT -> {
        float[] f = new float[v.length];
        for (int i = 0; i < f.length; i++) {
          f[i] = (float) v[i];
        }
        yield org.tensorflow.types.TFloat32.tensorOf(shape, org.tensorflow.ndarray.buffer.DataBuffers.of(f, true, false));
      }
      case DT_DOUBLE -> org.tensorflow.types.TFloat64.tensorOf(shape,
          org.tensorflow.ndarray.buffer.DataBuffers.of(v, true, false));
      case DT_INT32 -> {
        int[] a = new int[v.length];
        for (int i = 0; i < a.length; i++) {
          a[i] = (int) v[i];
        }
        yield org.tensorflow.types.TInt32.tensorOf(shape, org.tensorflow.ndarray.buffer.DataBuffers.of(a, true, false));
      }
      case DT_INT64 -> {
        long[] a = new long[v.length];
        for (int i = 0; i < a.length; i++) {
          a[i] = (long) v[i];
        }
        yield org.tensorflow.types.TInt64.tensorOf(shape, org.tensorflow.ndarray.buffer.DataBuffers.of(a, true, false));
      }
      case DT_BOOL -> {
        boolean[] a = new boolean[v.length];
        for (int i = 0; i < a.length; i++) {
          a[i] = v[i] != 0;
        }
        yield org.tensorflow.types.TBool.tensorOf(shape, org.tensorflow.ndarray.buffer.DataBuffers.of(a, true, false));
      }
      default -> throw new IllegalArgumentException("unsupported dtype " + t);
    };
  }

  /** Reads a native float or double tensor into Java. */
  public static DenseTensor fromTensor(Tensor tensor) {
    DataType dt = tensor.dataType();
    if (!isSupported(dt)) {
      throw new IllegalArgumentException("unsupported dtype " + dt);
    }
    long[] shape = tensor.shape().asArray();
    int n = Math.toIntExact(numElements(shape));
    byte[] raw = new byte[Math.toIntExact(tensor.numBytes())];
    tensor.asRawTensor().data().read(raw);
    ByteBuffer bb = ByteBuffer.wrap(raw).order(ByteOrder.nativeOrder());
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = dt == DataType.DT_FLOAT ? bb.getFloat() : bb.getDouble();
    }
    return new DenseTensor(shape, v, dt);
  }

  /** Dimensions of a shape proto ({@code -1} for unknown; empty for unknown rank). */
  public static long[] shapeOf(TensorShapeProto s) {
    long[] out = new long[s.getDimCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = s.getDim(i).getSize();
    }
    return out;
  }

  /** A shape proto for these dimensions. */
  public static TensorShapeProto shapeProto(long[] dims) {
    TensorShapeProto.Builder b = TensorShapeProto.newBuilder();
    for (long d : dims) {
      b.addDim(TensorShapeProto.Dim.newBuilder().setSize(d));
    }
    return b.build();
  }

  /** Product of the dimensions. */
  public static long numElements(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }
}
