package dev.fusedtf.spring;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import dev.fusedtf.Input;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TUint8;

/**
 * The {@code PredictRequest} is one TF Serving REST predict request, read from JSON in one streaming pass: the row
 * format {@code {"instances": [...]}} (one entry per batch row; an object of named inputs per row when the signature
 * has several) or the columnar format {@code {"inputs": {...}}} / {@code {"inputs": [...]}}, and an optional
 * {@code signature_name}. Values are checked while they are read: a malformed document, a ragged array, a
 * {@code null}, or more values than the limit are refused before anything else is allocated. Non-finite numbers are
 * the strings {@code "NaN"}, {@code "Infinity"} and {@code "-Infinity"}.
 */
final class PredictRequest {
  /** Arrays nested deeper than this are refused (no model takes such inputs; it bounds the parser's recursion). */
  static final int MAX_DEPTH = 32;

  private final boolean rows;
  private final String signatureName;
  private final Map<String, Values> inputs; // key null: the signature's only input, not named in the request
  private final int instances;

  private PredictRequest(boolean rows, String signatureName, Map<String, Values> inputs, int instances) {
    this.rows = rows;
    this.signatureName = signatureName;
    this.inputs = inputs;
    this.instances = instances;
  }

  /** Whether the request used the row format ({@code instances}), answered with {@code predictions}. */
  boolean rowFormat() {
    return rows;
  }

  /** The {@code signature_name} given, or null. */
  String signatureName() {
    return signatureName;
  }

  /**
   * Reads a request.
   *
   * @param soleInput the name of the only input of a signature (null key: the default one), or null when it has
   *     several; used to name an input the request does not name, in error messages
   * @param maxElements the most values the request may hold, all inputs together
   * @throws ClientErrorException 400 for a malformed or invalid request, 413 for too many values
   */
  static PredictRequest parse(byte[] body, Function<String, String> soleInput, long maxElements) {
    return new Parser(body, soleInput, maxElements).parse();
  }

  /**
   * The inputs for {@code sig}, as {@link Input}s when every dtype allows it (validated before any tensor is made),
   * else null: call {@link #tensors(Signature, String)} instead.
   *
   * @throws ClientErrorException 400 for an input the signature lacks, or values of the wrong dtype
   */
  Map<String, Input> inputs(Signature sig, String model) {
    Map<String, Input> out = new LinkedHashMap<>();
    for (Map.Entry<String, Values> e : resolve(sig, model).entrySet()) {
      DataType t = sig.getInputs().get(e.getKey()).dataType;
      Values v = e.getValue();
      switch (t) {
        case DT_FLOAT -> out.put(e.getKey(), Input.of(v.floats(e.getKey()), v.shape()));
        case DT_INT32 -> out.put(e.getKey(), Input.of(v.ints(e.getKey(), t, Integer.MIN_VALUE, Integer.MAX_VALUE),
            v.shape()));
        case DT_INT64 -> out.put(e.getKey(), Input.of(v.longs(e.getKey()), v.shape()));
        case DT_STRING -> out.put(e.getKey(), Input.of(v.strings(e.getKey()), v.shape()));
        case DT_DOUBLE, DT_BOOL, DT_UINT8 -> {
          return null;
        }
        default -> throw unsupported(e.getKey(), t);
      }
    }
    return out;
  }

