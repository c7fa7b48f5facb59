package dev.fusedtf.spring;

import com.google.gson.stream.JsonWriter;
import dev.fusedtf.FusedModel;
import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.errors.InvalidInputException;
import dev.fusedtf.errors.PredictionException;
import dev.fusedtf.metrics.FusedTfMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RestController;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;

/**
 * The {@code FusedTfRestController} serves the models of the {@link FusedModelRegistry} with TF Serving's REST API
 * (enabled by {@code fusedtf.rest.enabled=true}):
 *
 * <ul>
 *   <li>{@code POST /v1/models/{name}:predict} and {@code POST /v1/models/{name}/versions/{v}:predict}: the row
 *       format {@code {"instances": [...]}} answered with {@code {"predictions": ...}}, or the columnar format
 *       {@code {"inputs": ...}} answered with {@code {"outputs": ...}}; optional {@code signature_name};</li>
 *   <li>{@code GET /v1/models/{name}} (and {@code /versions/{v}}): the version status;</li>
 *   <li>{@code GET /v1/models/{name}/metadata}: the signatures, their inputs and outputs with dtype and shape.</li>
 * </ul>
 *
 * <p>Errors are {@code {"error": "..."}}: 400 for a request the client must fix (malformed JSON, ragged arrays, an
 * unknown input or signature, a wrong shape or dtype: the message names the input), 404 for an unknown model or
 * version, 413 for a body over {@code fusedtf.http.max-body-bytes} or more than {@code fusedtf.http.max-elements}
 * values (checked before anything is allocated), 503 while shutting down, 500 only when a valid request fails inside
 * TensorFlow. Each predict request for a known model is counted once in {@value FusedTfMetrics#PREDICT}: by the model
 * when it reached the model, else here (outcome {@code invalid_input}).
 */
@RestController
public class FusedTfRestController {
  private static final Logger LOG = LoggerFactory.getLogger(FusedTfRestController.class);
  private static final String PREDICT = ":predict";

  private final FusedModelRegistry registry;
  private final MeterRegistry meters;
  private final long maxBodyBytes;
  private final long maxElements;

  /**
   * Serves {@code registry}'s models within {@code limits}; rejected requests are recorded in {@code meters} (may be
   * null).
   */
  public FusedTfRestController(FusedModelRegistry registry, FusedTfProperties.Http limits, MeterRegistry meters) {
    this.registry = registry;
    this.meters = meters;
    this.maxBodyBytes = limits.getMaxBodyBytes().toBytes();
    this.maxElements = limits.getMaxElements();
    if (maxBodyBytes <= 0 || maxBodyBytes > Integer.MAX_VALUE - 16 || maxElements <= 0) {
      throw new IllegalArgumentException("fusedtf.http.max-body-bytes must be in (0, 2 GB) and "
          + "fusedtf.http.max-elements positive, got " + limits.getMaxBodyBytes() + " and " + maxElements);
    }
  }

  // ------------------------------------------------------------------------------------------ predict

  /** {@code POST /v1/models/{name}:predict}: the version being served. */
  @PostMapping("/v1/models/{name}:predict")
  public ResponseEntity<byte[]> predict(@PathVariable String name, HttpServletRequest request,
      HttpServletResponse response) {
    return predict(name, null, request, response);
  }

  /** {@code POST /v1/models/{name}/versions/{version}:predict}: only while that version is the one served. */
  @PostMapping("/v1/models/{name}/versions/{version}:predict")
  public ResponseEntity<byte[]> predictVersion(@PathVariable String name, @PathVariable String version,
      HttpServletRequest request, HttpServletResponse response) {
    return predict(name, version, request, response);
  }

