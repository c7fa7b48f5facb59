package dev.fusedtf.spring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.spring.sample.SampleApplication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The sample application end to end over loopback, with the JDK's HTTP client: predictions against the models called
 * directly, every client error, limits, concurrency, metrics, health, info and a hot reload.
 */
@SpringBootTest(classes = SampleApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
        "server.address=127.0.0.1",
        "fusedtf.rest.enabled=true",
        "fusedtf.http.max-body-bytes=1MB",
        "fusedtf.http.max-elements=100000",
        "management.endpoints.web.exposure.include=health,info,metrics,prometheus",
        "management.endpoint.health.show-details=always",
        "spring.main.banner-mode=off"})
class RestApiTest {
  static final Path ROOT = TestModels.freshDir("rest");
  static final Path NET = TestModels.net(ROOT.resolve("net"), 8);
  static final Path MULTI = TestModels.multi(ROOT.resolve("multi"), 9);
  static final Path VERSIONED = ROOT.resolve("versioned");
  static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  static FusedModel net;
  static FusedModel multi;

  @LocalServerPort int port;

  @DynamicPropertySource
  static void models(DynamicPropertyRegistry r) {
    TestModels.netVersion(VERSIONED, 1, 21);
    r.add("fusedtf.models.net.path", NET::toString);
    r.add("fusedtf.models.net.warmup-runs", () -> "1");
    r.add("fusedtf.models.multi.path", MULTI::toString);
    r.add("fusedtf.models.multi.warmup-runs", () -> "1");
    r.add("fusedtf.models.versioned.reload", VERSIONED::toString);
    r.add("fusedtf.models.versioned.reload-poll", () -> "200ms");
    r.add("fusedtf.models.versioned.warmup-runs", () -> "1");
  }

  @BeforeAll
  static void direct() {
    FusedModelOptions o = FusedModelOptions.builder().warmupRuns(0).build();
    net = FusedModel.load(NET, o);
    multi = FusedModel.load(MULTI, o);
  }

  @AfterAll
  static void close() {
    net.close();
    multi.close();
  }

  HttpResponse<String> send(String method, String path, String body) throws Exception {
    return CLIENT.send(request(method, path, body), HttpResponse.BodyHandlers.ofString());
  }

  HttpRequest request(String method, String path, String body) {
    HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json");
    return (body == null ? r.method(method, HttpRequest.BodyPublishers.noBody())
        : r.method(method, HttpRequest.BodyPublishers.ofString(body))).build();
  }