  /**
   * The inputs for {@code sig} as tensors, which the caller closes.
   *
   * @throws ClientErrorException 400 for an input the signature lacks, or values of the wrong dtype
   */
  Map<String, Tensor> tensors(Signature sig, String model) {
    Map<String, Values> resolved = resolve(sig, model);
    Map<String, Tensor> out = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, Values> e : resolved.entrySet()) {
        String name = e.getKey();
        Values v = e.getValue();
        DataType t = sig.getInputs().get(name).dataType;
        Shape shape = Shape.of(v.shape());
        out.put(name, switch (t) {
          case DT_FLOAT, DT_INT32, DT_INT64, DT_STRING -> inputOf(name, t, v).toTensor();
          case DT_DOUBLE -> TFloat64.tensorOf(shape, DataBuffers.of(v.doubles(name, t), true, false));
          case DT_BOOL -> TBool.tensorOf(shape, DataBuffers.of(v.booleans(name), true, false));
          case DT_UINT8 -> {
            int[] ints = v.ints(name, t, 0, 255);
            byte[] bytes = new byte[ints.length];
            for (int i = 0; i < ints.length; i++) {
              bytes[i] = (byte) ints[i];
            }
            yield TUint8.tensorOf(shape, DataBuffers.of(bytes, true, false));
          }
          default -> throw unsupported(name, t);
        });
      }
      return out;
    } catch (RuntimeException e) {
      out.values().forEach(Tensor::close);
      throw e;
    }
  }

  private static Input inputOf(String name, DataType t, Values v) {
    return switch (t) {
      case DT_FLOAT -> Input.of(v.floats(name), v.shape());
      case DT_INT32 -> Input.of(v.ints(name, t, Integer.MIN_VALUE, Integer.MAX_VALUE), v.shape());
      case DT_INT64 -> Input.of(v.longs(name), v.shape());
      default -> Input.of(v.strings(name), v.shape());
    };
  }

  private static ClientErrorException unsupported(String name, DataType t) {
    return bad("input '" + name + "' has dtype " + t + ", which the REST API does not take as JSON");
  }

  /** The request's inputs by the signature's names. */
  private Map<String, Values> resolve(Signature sig, String model) {
    Map<String, Values> out = new LinkedHashMap<>();
    for (Map.Entry<String, Values> e : inputs.entrySet()) {
      String name = e.getKey();
      if (name == null) {
        if (sig.getInputs().size() != 1) {
          throw bad("signature '" + sig.key() + "' of model '" + model + "' has inputs " + sig.inputNames()
              + ": name each one (" + (rows ? "every instance an object of named inputs" : "\"inputs\" an object")
              + ")");
        }
        name = sig.inputNames().iterator().next();
      } else if (!sig.getInputs().containsKey(name)) {
        throw bad("signature '" + sig.key() + "' of model '" + model + "' has no input '" + name + "'; its inputs are "
            + sig.inputNames());
      }
      out.put(name, e.getValue());
    }
    if (rows) {
      for (Map.Entry<String, Values> e : out.entrySet()) {
        if (e.getValue().rows != instances) {
          throw bad("input '" + e.getKey() + "' is in " + e.getValue().rows + " of the " + instances
              + " instances: every instance needs every input");
        }
      }
    }
    return out;
  }

  static ClientErrorException bad(String message) {
    return new ClientErrorException(400, message);
  }

  // ------------------------------------------------------------------------------------------ values

  /**
   * The values of one input as read: a shape checked as it is read (no ragged arrays) and the values flat in
   * row-major order. Numbers are kept as doubles, exact longs beyond 2^53 aside; strings and booleans are noted so
   * that the dtype is checked when the signature is known.
   */
  static final class Values {
    private final String label;
    private final boolean stacked;
    private final long[] dims = new long[MAX_DEPTH + 1];
    private final boolean[] fixed = new boolean[MAX_DEPTH + 1];
    private int rank = -1;
    private int rows;
    private double[] nums = new double[16];
    private String[] strings;
    private Map<Integer, Long> bigLongs;
    private int size;
    private int booleans;
    private int stringCount;

    Values(String label, boolean stacked) {
      this.label = label;
      this.stacked = stacked;
    }

    long[] shape() {
      int r = Math.max(rank, 0);
      long[] s = new long[r];
      for (int d = 0; d < r; d++) {
        s[d] = stacked && d == 0 ? rows : dims[d];
      }
      return s;
    }

    private ClientErrorException ragged(int depth, String what) {
      return bad("input '" + label + "': ragged array: " + what + " at depth " + depth + " (every row must have the "
          + "same shape)");
    }

    /** Reads one value (a scalar or a nested array) at {@code depth}. */
    void read(JsonReader r, int depth, long[] count, long maxElements) throws IOException {
      JsonToken t = r.peek();
      if (t == JsonToken.BEGIN_ARRAY) {
        if (rank >= 0 && depth >= rank) {
          throw ragged(depth, "an array where a value was expected");
        }
        if (depth >= MAX_DEPTH) {
          throw bad("input '" + label + "': arrays nested deeper than " + MAX_DEPTH);
        }
        r.beginArray();
        long n = 0;
        while (r.hasNext()) {
          read(r, depth + 1, count, maxElements);
          n++;
        }
        r.endArray();
        if (!fixed[depth]) {
          fixed[depth] = true;
          dims[depth] = n;
          if (n == 0 && rank < 0) {
            rank = depth + 1;
          }
        } else if (dims[depth] != n) {
          throw ragged(depth, n + " elements where the first row has " + dims[depth]);
        }
        return;
      }
      if (rank < 0) {
        rank = depth;
      } else if (rank != depth) {
        throw ragged(depth, "a value where an array was expected");
      }
      if (++count[0] > maxElements) {
        throw new ClientErrorException(413, "the request holds more than " + maxElements
            + " values (fusedtf.http.max-elements)");
      }
      switch (t) {
        case NUMBER -> number(r.nextString());
        case STRING -> string(r.nextString());
        case BOOLEAN -> {
          add(r.nextBoolean() ? 1 : 0);
          booleans++;
        }
        case NULL -> throw bad("input '" + label + "': null where a value was expected");
        case BEGIN_OBJECT -> throw bad("input '" + label + "': an object where a value was expected (named inputs "
            + "go at the top of an instance or of \"inputs\"; {\"b64\": ...} values are not supported)");
        default -> throw bad("input '" + label + "': unexpected " + t);
      }
    }

    private void number(String literal) {
      boolean integral = literal.indexOf('.') < 0 && literal.indexOf('e') < 0 && literal.indexOf('E') < 0;
      if (integral) {
        try {
          long v = Long.parseLong(literal);
          if (Math.abs(v) > (1L << 53)) {
            if (bigLongs == null) {
              bigLongs = new HashMap<>();
            }
            bigLongs.put(size, v);
          }
          add(v);
          return;
        } catch (NumberFormatException e) {
          // beyond long: kept as a double, refused by the integer dtypes
        }
      }
      add(Double.parseDouble(literal)); // JSON's number syntax is a subset of Java's
    }

    private void string(String s) {
      if (strings == null) {
        strings = new String[nums.length];
      }
      stringCount++;
      int i = size;
      add(Double.NaN);
      strings[i] = s;
    }

    private void add(double v) {
      if (size == nums.length) {
        nums = Arrays.copyOf(nums, Math.max(16, size * 2));
        if (strings != null) {
          strings = Arrays.copyOf(strings, nums.length);
        }
      }
      nums[size++] = v;
    }

    private ClientErrorException wrong(String name, DataType t, String what) {
      return bad("input '" + name + "' is " + t + ": " + what);
    }

    private double number(String name, DataType t, int i) {
      if (strings != null && strings[i] != null) {
        return switch (strings[i]) {
          case "NaN" -> Double.NaN;
          case "Infinity" -> Double.POSITIVE_INFINITY;
          case "-Infinity" -> Double.NEGATIVE_INFINITY;
          default -> throw wrong(name, t, "expected a number, got the string " + quote(strings[i]));
        };
      }
      return nums[i];
    }

    private void noBooleans(String name, DataType t) {
      if (booleans > 0) {
        throw wrong(name, t, "expected numbers, got booleans");
      }
    }

    float[] floats(String name) {
      noBooleans(name, DataType.DT_FLOAT);
      float[] f = new float[size];
      for (int i = 0; i < size; i++) {
        f[i] = (float) number(name, DataType.DT_FLOAT, i);
      }
      return f;
    }

    double[] doubles(String name, DataType t) {
      noBooleans(name, t);
      double[] d = new double[size];
      for (int i = 0; i < size; i++) {
        d[i] = number(name, t, i);
      }
      return d;
    }

    int[] ints(String name, DataType t, long min, long max) {
      long[] l = integers(name, t);
      int[] out = new int[size];
      for (int i = 0; i < size; i++) {
        if (l[i] < min || l[i] > max) {
          throw wrong(name, t, l[i] + " is out of range [" + min + ", " + max + "]");
        }
        out[i] = (int) l[i];
      }
      return out;
    }

    long[] longs(String name) {
      return integers(name, DataType.DT_INT64);
    }

    private long[] integers(String name, DataType t) {
      noBooleans(name, t);
      long[] out = new long[size];
      for (int i = 0; i < size; i++) {
        if (bigLongs != null && bigLongs.containsKey(i)) {
          out[i] = bigLongs.get(i);
          continue;
        }
        double d = number(name, t, i);
        if (!Double.isFinite(d) || d != Math.rint(d)) {
          throw wrong(name, t, "expected integers, got " + (strings != null && strings[i] != null
              ? quote(strings[i]) : Double.toString(d)));
        }
        if (d < -9.223372036854776E18 || d >= 9.223372036854776E18) {
          throw wrong(name, t, d + " is out of range");
        }
        out[i] = (long) d;
      }
      return out;
    }

    boolean[] booleans(String name) {
      if (booleans != size) {
        throw wrong(name, DataType.DT_BOOL, "expected true or false for every value");
      }
      boolean[] b = new boolean[size];
      for (int i = 0; i < size; i++) {
        b[i] = nums[i] != 0;
      }
      return b;
    }

    String[] strings(String name) {
      if (stringCount != size) {
        throw wrong(name, DataType.DT_STRING, "expected a string for every value");
      }
      return Arrays.copyOf(strings, size);
    }
  }

  private static String quote(String s) {
    String cut = s.length() > 40 ? s.substring(0, 40) + "..." : s;
    return "\"" + cut.replace("\"", "\\\"") + "\"";
  }

  // ------------------------------------------------------------------------------------------ parser

  private static final class Parser {
    private final byte[] body;
    private final Function<String, String> soleInput;
    private final long maxElements;
    private final long[] count = {0};
    private final Map<String, Values> inputs = new LinkedHashMap<>();
    private String signatureName;
    private Boolean rows;
    private int instances;

    Parser(byte[] body, Function<String, String> soleInput, long maxElements) {
      this.body = body;
      this.soleInput = soleInput;
      this.maxElements = maxElements;
    }

    PredictRequest parse() {
      JsonReader r = new JsonReader(new InputStreamReader(new ByteArrayInputStream(body), StandardCharsets.UTF_8));
      r.setStrictness(Strictness.STRICT);
      r.setNestingLimit(MAX_DEPTH + 4);
      try {
        if (r.peek() != JsonToken.BEGIN_OBJECT) {
          throw bad("the request must be a JSON object holding \"instances\" or \"inputs\", got " + r.peek());
        }
        r.beginObject();
        Set<String> seen = new HashSet<>();
        while (r.hasNext()) {
          String key = r.nextName();
          if (!seen.add(key)) {
            throw bad("field \"" + key + "\" appears twice");
          }
          switch (key) {
            case "signature_name" -> {
              if (r.peek() != JsonToken.STRING) {
                throw bad("\"signature_name\" must be a string, got " + r.peek());
              }
              signatureName = r.nextString();
            }
            case "instances" -> {
              if (rows != null) {
                throw bad("give either \"instances\" or \"inputs\", not both");
              }
              rows = true;
              instances(r);
            }
            case "inputs" -> {
              if (rows != null) {
                throw bad("give either \"instances\" or \"inputs\", not both");
              }
              rows = false;
              columns(r);
            }
            default -> throw bad("unknown field \"" + key + "\": a request holds \"instances\" or \"inputs\", and "
                + "optionally \"signature_name\"");
          }
        }
        r.endObject();
        if (r.peek() != JsonToken.END_DOCUMENT) {
          throw bad("malformed JSON: data after the request object");
        }
      } catch (IOException | IllegalStateException | NumberFormatException e) {
        throw bad("malformed JSON: " + e.getMessage());
      }
      if (rows == null) {
        throw bad("the request needs \"instances\" (row format) or \"inputs\" (columnar format)");
      }
      return new PredictRequest(rows, signatureName, inputs, instances);
    }

    private String unnamedLabel() {
      String sole = soleInput.apply(signatureName);
      return sole != null ? sole : "(unnamed)";
    }

    private void instances(JsonReader r) throws IOException {
      if (r.peek() != JsonToken.BEGIN_ARRAY) {
        throw bad("\"instances\" must be an array, got " + r.peek());
      }
      r.beginArray();
      Boolean objects = null;
      while (r.hasNext()) {
        boolean object = r.peek() == JsonToken.BEGIN_OBJECT;
        if (objects == null) {
          objects = object;
        } else if (objects != object) {
          throw bad("instance " + instances + ": either every instance is an object of named inputs or none is");
        }
        if (object) {
          r.beginObject();
          Set<String> names = new HashSet<>();
          while (r.hasNext()) {
            String name = r.nextName();
            if (!names.add(name)) {
              throw bad("instance " + instances + " names input '" + name + "' twice");
            }
            Values v = inputs.computeIfAbsent(name, n -> new Values(n, true));
            v.read(r, 1, count, maxElements);
            v.rows++;
          }
          r.endObject();
        } else {
          Values v = inputs.computeIfAbsent(null, n -> new Values(unnamedLabel(), true));
          v.read(r, 1, count, maxElements);
          v.rows++;
        }
        instances++;
      }
      r.endArray();
      if (instances == 0) {
        throw bad("\"instances\" is empty: give at least one instance");
      }
    }

    private void columns(JsonReader r) throws IOException {
      if (r.peek() == JsonToken.BEGIN_OBJECT) {
        r.beginObject();
        while (r.hasNext()) {
          String name = r.nextName();
          if (inputs.containsKey(name)) {
            throw bad("\"inputs\" names input '" + name + "' twice");
          }
          Values v = new Values(name, false);
          v.read(r, 0, count, maxElements);
          inputs.put(name, v);
        }
        r.endObject();
        if (inputs.isEmpty()) {
          throw bad("\"inputs\" is empty: give every input of the signature");
        }
      } else {
        Values v = new Values(unnamedLabel(), false);
        v.read(r, 0, count, maxElements);
        inputs.put(null, v);
      }
    }
  }
}