  private ResponseEntity<byte[]> predict(String name, String version, HttpServletRequest request,
      HttpServletResponse response) {
    long start = System.nanoTime();
    try (ModelLease lease = leaseVersion(name, version)) {
      FusedModel model = lease.model();
      String sigTag = FusedTfMetrics.UNKNOWN_SIGNATURE;
      PredictRequest req;
      Signature sig;
      try {
        byte[] body = readBody(request, response);
        req = PredictRequest.parse(body, key -> soleInput(model, key), maxElements);
        sig = signature(model, name, req.signatureName());
        sigTag = sig.key();
      } catch (ClientErrorException e) {
        rejected(name, sigTag, start);
        throw e;
      }
      Map<String, Input> inputs;
      try {
        inputs = req.inputs(sig, name);
      } catch (ClientErrorException e) {
        rejected(name, sigTag, start);
        throw e;
      }
      if (inputs != null) {
        try (Prediction p = model.predictInputs(sig.key(), inputs)) {
          return json(HttpStatus.OK, PredictResponse.write(sig, p, req.rowFormat()));
        }
      }
      Map<String, Tensor> tensors;
      try {
        tensors = req.tensors(sig, name);
      } catch (ClientErrorException e) {
        rejected(name, sigTag, start);
        throw e;
      }
      try (Prediction p = model.predict(sig.key(), tensors)) {
        return json(HttpStatus.OK, PredictResponse.write(sig, p, req.rowFormat()));
      } finally {
        tensors.values().forEach(Tensor::close);
      }
    }
  }

  /** The name of the only input of signature {@code key} (null: the default), or null. */
  private static String soleInput(FusedModel model, String key) {
    Signature s;
    try {
      s = key == null ? model.defaultSignature() : model.signatureMap().get(key);
    } catch (IllegalStateException e) {
      return null;
    }
    return s != null && s.getInputs().size() == 1 ? s.inputNames().iterator().next() : null;
  }

  private static Signature signature(FusedModel model, String name, String key) {
    Map<String, Signature> sigs = model.signatureMap();
    if (key == null) {
      try {
        return model.defaultSignature();
      } catch (IllegalStateException e) {
        throw PredictRequest.bad("model '" + name + "' has no default signature ('serving_default'): name one of "
            + sigs.keySet() + " in \"signature_name\"");
      }
    }
    Signature s = sigs.get(key);
    if (s == null) {
      throw PredictRequest.bad("model '" + name + "' has no signature '" + key + "'; it has " + sigs.keySet());
    }
    return s;
  }

  /** The body, refused with 413 past the limit before more than the limit is read. */
  private byte[] readBody(HttpServletRequest request, HttpServletResponse response) {
    long declared = request.getContentLengthLong();
    try {
      if (declared > maxBodyBytes) {
        refuse(request, response, declared);
        throw new ClientErrorException(413, "request body of " + declared + " bytes is over the limit of "
            + maxBodyBytes + " (fusedtf.http.max-body-bytes)");
      }
      InputStream in = request.getInputStream();
      byte[] body = in.readNBytes((int) maxBodyBytes + 1);
      if (body.length > maxBodyBytes) {
        refuse(request, response, declared);
        throw new ClientErrorException(413, "request body is over the limit of " + maxBodyBytes
            + " bytes (fusedtf.http.max-body-bytes)");
      }
      return body;
    } catch (IOException e) {
      throw PredictRequest.bad("cannot read the request body: " + e.getMessage());
    }
  }

  /**
   * Reads and drops what is left of a refused body, up to a bound, so that a client still sending reads the answer
   * rather than a reset connection; past the bound the connection is closed.
   */
  private void refuse(HttpServletRequest request, HttpServletResponse response, long declared) {
    response.setHeader("Connection", "close");
    long bound = 4 * maxBodyBytes;
    if (declared > bound) {
      return;
    }
    byte[] buf = new byte[64 * 1024];
    try {
      InputStream in = request.getInputStream();
      for (int n; bound > 0 && (n = in.read(buf, 0, (int) Math.min(buf.length, bound))) > 0; ) {
        bound -= n;
      }
    } catch (IOException e) {
      LOG.debug("draining a refused body: {}", e.toString());
    }
  }

  /** Counts a predict request refused here, before it reached the model (the model counts the others). */
  private void rejected(String model, String signature, long start) {
    if (meters != null) {
      Timer.builder(FusedTfMetrics.PREDICT).description("Duration of a prediction")
          .tags("model", model, "signature", signature, "outcome", FusedTfMetrics.Outcome.INVALID_INPUT.tag())
          .register(meters).record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }
  }

