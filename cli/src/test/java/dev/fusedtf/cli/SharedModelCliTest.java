package dev.fusedtf.cli;

import static dev.fusedtf.cli.FusedTfCliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.fusedtf.cli.FusedTfCliTest.Run;
import dev.fusedtf.testsupport.SharedModels;
import org.junit.jupiter.api.Test;

/**
 * The commands on a real Keras SavedModel ({@code shared/models/tf2-keras-kws-dscnn-bias-bn}: depthwise-separable
 * convs with bias and BatchNorm, 9 of them). Skipped when the shared models are absent, failed under {@code CI=true}.
 */
class SharedModelCliTest {
  private static final String MODEL = "tf2-keras-kws-dscnn-bias-bn";

  /** The model folder; each test that needs it skips (or fails under CI) on its own, so skips are counted. */
  private static String dir() {
    return SharedModels.model(MODEL).toString();
  }

  /** The whole of stdout must be one JSON object (Gson rejects trailing text). */
  private static JsonObject json(Run r) {
    return JsonParser.parseString(r.out()).getAsJsonObject();
  }

  private static void assertFoldedAll(JsonObject report) {
    assertEquals(9, report.getAsJsonArray("folds").size(), report.toString());
    assertEquals(0, report.getAsJsonArray("skipped").size(), report.toString());
    assertTrue(report.get("nodesBefore").getAsInt() > report.get("nodesAfter").getAsInt(), report.toString());
  }

  @Test
  void verifyJson() {
    Run r = run("verify", dir(), "--json");
    assertEquals(0, r.exit(), r.err());
    JsonObject report = json(r);
    assertFoldedAll(report);
    JsonObject check = report.getAsJsonObject("check");
    assertTrue(check.get("passed").getAsBoolean(), check.toString());
    assertTrue(check.has("maxAbsDiff") && check.has("maxRelDiff"), check.toString());
    assertEquals("fused", report.get("served").getAsString());
  }

  @Test
  void inspectJson() {
    Run r = run("inspect", dir(), "--json");
    assertEquals(0, r.exit(), r.err());
    JsonObject report = json(r);
    assertFoldedAll(report);
    assertTrue(report.get("check").isJsonNull(), "inspect runs no check: " + report.get("check"));
  }

  @Test
  void verifyText() {
    Run r = run("verify", dir(), "--batches", "1");
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("served: fused"), r.out());
    assertTrue(r.out().contains("check: PASSED"), r.out());
  }
}