  static JsonObject json(HttpResponse<String> r) {
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), r.toString());
    return JsonParser.parseString(r.body()).getAsJsonObject();
  }

  static float[] direct(FusedModel m, float[] rows, int n) {
    try (Prediction p = m.predictInputs(Map.of("x", Input.of(rows, n, 4, 4, 2)))) {
      return p.floats("y");
    }
  }

  static void assertRows(float[] expected, JsonArray rows, int width) {
    assertEquals(expected.length / width, rows.size());
    for (int i = 0; i < rows.size(); i++) {
      JsonArray row = rows.get(i).getAsJsonArray();
      assertEquals(width, row.size());
      for (int j = 0; j < width; j++) {
        assertEquals(expected[i * width + j], row.get(j).getAsFloat(), 1e-5, "row " + i + " col " + j);
      }
    }
  }

  // ------------------------------------------------------------------------------------------ predict

  @Test
  void rowFormatPredictionsEqualTheModelCalledDirectly() throws Exception {
    float[] in = TestModels.rows(3, 1);
    HttpResponse<String> r = send("POST", "/v1/models/net:predict",
        "{\"instances\": " + TestModels.jsonRows(in, 3) + "}");
    assertEquals(200, r.statusCode(), r.body());
    assertRows(direct(net, in, 3), json(r).getAsJsonArray("predictions"), 3);
  }

  @Test
  void columnarFormatWithTwoInputsAndOutputs() throws Exception {
    float[] in = TestModels.rows(2, 2);
    HttpResponse<String> r = send("POST", "/v1/models/multi:predict",
        "{\"signature_name\": \"serving_default\", \"inputs\": {\"x\": " + TestModels.jsonRows(in, 2)
            + ", \"k\": 0.5}}");
    assertEquals(200, r.statusCode(), r.body());
    JsonObject outputs = json(r).getAsJsonObject("outputs");
    try (Prediction p = multi.predictInputs(Map.of("x", Input.of(in, 2, 4, 4, 2), "k", Input.of(new float[] {0.5f}))))
    {
      assertRows(p.floats("y"), outputs.getAsJsonArray("y"), 3);
      assertRows(p.floats("z"), outputs.getAsJsonArray("z"), 3);
    }
    // the single-input columnar form, unnamed
    float[] one = TestModels.rows(1, 3);
    HttpResponse<String> r2 = send("POST", "/v1/models/net:predict", "{\"inputs\": " + TestModels.jsonRows(one, 1)
        + "}");
    assertEquals(200, r2.statusCode(), r2.body());
    assertRows(direct(net, one, 1), json(r2).getAsJsonArray("outputs"), 3);
  }

  @Test
  void rowFormatWithNamedInputs() throws Exception {
    float[] in = TestModels.rows(2, 4);
    String rows = TestModels.jsonRows(in, 2);
    JsonArray parsed = JsonParser.parseString(rows).getAsJsonArray();
    HttpResponse<String> r = send("POST", "/v1/models/net:predict",
        "{\"instances\": [{\"x\": " + parsed.get(0) + "}, {\"x\": " + parsed.get(1) + "}]}");
    assertEquals(200, r.statusCode(), r.body());
    assertRows(direct(net, in, 2), json(r).getAsJsonArray("predictions"), 3);
    // a scalar input cannot be stacked per instance: its shape is wrong, and the message names it
    HttpResponse<String> bad = send("POST", "/v1/models/multi:predict",
        "{\"instances\": [{\"x\": " + parsed.get(0) + ", \"k\": 0.5}]}");
    assertEquals(400, bad.statusCode(), bad.body());
    assertTrue(json(bad).get("error").getAsString().contains("'k'"), bad.body());
  }

  @Test
  void nonFiniteValuesTravelAsStrings() throws Exception {
    float[] in = TestModels.rows(2, 10);
    // z = y * k with k = -Infinity: -Infinity where y > 0, NaN where relu made y 0 (0 * inf)
    HttpResponse<String> r = send("POST", "/v1/models/multi:predict",
        "{\"inputs\": {\"x\": " + TestModels.jsonRows(in, 2) + ", \"k\": \"-Infinity\"}}");
    assertEquals(200, r.statusCode(), r.body());
    JsonObject outputs = json(r).getAsJsonObject("outputs");
    float[] y = direct(multi, in, 2, 1f);
    assertRows(y, outputs.getAsJsonArray("y"), 3);
    JsonArray z = outputs.getAsJsonArray("z");
    for (int i = 0; i < y.length; i++) {
      String expected = y[i] > 0 ? "-Infinity" : "NaN";
      assertEquals(expected, z.get(i / 3).getAsJsonArray().get(i % 3).getAsString(), r.body());
    }
    // and "NaN" reads back as NaN
    HttpResponse<String> r2 = send("POST", "/v1/models/multi:predict",
        "{\"inputs\": {\"x\": " + TestModels.jsonRows(in, 2) + ", \"k\": \"NaN\"}}");
    assertEquals(200, r2.statusCode(), r2.body());
    for (JsonElement row : json(r2).getAsJsonObject("outputs").getAsJsonArray("z")) {
      for (JsonElement e : row.getAsJsonArray()) {
        assertEquals("NaN", e.getAsString(), r2.body());
      }
    }
  }

  static float[] direct(FusedModel m, float[] rows, int n, float k) {
    try (Prediction p = m.predictInputs(Map.of("x", Input.of(rows, n, 4, 4, 2), "k", Input.of(new float[] {k})))) {
      return p.floats("y");
    }
  }

  @Test
  void clientErrorsAre400AndNameTheInput() throws Exception {
    String good = TestModels.jsonRows(TestModels.rows(1, 5), 1);
    assertError(400, "malformed JSON", send("POST", "/v1/models/net:predict", "{\"instances\": [1, 2"));
    assertError(400, "malformed JSON", send("POST", "/v1/models/net:predict", "not json"));
    assertError(400, "'x'", send("POST", "/v1/models/net:predict", "{\"instances\": [[[[1, 2], [3]]]]}"));
    assertError(400, "ragged", send("POST", "/v1/models/net:predict", "{\"instances\": [[1, 2], [3]]}"));
    // wrong shape: 3 channels where the signature fixes 2
    assertError(400, "'x'", send("POST", "/v1/models/net:predict", "{\"instances\": [" + zeros(4, 4, 3) + "]}"));
    assertError(400, "'x'", send("POST", "/v1/models/net:predict", "{\"instances\": [[1.0, 2.0]]}"));
    // wrong dtype: strings in a float input
    assertError(400, "'x'", send("POST", "/v1/models/net:predict",
        "{\"instances\": " + good.replaceFirst("-?[0-9.]+(E-?[0-9]+)?", "\"abc\"") + "}"));
    assertError(400, "'nope'", send("POST", "/v1/models/net:predict", "{\"inputs\": {\"nope\": " + good + "}}"));
    assertError(400, "[k]", send("POST", "/v1/models/multi:predict", "{\"inputs\": {\"x\": " + good + "}}")); // missing
    assertError(400, "'missing_sig'", send("POST", "/v1/models/net:predict",
        "{\"signature_name\": \"missing_sig\", \"instances\": " + good + "}"));
    assertError(400, "null", send("POST", "/v1/models/net:predict", "{\"instances\": [null]}"));
    assertError(400, "\"instances\"", send("POST", "/v1/models/net:predict", "{\"instances\": []}"));
    assertError(400, "unknown field", send("POST", "/v1/models/net:predict", "{\"instancez\": []}"));
    assertError(400, "not both", send("POST", "/v1/models/net:predict",
        "{\"instances\": " + good + ", \"inputs\": " + good + "}"));
  }

  @Test
  void unknownModelOrVersionIs404() throws Exception {
    String good = "{\"instances\": " + TestModels.jsonRows(TestModels.rows(1, 6), 1) + "}";
    assertError(404, "'nope'", send("POST", "/v1/models/nope:predict", good));
    assertError(404, "'nope'", send("GET", "/v1/models/nope", null));
    assertError(404, "'nope'", send("GET", "/v1/models/nope/metadata", null));
    assertError(404, "not versioned", send("POST", "/v1/models/net/versions/1:predict", good));
    assertError(404, "version 99", send("POST", "/v1/models/versioned/versions/99:predict", good));
    assertError(404, "no version 99", send("GET", "/v1/models/versioned/versions/99", null));
  }

  @Test
  void oversizeBodiesAndTooManyValuesAre413() throws Exception {
    StringBuilder big = new StringBuilder("{\"instances\": [[");
    while (big.length() < 1_500_000) {
      big.append("0.123456789,");
    }
    big.append("0]]}");
    assertError(413, "max-body-bytes", send("POST", "/v1/models/net:predict", big.toString()));
    // chunked, so no Content-Length to refuse early: refused once the limit is read
    byte[] bytes = big.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    HttpResponse<String> chunked = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
        + "/v1/models/net:predict")).timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofInputStream(
            () -> new java.io.ByteArrayInputStream(bytes))).build(), HttpResponse.BodyHandlers.ofString());
    assertError(413, "over the limit of 1048576 bytes", chunked);
    StringBuilder many = new StringBuilder("{\"instances\": [[");
    for (int i = 0; i < 150_000; i++) {
      many.append(i > 0 ? "," : "").append('0');
    }
    many.append("]]}");
    assertError(413, "max-elements", send("POST", "/v1/models/net:predict", many.toString()));
    // the server still answers afterwards
    assertEquals(200, send("GET", "/v1/models/net", null).statusCode());
  }

  @Test
  void thirtyTwoConcurrentRequestsAreAllCorrect() throws Exception {
    int n = 32;
    List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
    List<float[]> inputs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int rows = 1 + i % 4;
      float[] in = TestModels.rows(rows, 100 + i);
      inputs.add(in);
      futures.add(CLIENT.sendAsync(request("POST", "/v1/models/net:predict",
          "{\"instances\": " + TestModels.jsonRows(in, rows) + "}"), HttpResponse.BodyHandlers.ofString()));
    }
    for (int i = 0; i < n; i++) {
      HttpResponse<String> r = futures.get(i).get();
      assertEquals(200, r.statusCode(), r.body());
      assertRows(direct(net, inputs.get(i), 1 + i % 4), json(r).getAsJsonArray("predictions"), 3);
    }
  }

  // ------------------------------------------------------------------------------------------ status, metadata

  @Test
  void statusAndMetadata() throws Exception {
    JsonObject s = json(send("GET", "/v1/models/net", null));
    JsonObject v = s.getAsJsonArray("model_version_status").get(0).getAsJsonObject();
    assertEquals("AVAILABLE", v.get("state").getAsString());
    assertEquals("fused", v.get("served").getAsString());

    JsonObject m = json(send("GET", "/v1/models/multi/metadata", null));
    JsonObject sig = m.getAsJsonObject("metadata").getAsJsonObject("signature_def").getAsJsonObject("signature_def")
        .getAsJsonObject("serving_default");
    JsonObject x = sig.getAsJsonObject("inputs").getAsJsonObject("x");
    assertEquals("DT_FLOAT", x.get("dtype").getAsString());
    JsonArray dims = x.getAsJsonObject("tensor_shape").getAsJsonArray("dim");
    assertEquals(List.of("-1", "4", "4", "2"), dims.asList().stream()
        .map(d -> d.getAsJsonObject().get("size").getAsString()).toList());
    assertEquals(0, sig.getAsJsonObject("inputs").getAsJsonObject("k").getAsJsonObject("tensor_shape")
        .getAsJsonArray("dim").size());
    assertTrue(sig.getAsJsonObject("outputs").has("z"), m.toString());

    JsonObject vm = json(send("GET", "/v1/models/versioned/metadata", null));
    assertTrue(vm.getAsJsonObject("model_spec").has("version"), vm.toString());
  }

  // ------------------------------------------------------------------------------------------ actuator

  static double count(JsonObject metric) {
    for (JsonElement e : metric.getAsJsonArray("measurements")) {
      if (e.getAsJsonObject().get("statistic").getAsString().equals("COUNT")) {
        return e.getAsJsonObject().get("value").getAsDouble();
      }
    }
    return fail("no COUNT in " + metric);
  }

  double predictCount(String outcome) throws Exception {
    HttpResponse<String> r = send("GET", "/actuator/metrics/fusedtf.predict?tag=model:net&tag=outcome:" + outcome,
        null);
    return r.statusCode() == 404 ? 0 : count(JsonParser.parseString(r.body()).getAsJsonObject());
  }

  @Test
  void everyRequestIsCountedOnceInTheApplicationsRegistry() throws Exception {
    double success = predictCount("success");
    double invalid = predictCount("invalid_input");
    String good = "{\"instances\": " + TestModels.jsonRows(TestModels.rows(1, 7), 1) + "}";
    for (int i = 0; i < 3; i++) {
      assertEquals(200, send("POST", "/v1/models/net:predict", good).statusCode());
    }
    assertEquals(400, send("POST", "/v1/models/net:predict", "{\"instances\": [1,").statusCode()); // refused here
    assertEquals(400, send("POST", "/v1/models/net:predict", "{\"instances\": [[1.0]]}").statusCode()); // by the model
    assertEquals(success + 3, predictCount("success"));
    assertEquals(invalid + 2, predictCount("invalid_input"));

    String prom = send("GET", "/actuator/prometheus", null).body();
    Matcher m = Pattern.compile("fusedtf_predict_seconds_count\\{([^}]*)\\} ([0-9.E]+)").matcher(prom);
    boolean found = false;
    while (m.find()) {
      if (m.group(1).contains("model=\"net\"") && m.group(1).contains("outcome=\"success\"")
          && m.group(1).contains("signature=\"serving_default\"")) {
        found = true;
        assertEquals(success + 3, Double.parseDouble(m.group(2)));
      }
    }
    assertTrue(found, "no fusedtf_predict_seconds_count for net in:\n" + prom);
    assertTrue(prom.contains("fusedtf_folds{model=\"net\"}"), prom);
  }

  @Test
  void healthShowsEachModel() throws Exception {
    HttpResponse<String> r = send("GET", "/actuator/health", null);
    assertEquals(200, r.statusCode(), r.body());
    JsonObject health = JsonParser.parseString(r.body()).getAsJsonObject();
    assertEquals("UP", health.get("status").getAsString(), r.body());
    JsonObject models = health.getAsJsonObject("components").getAsJsonObject("fusedtf").getAsJsonObject("components");
    JsonObject netHealth = models.getAsJsonObject("net");
    assertEquals("UP", netHealth.get("status").getAsString());
    JsonObject d = netHealth.getAsJsonObject("details");
    assertEquals("fused", d.get("served").getAsString());
    assertTrue(d.get("checkPassed").getAsBoolean());
    assertEquals(1, d.get("folds").getAsInt());
    assertTrue(d.get("maxAbsDiff").getAsDouble() < 1e-4, d.toString());
    assertTrue(models.getAsJsonObject("versioned").getAsJsonObject("details").has("version"), models.toString());
  }

  @Test
  void infoHasTheFoldReports() throws Exception {
    JsonObject info = JsonParser.parseString(send("GET", "/actuator/info", null).body()).getAsJsonObject();
    JsonObject report = info.getAsJsonObject("fusedtf").getAsJsonObject("models").getAsJsonObject("net")
        .getAsJsonObject("report");
    assertEquals(1, report.getAsJsonArray("folds").size(), report.toString());
    assertTrue(report.getAsJsonArray("folds").get(0).getAsJsonObject().get("bn").getAsString().contains("bn"),
        report.toString());
    assertTrue(report.getAsJsonObject("check").get("passed").getAsBoolean());
    assertEquals("fused", report.get("served").getAsString());
  }

  @Test
  void theApplicationsOwnEndpointBorrowsFromTheRegistry() throws Exception {
    float[] in = TestModels.rows(2, 8);
    StringBuilder body = new StringBuilder("[");
    for (int i = 0; i < in.length; i++) {
      body.append(i > 0 ? "," : "").append(in[i]);
    }
    HttpResponse<String> r = send("POST", "/score", body.append("]").toString());
    assertEquals(200, r.statusCode(), r.body());
    JsonArray out = JsonParser.parseString(r.body()).getAsJsonArray();
    float[] expected = direct(net, in, 2);
    assertEquals(expected.length, out.size());
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], out.get(i).getAsFloat(), 1e-5);
    }
    assertEquals(400, send("POST", "/score", "[1.0, 2.0]").statusCode());
  }

  // ------------------------------------------------------------------------------------------ hot reload

  @Test
  void aReloadModelMovesToVersionTwo() throws Exception {
    float[] in = TestModels.rows(2, 9);
    String body = "{\"instances\": " + TestModels.jsonRows(in, 2) + "}";
    JsonObject before = json(send("GET", "/v1/models/versioned", null));
    assertEquals("1", before.getAsJsonArray("model_version_status").get(0).getAsJsonObject().get("version")
        .getAsString());
    assertEquals(200, send("POST", "/v1/models/versioned/versions/1:predict", body).statusCode());

    Path v2 = TestModels.netVersion(VERSIONED, 2, 22);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    String version = "1";
    while (!version.equals("2") && System.nanoTime() < deadline) {
      Thread.sleep(100);
      version = json(send("GET", "/v1/models/versioned", null)).getAsJsonArray("model_version_status").get(0)
          .getAsJsonObject().get("version").getAsString();
    }
    assertEquals("2", version, "version 2 not served within 60 s");

    HttpResponse<String> r = send("POST", "/v1/models/versioned/versions/2:predict", body);
    assertEquals(200, r.statusCode(), r.body());
    try (FusedModel m2 = FusedModel.load(v2, FusedModelOptions.builder().warmupRuns(0).build())) {
      assertRows(direct(m2, in, 2), json(r).getAsJsonArray("predictions"), 3);
    }
    assertError(404, "serves version 2", send("POST", "/v1/models/versioned/versions/1:predict", body));
    JsonObject health = JsonParser.parseString(send("GET", "/actuator/health", null).body()).getAsJsonObject();
    assertEquals(2, health.getAsJsonObject("components").getAsJsonObject("fusedtf").getAsJsonObject("components")
        .getAsJsonObject("versioned").getAsJsonObject("details").get("version").getAsInt());
    assertFalse(json(send("GET", "/v1/models/versioned", null)).toString().contains("\"END\""));
  }

  /** Nested JSON arrays of zeros of this shape. */
  static String zeros(int... shape) {
    if (shape.length == 0) {
      return "0";
    }
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < shape[0]; i++) {
      sb.append(i > 0 ? "," : "").append(zeros(java.util.Arrays.copyOfRange(shape, 1, shape.length)));
    }
    return sb.append("]").toString();
  }

  static void assertError(int status, String fragment, HttpResponse<String> r) {
    assertEquals(status, r.statusCode(), r.body());
    JsonObject o = json(r);
    assertTrue(o.has("error"), r.body());
    assertTrue(o.get("error").getAsString().contains(fragment), "expected '" + fragment + "' in " + r.body());
  }
}
