package dev.fusedtf.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AbReportTest {
  private static AbReport report(double otherCpu, double diff) {
    AbReport.Machine m = new AbReport.Machine(2, "cpu", true, false, "17", "2.18.0", "Linux", "avx2", false, "unset");
    AbReport.BatchResult b = new AbReport.BatchResult(1, 4, 2, false, 0.1, 2, 3, 2, 1, 1, 1.5, 1, 0.5, 0.5, 70,
        2, 100, 1000, diff, diff, otherCpu, -1, Double.NaN, Double.NaN);
    return new AbReport("/m", "serving_default", List.of("serve"), m, "fused", 3, 0, 10, 7, Map.of("load", 5L), 2,
        1, 20, 42, List.of(b));
  }

  @Test
  void jsonIsStrictAndNonFiniteBecomesNull() {
    JsonObject o = JsonParser.parseString(report(Double.NaN, Double.POSITIVE_INFINITY).toJson()).getAsJsonObject();
    JsonObject b = o.getAsJsonArray("batches").get(0).getAsJsonObject();
    assertTrue(b.get("otherCpuPercent").isJsonNull());
    assertTrue(b.get("maxAbsDiff").isJsonNull());
    assertEquals(0.5, b.get("ratio").getAsDouble());
    assertEquals(3, o.get("folds").getAsInt());
  }

  @Test
  void textHasOneRowPerBatch() {
    String t = report(0, 1e-7).toText();
    assertTrue(t.contains("fused/orig"), t);
    assertTrue(t.lines().anyMatch(l -> l.trim().startsWith("1      4 |")), t);
  }
}
