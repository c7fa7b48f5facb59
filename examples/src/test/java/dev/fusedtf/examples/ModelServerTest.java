package dev.fusedtf.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.fusedtf.FusedModel;
import dev.fusedtf.testsupport.NetBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/** End to end over loopback with a real HTTP client. */
class ModelServerTest {
  @TempDir static Path tmp;
  static FusedModel model;
  static ModelServer server;
  static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void start() throws Exception {
    NetBuilder b = new NetBuilder(NetBuilder.Style.TF2, 8);
    String x = b.input("x", -1, 4, 4, 2);
    b.output("y", b.mean(b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 2, 3, 1, "SAME", true, false), "bn", 3), "r"),
        "pool", 1, 2));
    model = FusedModel.load(b.write(tmp.resolve("m")));
    server = ModelServer.start(Map.of("net", model), 0);
  }

  @AfterAll
  static void stop() {
    server.close();
    model.close();
  }

  static HttpResponse<String> send(String method, String path, String body) throws Exception {
    HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .timeout(Duration.ofSeconds(30));
    r = body == null ? r.method(method, HttpRequest.BodyPublishers.noBody())
        : r.method(method, HttpRequest.BodyPublishers.ofString(body));
    return CLIENT.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }

  static String instances(int n) {
    StringBuilder sb = new StringBuilder("{\"instances\": [");
    for (int i = 0; i < n; i++) {
      sb.append(i > 0 ? "," : "").append("[");
      for (int h = 0; h < 4; h++) {
        sb.append(h > 0 ? "," : "").append("[");
        for (int w = 0; w < 4; w++) {
          sb.append(w > 0 ? "," : "").append("[").append(0.1 * (i + h - w)).append(",").append(0.05 * (h * w - i))
              .append("]");
        }
        sb.append("]");
      }
      sb.append("]");
    }
    return sb.append("]}").toString();
  }

  @Test
  void predictMatchesTheModelCalledDirectly() throws Exception {
    HttpResponse<String> r = send("POST", "/v1/models/net:predict", instances(2));
    assertEquals(200, r.statusCode(), r.body());
    JsonArray p = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonArray("predictions");
    assertEquals(2, p.size());
    assertEquals(3, p.get(0).getAsJsonArray().size());
    float[] in = new float[2 * 4 * 4 * 2];
    int k = 0;
    for (int i = 0; i < 2; i++) {
      for (int h = 0; h < 4; h++) {
        for (int w = 0; w < 4; w++) {
          in[k++] = (float) (0.1 * (i + h - w));
          in[k++] = (float) (0.05 * (h * w - i));
        }
      }
    }
    try (TFloat32 t = TFloat32.tensorOf(Shape.of(2, 4, 4, 2), DataBuffers.of(in, true, false));
         Result direct = model.call(Map.of("x", t))) {
      TFloat32 y = (TFloat32) direct.get(0);
      for (int i = 0; i < 2; i++) {
        for (int c = 0; c < 3; c++) {
          assertEquals(y.getFloat(i, c), p.get(i).getAsJsonArray().get(c).getAsFloat(), 1e-6);
        }
      }
    }
  }

  @Test
  void badRequestsGet400AndTheServerKeepsRunning() throws Exception {
    HttpResponse<String> malformed = send("POST", "/v1/models/net:predict", "{\"instances\": [1, 2");
    assertEquals(400, malformed.statusCode());
    assertTrue(malformed.body().contains("malformed JSON"), malformed.body());
    // rank 3 would abort the JVM in native code: validation answers 400 instead
    HttpResponse<String> rank3 = send("POST", "/v1/models/net:predict", "{\"instances\": [[1, 2], [3, 4]]}");
    assertEquals(400, rank3.statusCode());
    assertTrue(rank3.body().contains("'x'") && rank3.body().contains("shape"), rank3.body());
    HttpResponse<String> ragged = send("POST", "/v1/models/net:predict", "{\"instances\": [[[1,2]], [[1]]]}");
    assertEquals(400, ragged.statusCode(), ragged.body());
    assertEquals(400, send("POST", "/v1/models/net:predict", "{}").statusCode());
    assertEquals(404, send("POST", "/v1/models/nope:predict", instances(1)).statusCode());
    assertEquals(200, send("POST", "/v1/models/net:predict", instances(1)).statusCode());
  }

  @Test
  void reportAndMetrics() throws Exception {
    HttpResponse<String> r = send("GET", "/v1/models/net", null);
    assertEquals(200, r.statusCode());
    JsonObject report = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("report");
    assertEquals(1, report.getAsJsonArray("folds").size());
    send("POST", "/v1/models/net:predict", instances(1));
    HttpResponse<String> m = send("GET", "/metrics", null);
    assertEquals(200, m.statusCode());
    assertTrue(m.body().contains("fusedtf_server_requests_seconds_count{model=\"net\",outcome=\"success\"}"), m.body());
  }

  @Test
  void limitsAnswer413BeforeAnythingIsAllocated() throws Exception {
    StringBuilder wide = new StringBuilder("{\"instances\": [[");
    for (int i = 0; i < 2_100_000; i++) {
      wide.append(i > 0 ? ",0" : "0");
    }
    wide.append("], [0]]}"); // claims 2 x 2.1M values: over the element limit, refused before it is read as tensors
    HttpResponse<String> tooMany = send("POST", "/v1/models/net:predict", wide.toString());
    assertEquals(413, tooMany.statusCode(), tooMany.body());
    assertTrue(tooMany.body().contains("over the limit"), tooMany.body());
    String huge = "{\"instances\": [" + "0,".repeat(ModelServer.MAX_BODY_BYTES / 2) + "0]}";
    HttpResponse<String> tooBig = send("POST", "/v1/models/net:predict", huge);
    assertEquals(413, tooBig.statusCode(), tooBig.body().length() > 200 ? "(long)" : tooBig.body());
    assertEquals(200, send("POST", "/v1/models/net:predict", instances(1)).statusCode(), "still serving");
  }

  @Test
  void anUnknownSignatureIs400AndNonFiniteValuesAreJsonStrings() throws Exception {
    String body = instances(1);
    HttpResponse<String> unknown = send("POST", "/v1/models/net:predict",
        body.replace("{\"instances\"", "{\"signature_name\": \"nope\", \"instances\""));
    assertEquals(400, unknown.statusCode(), unknown.body());
    assertTrue(unknown.body().contains("no signature") && unknown.body().contains("serving_default"), unknown.body());
    HttpResponse<String> named = send("POST", "/v1/models/net:predict",
        body.replace("{\"instances\"", "{\"signature_name\": \"serving_default\", \"instances\""));
    assertEquals(200, named.statusCode(), named.body());
    String nan = body.replaceFirst("\\[\\[\\[\\[[-0-9.E]+,", "[[[[\"NaN\",");
    HttpResponse<String> r = send("POST", "/v1/models/net:predict", nan);
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"NaN\""), r.body());
    JsonParser.parseString(r.body()); // valid JSON: no bare NaN token
    com.google.gson.stream.JsonReader strict = new com.google.gson.stream.JsonReader(new java.io.StringReader(r.body()));
    strict.setStrictness(com.google.gson.Strictness.STRICT);
    com.google.gson.JsonParser.parseReader(strict);
  }
}