  private ModelLease leaseVersion(String name, String version) {
    ModelLease lease = registry.lease(name);
    if (version == null) {
      return lease;
    }
    OptionalLong served = lease.version();
    if (served.isEmpty() || !Long.toString(served.getAsLong()).equals(version)) {
      lease.close();
      throw new UnknownModelException(name, served.isEmpty()
          ? "model '" + name + "' is not versioned (loaded from a path): call /v1/models/" + name + PREDICT
          : "version " + version + " of model '" + name + "' is not served; it serves version "
              + served.getAsLong());
    }
    return lease;
  }

  // ------------------------------------------------------------------------------------------ status, metadata

  /** {@code GET /v1/models/{name}}: TF Serving's {@code model_version_status}. */
  @GetMapping("/v1/models/{name}")
  public ResponseEntity<byte[]> status(@PathVariable String name) {
    if (name.endsWith(PREDICT)) {
      return error(HttpStatus.METHOD_NOT_ALLOWED, "use POST for " + PREDICT);
    }
    return json(HttpStatus.OK, statusJson(registry.status(name), null));
  }

  /** {@code GET /v1/models/{name}/versions/{version}}: the status of one version. */
  @GetMapping("/v1/models/{name}/versions/{version}")
  public ResponseEntity<byte[]> versionStatus(@PathVariable String name, @PathVariable String version) {
    if (version.endsWith(PREDICT)) {
      return error(HttpStatus.METHOD_NOT_ALLOWED, "use POST for " + PREDICT);
    }
    ModelStatus s = registry.status(name);
    boolean known = s.reloading() && (version.equals(String.valueOf(s.version()))
        || s.rejected().keySet().stream().anyMatch(v -> Long.toString(v).equals(version)));
    if (!known) {
      throw new UnknownModelException(name, "model '" + name + "' has no version " + version
          + (s.reloading() ? "" : " (it is not versioned: loaded from a path)"));
    }
    return json(HttpStatus.OK, statusJson(s, version));
  }

  private static byte[] statusJson(ModelStatus s, String onlyVersion) {
    return write(w -> {
      w.beginObject().name("model_version_status").beginArray();
      if (onlyVersion == null || onlyVersion.equals(String.valueOf(s.version()))) {
        w.beginObject();
        if (s.version() != null) {
          w.name("version").value(Long.toString(s.version()));
        }
        w.name("state").value(s.open() ? "AVAILABLE" : "END");
        w.name("status").beginObject().name("error_code").value("OK").name("error_message").value("").endObject();
        if (s.report() != null) {
          w.name("served").value(s.served().label());
          w.name("check_passed").value(s.checkPassed());
          w.name("folds").value(s.report().folds().size());
        }
        w.endObject();
      }
      for (Map.Entry<Long, String> r : s.rejected().entrySet()) {
        if (onlyVersion != null && !onlyVersion.equals(Long.toString(r.getKey()))) {
          continue;
        }
        w.beginObject().name("version").value(Long.toString(r.getKey())).name("state").value("END");
        w.name("status").beginObject().name("error_code").value("UNKNOWN").name("error_message").value(r.getValue())
            .endObject();
        w.endObject();
      }
      w.endArray().endObject();
    });
  }

  /** {@code GET /v1/models/{name}/metadata}: the signatures of the version served. */
  @GetMapping("/v1/models/{name}/metadata")
  public ResponseEntity<byte[]> metadata(@PathVariable String name) {
    return metadata(name, null);
  }

