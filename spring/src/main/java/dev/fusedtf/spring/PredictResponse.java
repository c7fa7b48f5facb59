package dev.fusedtf.spring;

import com.google.gson.stream.JsonWriter;
import dev.fusedtf.Prediction;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.BooleanNdArray;
import org.tensorflow.ndarray.ByteNdArray;
import org.tensorflow.ndarray.DoubleNdArray;
import org.tensorflow.ndarray.FloatNdArray;
import org.tensorflow.ndarray.IntNdArray;
import org.tensorflow.ndarray.LongNdArray;
import org.tensorflow.ndarray.ShortNdArray;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TString;

/**
 * The {@code PredictResponse} writes the outputs of one prediction in TF Serving's REST shape:
 * {@code {"predictions": [...]}} (one entry per batch row; an object of named outputs per row when there are several)
 * for a row-format request, {@code {"outputs": ...}} (the output, or an object of named outputs) for a columnar one.
 * NaN and infinities are written as the strings {@code "NaN"}, {@code "Infinity"}, {@code "-Infinity"}: JSON has no
 * such numbers.
 */
final class PredictResponse {
  private PredictResponse() {}

  /** One output copied out of its tensor: a shape and the values flat, in row-major order. */
  private record Flat(long[] shape, Object values) {
    long rows() {
      return shape.length == 0 ? -1 : shape[0];
    }
  }

  /**
   * The JSON of {@code p}'s outputs, in the order of {@code sig}'s outputs.
   *
   * @throws ClientErrorException 400 when a row-format answer is impossible (outputs without a common batch size)
   */
  static byte[] write(Signature sig, Prediction p, boolean rowFormat) {
    Map<String, Flat> outs = new LinkedHashMap<>();
    List<String> names = new ArrayList<>(sig.outputNames());
    for (String n : p.names()) {
      if (!names.contains(n)) {
        names.add(n);
      }
    }
    for (String n : names) {
      if (p.names().contains(n)) {
        outs.put(n, flat(n, p.tensor(n)));
      }
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (JsonWriter w = new JsonWriter(new OutputStreamWriter(bytes, StandardCharsets.UTF_8))) {
      w.setHtmlSafe(false);
      w.beginObject();
      if (rowFormat) {
        long rows = -2;
        for (Map.Entry<String, Flat> e : outs.entrySet()) {
          long r = e.getValue().rows();
          if (r < 0 || rows != -2 && r != rows) {
            throw new ClientErrorException(400, "the outputs of signature '" + sig.key() + "' do not share a batch "
                + "dimension (" + shapes(outs) + "), so they cannot be split into instances: send the columnar "
                + "\"inputs\" format instead");
          }
          rows = r;
        }
        w.name("predictions").beginArray();
        for (long i = 0; i < rows; i++) {
          if (outs.size() == 1) {
            row(w, outs.values().iterator().next(), i);
          } else {
            w.beginObject();
            for (Map.Entry<String, Flat> e : outs.entrySet()) {
              w.name(e.getKey());
              row(w, e.getValue(), i);
            }
            w.endObject();
          }
        }
        w.endArray();
      } else {
        w.name("outputs");
        if (outs.size() == 1) {
          Flat f = outs.values().iterator().next();
          nested(w, f, 0, 0);
        } else {
          w.beginObject();
          for (Map.Entry<String, Flat> e : outs.entrySet()) {
            w.name(e.getKey());
            nested(w, e.getValue(), 0, 0);
          }
          w.endObject();
        }
      }
      w.endObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static String shapes(Map<String, Flat> outs) {
    Map<String, String> m = new LinkedHashMap<>();
    outs.forEach((k, v) -> m.put(k, java.util.Arrays.toString(v.shape())));
    return m.toString();
  }

  private static void row(JsonWriter w, Flat f, long i) throws IOException {
    nested(w, f, 1, i * stride(f.shape(), 1));
  }

  private static long stride(long[] shape, int from) {
    long s = 1;
    for (int d = from; d < shape.length; d++) {
      s *= shape[d];
    }
    return s;
  }

  private static void nested(JsonWriter w, Flat f, int depth, long offset) throws IOException {
    if (depth == f.shape().length) {
      scalar(w, f.values(), (int) offset);
      return;
    }
    long stride = stride(f.shape(), depth + 1);
    w.beginArray();
    for (long i = 0; i < f.shape()[depth]; i++) {
      nested(w, f, depth + 1, offset + i * stride);
    }
    w.endArray();
  }

  private static void scalar(JsonWriter w, Object values, int i) throws IOException {
    if (values instanceof float[] f) {
      finite(w, f[i], Float.valueOf(f[i]));
    } else if (values instanceof double[] d) {
      finite(w, d[i], Double.valueOf(d[i]));
    } else if (values instanceof int[] v) {
      w.value(v[i]);
    } else if (values instanceof long[] v) {
      w.value(v[i]);
    } else if (values instanceof boolean[] v) {
      w.value(v[i]);
    } else {
      w.value(((String[]) values)[i]);
    }
  }

  private static void finite(JsonWriter w, double d, Number n) throws IOException {
    if (Double.isNaN(d)) {
      w.value("NaN");
    } else if (Double.isInfinite(d)) {
      w.value(d > 0 ? "Infinity" : "-Infinity");
    } else {
      w.value(n); // a float as Float.toString writes it: the shortest text that reads back as the same float
    }
  }

  private static Flat flat(String name, Tensor t) {
    long[] shape = t.shape().asArray();
    int n = Math.toIntExact(t.shape().size());
    Object values;
    if (t instanceof FloatNdArray a) {
      float[] v = new float[n];
      a.copyTo(DataBuffers.of(v, false, false));
      values = v;
    } else if (t instanceof DoubleNdArray a) {
      double[] v = new double[n];
      a.copyTo(DataBuffers.of(v, false, false));
      values = v;
    } else if (t instanceof IntNdArray a) {
      int[] v = new int[n];
      a.copyTo(DataBuffers.of(v, false, false));
      values = v;
    } else if (t instanceof LongNdArray a) {
      long[] v = new long[n];
      a.copyTo(DataBuffers.of(v, false, false));
      values = v;
    } else if (t instanceof BooleanNdArray a) {
      boolean[] v = new boolean[n];
      a.copyTo(DataBuffers.of(v, false, false));
      values = v;
    } else if (t instanceof ByteNdArray a) {
      byte[] b = new byte[n];
      a.copyTo(DataBuffers.of(b, false, false));
      int[] v = new int[n];
      boolean unsigned = t.dataType() == DataType.DT_UINT8;
      for (int i = 0; i < n; i++) {
        v[i] = unsigned ? b[i] & 0xff : b[i];
      }
      values = v;
    } else if (t instanceof ShortNdArray a) {
      short[] s = new short[n];
      a.copyTo(DataBuffers.of(s, false, false));
      int[] v = new int[n];
      boolean unsigned = t.dataType() == DataType.DT_UINT16;
      for (int i = 0; i < n; i++) {
        v[i] = unsigned ? s[i] & 0xffff : s[i];
      }
      values = v;
    } else if (t instanceof TString s) {
      String[] v = new String[n];
      s.copyTo(DataBuffers.ofObjects(v));
      values = v;
    } else {
      throw new IllegalStateException("output '" + name + "' has dtype " + t.dataType()
          + ", which the REST API cannot write as JSON");
    }
    return new Flat(shape, values);
  }
}
