package dev.fusedtf.examples;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.fusedtf.FusedModel;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.Result;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The {@code ModelServer} is a small HTTP service over fused models with TF Serving's REST shape, on the JDK's
 * own HTTP server:
 *
 * <ul>
 *   <li>{@code POST /v1/models/{name}:predict} with {@code {"instances": [...]}} answers
 *       {@code {"predictions": [...]}} (the default signature; one instance per batch row);</li>
 *   <li>{@code GET /v1/models/{name}} answers the fold report;</li>
 *   <li>{@code GET /metrics} answers Prometheus text (request timers by model and outcome).</li>
 * </ul>
 *
 * <p>Bad requests (malformed JSON, unknown input or signature, wrong shape or dtype) get 400 with
 * {@code {"error": "..."}} naming what is wrong; a body over {@value #MAX_BODY_BYTES} bytes or instances holding more
 * than {@value #MAX_ELEMENTS} values get 413, checked before anything is allocated. Non-finite values are written
 * as the JSON strings {@code "NaN"}, {@code "Infinity"} and {@code "-Infinity"} (JSON has no such numbers; TF
 * Serving writes bare tokens strict parsers reject), and read the same way. The server and the model keep running
 * because every request is validated in Java before it reaches TensorFlow.
 */
public final class ModelServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ModelServer.class);
  private static final Gson GSON = new com.google.gson.GsonBuilder().disableHtmlEscaping().create();
  /** The largest request body accepted (16 MiB). */
  public static final int MAX_BODY_BYTES = 16 << 20;
  /** The most values the instances of one request may hold. */
  public static final long MAX_ELEMENTS = 4_000_000L;

  /** A request the client must fix: its HTTP status and message. */
  static final class ClientError extends RuntimeException {
    final int status;

    ClientError(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  private final Map<String, FusedModel> models;
  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final HttpServer server;
  private final ExecutorService executor;

  /** Starts serving {@code models} (name to model; the server does not close them) on 127.0.0.1:{@code port}. */
  public static ModelServer start(Map<String, FusedModel> models, int port) throws IOException {
    return new ModelServer(models, port);
  }

  private ModelServer(Map<String, FusedModel> models, int port) throws IOException {
    this.models = Map.copyOf(models);
    this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
    this.executor = Executors.newFixedThreadPool(4);
    server.setExecutor(executor);
    server.createContext("/v1/models/", this::handleModel);
    server.createContext("/metrics", ex -> respond(ex, 200, "text/plain; version=0.0.4", registry.scrape()));
    server.start();
    LOG.info("serving {} on http://127.0.0.1:{}", this.models.keySet(), port());
  }

  /** The port it listens on. */
  public int port() {
    return server.getAddress().getPort();
  }

  private void handleModel(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath().substring("/v1/models/".length());
    try {
      if (path.endsWith(":predict")) {
        if (!ex.getRequestMethod().equals("POST")) {
          respondJson(ex, 405, error("use POST"));
          return;
        }
        predict(ex, path.substring(0, path.length() - ":predict".length()));
      } else if (ex.getRequestMethod().equals("GET")) {
        FusedModel m = models.get(path);
        if (m == null) {
          respondJson(ex, 404, error("no model named '" + path + "'"));
          return;
        }
        JsonObject o = new JsonObject();
        o.addProperty("model", path);
        o.add("report", JsonParser.parseString(m.report().toJson()));
        respondJson(ex, 200, o);
      } else {
        respondJson(ex, 405, error("unsupported method"));
      }
    } catch (RuntimeException e) {
      LOG.warn("request {} failed", path, e);
      respondJson(ex, 500, error(e.toString()));
    }
  }

  private void predict(HttpExchange ex, String name) throws IOException {
    FusedModel m = models.get(name);
    if (m == null) {
      respondJson(ex, 404, error("no model named '" + name + "'"));
      return;
    }
    Timer.Sample sample = Timer.start(registry);
    String outcome = "success";
    try (InputStream body = ex.getRequestBody()) {
      Map<String, Tensor> inputs = null;
      try {
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null && length.matches("\\d{1,19}") && Long.parseLong(length) > MAX_BODY_BYTES) {
          throw new ClientError(413, "request body of " + length + " bytes is over the limit of " + MAX_BODY_BYTES);
        }
        byte[] bytes = body.readNBytes(MAX_BODY_BYTES + 1);
        if (bytes.length > MAX_BODY_BYTES) {
          throw new ClientError(413, "request body is over the limit of " + MAX_BODY_BYTES + " bytes");
        }
        JsonObject request;
        try {
          request = JsonParser.parseString(new String(bytes, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
          throw new ClientError(400, "malformed JSON: " + e.getMessage());
        }
        Signature sig;
        JsonElement key = request.get("signature_name");
        if (key == null || key.isJsonNull()) {
          sig = m.defaultSignature();
        } else if (!key.isJsonPrimitive() || !m.signatureMap().containsKey(key.getAsString())) {
          throw new ClientError(400, "model '" + name + "' has no signature " + key + "; it has "
              + m.signatureMap().keySet());
        } else {
          sig = m.signatureMap().get(key.getAsString());
        }
        inputs = toTensors(sig, request);
        try (Result r = m.call(sig.key(), inputs)) {
          respondJson(ex, 200, toPredictions(sig, r));
        }
      } catch (ClientError e) {
        outcome = "bad_request";
        if (e.status == 413) {
          drain(body); // so the client, still sending, reads the answer instead of a reset connection
          ex.getResponseHeaders().set("Connection", "close");
        }
        respondJson(ex, e.status, error(e.getMessage()));
      } catch (IllegalArgumentException e) {
        outcome = "bad_request"; // FusedTF's InvalidInputException: names the signature and the input
        respondJson(ex, 400, error(e.getMessage()));
      } finally {
        if (inputs != null) {
          inputs.values().forEach(Tensor::close);
        }
      }
    } finally {
      sample.stop(Timer.builder("fusedtf.server.requests").tag("model", name).tag("outcome", outcome)
          .register(registry));
    }
  }

  /** Reads and drops what is left of a refused body, up to a bound (a larger one is cut off by closing). */
  private static void drain(InputStream body) {
    byte[] buf = new byte[64 * 1024];
    long left = 4L * MAX_BODY_BYTES;
    try {
      for (int n; left > 0 && (n = body.read(buf, 0, (int) Math.min(buf.length, left))) > 0; ) {
        left -= n;
      }
    } catch (IOException e) {
      LOG.debug("draining a refused body: {}", e.toString());
    }
  }

  /** Stacks the instances into one tensor per input. */
  static Map<String, Tensor> toTensors(Signature sig, JsonObject request) {
    JsonElement inst = request.get("instances");
    if (inst == null || !inst.isJsonArray() || inst.getAsJsonArray().isEmpty()) {
      throw new IllegalArgumentException("the request needs a non-empty \"instances\" array");
    }
    JsonArray instances = inst.getAsJsonArray();
    Map<String, List<JsonElement>> perInput = new LinkedHashMap<>();
    List<String> names = new ArrayList<>(sig.getInputs().keySet());
    for (JsonElement e : instances) {
      if (names.size() == 1 && !e.isJsonObject()) {
        perInput.computeIfAbsent(names.get(0), k -> new ArrayList<>()).add(e);
      } else if (e.isJsonObject()) {
        for (Map.Entry<String, JsonElement> f : e.getAsJsonObject().entrySet()) {
          perInput.computeIfAbsent(f.getKey(), k -> new ArrayList<>()).add(f.getValue());
        }
      } else {
        throw new IllegalArgumentException("with several inputs " + names + " each instance must be an object");
      }
    }
    Map<String, Tensor> out = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, List<JsonElement>> e : perInput.entrySet()) {
        Signature.TensorDescription d = sig.getInputs().get(e.getKey());
        if (d == null) {
          throw new IllegalArgumentException("unknown input '" + e.getKey() + "'; inputs are " + names);
        }
        out.put(e.getKey(), stack(e.getKey(), d.dataType, e.getValue()));
      }
    } catch (RuntimeException ex) {
      out.values().forEach(Tensor::close);
      throw ex;
    }
    return out;
  }

  private static Tensor stack(String name, DataType dtype, List<JsonElement> rows) {
    List<Long> dims = new ArrayList<>();
    dims.add((long) rows.size());
    JsonElement probe = rows.get(0);
    while (probe.isJsonArray()) {
      dims.add((long) probe.getAsJsonArray().size());
      probe = probe.getAsJsonArray().isEmpty() ? null : probe.getAsJsonArray().get(0);
      if (probe == null) {
        break;
      }
    }
    long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
    long n = 1;
    for (long d : shape) {
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        n = Long.MAX_VALUE;
      }
    }
    if (n > MAX_ELEMENTS) {
      throw new ClientError(413, "input '" + name + "' of shape " + java.util.Arrays.toString(shape) + " holds " + n
          + " values, over the limit of " + MAX_ELEMENTS);
    }
    double[] flat = new double[(int) n];
    int[] pos = {0};
    for (JsonElement row : rows) {
      flatten(name, row, 1, shape, flat, pos);
    }
    switch (dtype) {
      case DT_FLOAT -> {
        float[] f = new float[flat.length];
        for (int i = 0; i < f.length; i++) {
          f[i] = (float) flat[i];
        }
        return TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(f, true, false));
      }
      case DT_DOUBLE -> {
        return TFloat64.tensorOf(Shape.of(shape), DataBuffers.of(flat, true, false));
      }
      case DT_INT32 -> {
        int[] v = new int[flat.length];
        for (int i = 0; i < v.length; i++) {
          v[i] = (int) flat[i];
        }
        return TInt32.tensorOf(Shape.of(shape), DataBuffers.of(v, true, false));
      }
      case DT_INT64 -> {
        long[] v = new long[flat.length];
        for (int i = 0; i < v.length; i++) {
          v[i] = (long) flat[i];
        }
        return TInt64.tensorOf(Shape.of(shape), DataBuffers.of(v, true, false));
      }
      default -> throw new IllegalArgumentException("input '" + name + "' has dtype " + dtype
          + ", which this server does not take as JSON");
    }
  }

  private static void flatten(String name, JsonElement e, int depth, long[] shape, double[] flat, int[] pos) {
    if (depth == shape.length) {
      flat[pos[0]++] = number(name, e, depth);
      return;
    }
    if (!e.isJsonArray() || e.getAsJsonArray().size() != shape[depth]) {
      throw new IllegalArgumentException("input '" + name + "': ragged instances (expected " + shape[depth]
          + " elements at depth " + depth + ")");
    }
    for (JsonElement x : e.getAsJsonArray()) {
      flatten(name, x, depth + 1, shape, flat, pos);
    }
  }

  /** A number, or one of the strings {@code NaN}, {@code Infinity}, {@code -Infinity}. */
  private static double number(String name, JsonElement e, int depth) {
    if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
      return e.getAsDouble();
    }
    if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
      switch (e.getAsString()) {
        case "NaN" -> {
          return Double.NaN;
        }
        case "Infinity" -> {
          return Double.POSITIVE_INFINITY;
        }
        case "-Infinity" -> {
          return Double.NEGATIVE_INFINITY;
        }
        default -> {
          // fall through to the error
        }
      }
    }
    throw new IllegalArgumentException("input '" + name + "': expected a number at depth " + depth + ", got " + e);
  }

  private static JsonObject toPredictions(Signature sig, Result r) {
    List<String> outs = new ArrayList<>(sig.getOutputs().keySet());
    JsonArray predictions = new JsonArray();
    Map<String, JsonArray> perOutput = new LinkedHashMap<>();
    int rows = -1;
    for (String o : outs) {
      Tensor t = r.get(o).orElseThrow();
      double[] v = dev.fusedtf.internal.weights.TensorCodec.fromTensor(t).values();
      long[] shape = t.shape().asArray();
      JsonArray all = nest(v, shape, 0, new int[] {0});
      perOutput.put(o, all);
      rows = all.size();
    }
    for (int i = 0; i < rows; i++) {
      if (outs.size() == 1) {
        predictions.add(perOutput.get(outs.get(0)).get(i));
      } else {
        JsonObject row = new JsonObject();
        for (String o : outs) {
          row.add(o, perOutput.get(o).get(i));
        }
        predictions.add(row);
      }
    }
    JsonObject out = new JsonObject();
    out.add("predictions", predictions);
    return out;
  }

  private static JsonArray nest(double[] v, long[] shape, int depth, int[] pos) {
    JsonArray a = new JsonArray();
    for (long i = 0; i < shape[depth]; i++) {
      if (depth == shape.length - 1) {
        double x = v[pos[0]++];
        if (Double.isNaN(x)) {
          a.add("NaN");
        } else if (Double.isInfinite(x)) {
          a.add(x > 0 ? "Infinity" : "-Infinity");
        } else {
          a.add(x);
        }
      } else {
        a.add(nest(v, shape, depth + 1, pos));
      }
    }
    return a;
  }

  private static JsonObject error(String message) {
    JsonObject o = new JsonObject();
    o.addProperty("error", message);
    return o;
  }

  private static void respondJson(HttpExchange ex, int status, JsonElement body) throws IOException {
    respond(ex, status, "application/json", GSON.toJson(body));
  }

  private static void respond(HttpExchange ex, int status, String type, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(bytes);
    }
  }

  /** Stops the server (the models stay open: they are the caller's). */
  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
    registry.close();
  }

  /** Serves the demo models on port 8501 (or the first argument) until killed. */
  public static void main(String[] args) throws IOException {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 8501;
    Map<String, FusedModel> models = new LinkedHashMap<>();
    for (dev.fusedtf.testsupport.DemoModels.Demo d : dev.fusedtf.testsupport.DemoModels.writeAll(Path.of("target/example-models"))) {
      models.put(d.name(), FusedModel.load(d.dir()));
    }
    ModelServer s = start(models, port);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      s.close();
      models.values().forEach(FusedModel::close);
    }));
  }
}