  /** {@code GET /v1/models/{name}/versions/{version}/metadata}: only while that version is served. */
  @GetMapping("/v1/models/{name}/versions/{version}/metadata")
  public ResponseEntity<byte[]> metadata(@PathVariable String name, @PathVariable String version) {
    try (ModelLease lease = leaseVersion(name, version)) {
      FusedModel m = lease.model();
      return json(HttpStatus.OK, write(w -> {
        w.beginObject().name("model_spec").beginObject().name("name").value(name).name("signature_name").value("");
        if (lease.version().isPresent()) {
          w.name("version").value(Long.toString(lease.version().getAsLong()));
        }
        w.endObject();
        w.name("metadata").beginObject().name("signature_def").beginObject().name("signature_def").beginObject();
        for (Signature s : m.signatureMap().values()) {
          w.name(s.key()).beginObject();
          w.name("inputs");
          tensors(w, s.getInputs());
          w.name("outputs");
          tensors(w, s.getOutputs());
          w.name("method_name").value(s.methodName());
          w.endObject();
        }
        w.endObject().endObject().endObject().endObject();
      }));
    }
  }

  private static void tensors(JsonWriter w, Map<String, Signature.TensorDescription> m) throws IOException {
    w.beginObject();
    for (Map.Entry<String, Signature.TensorDescription> e : m.entrySet()) {
      Signature.TensorDescription d = e.getValue();
      w.name(e.getKey()).beginObject();
      w.name("dtype").value(d.dataType.name());
      w.name("tensor_shape").beginObject();
      Shape shape = d.shape;
      if (shape == null || shape.isUnknown()) {
        w.name("unknown_rank").value(true);
      } else {
        w.name("dim").beginArray();
        for (long dim : shape.asArray()) {
          w.beginObject().name("size").value(Long.toString(dim)).name("name").value("").endObject();
        }
        w.endArray();
        w.name("unknown_rank").value(false);
      }
      w.endObject();
      w.name("name").value(d.name);
      w.endObject();
    }
    w.endObject();
  }

  // ------------------------------------------------------------------------------------------ errors

  /** 400/413 for a request the client must fix. */
  @ExceptionHandler(ClientErrorException.class)
  public ResponseEntity<byte[]> clientError(ClientErrorException e) {
    return error(HttpStatus.valueOf(e.status()), e.getMessage());
  }

  /**
   * 400 for a request FusedTF refused ({@code InvalidInputException}: it names the signature and the input), or one
   * TensorFlow refused.
   */
  @ExceptionHandler(IllegalArgumentException.class)
  public ResponseEntity<byte[]> invalidInput(IllegalArgumentException e) {
    if (!(e instanceof InvalidInputException)) {
      LOG.debug("request refused", e);
    }
    return error(HttpStatus.BAD_REQUEST, e.getMessage());
  }

  /** 404 for an unknown model or version. */
  @ExceptionHandler(UnknownModelException.class)
  public ResponseEntity<byte[]> unknownModel(UnknownModelException e) {
    return error(HttpStatus.NOT_FOUND, e.getMessage());
  }

  /** 503 while the application shuts down (the registry or the model is closed). */
  @ExceptionHandler(IllegalStateException.class)
  public ResponseEntity<byte[]> shuttingDown(IllegalStateException e) {
    return error(HttpStatus.SERVICE_UNAVAILABLE, e.getMessage());
  }

  /** 500: a valid request failed inside TensorFlow. */
  @ExceptionHandler(PredictionException.class)
  public ResponseEntity<byte[]> predictionFailed(PredictionException e) {
    LOG.warn("prediction failed", e);
    return error(HttpStatus.INTERNAL_SERVER_ERROR, e.getMessage());
  }

  private static ResponseEntity<byte[]> error(HttpStatus status, String message) {
    return json(status, write(w -> w.beginObject().name("error").value(message == null ? status.getReasonPhrase()
        : message).endObject()));
  }

  private static ResponseEntity<byte[]> json(HttpStatus status, byte[] body) {
    return ResponseEntity.status(status).contentType(MediaType.APPLICATION_JSON).body(body);
  }

  private interface JsonBody {
    void write(JsonWriter w) throws IOException;
  }

  private static byte[] write(JsonBody body) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (JsonWriter w = new JsonWriter(new OutputStreamWriter(bytes, StandardCharsets.UTF_8))) {
      w.setHtmlSafe(false);
      body.write(w);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }
}
