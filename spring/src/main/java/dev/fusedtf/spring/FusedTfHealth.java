package dev.fusedtf.spring;

import dev.fusedtf.report.CheckResult;
import dev.fusedtf.report.FoldReport;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.health.contributor.CompositeHealthContributor;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;

/**
 * The {@code FusedTfHealth} is the health of the models: one indicator per model, grouped under {@code fusedtf}.
 * A model is {@code UP} when it serves what it was asked to (its check passed, or it serves the rewritten model
 * unverified because the options allow it), {@value #DEGRADED} when it serves the original as a fallback because the
 * rewritten model failed its check (it still answers correctly, just without the speed-up; HTTP 200), and
 * {@code DOWN} once shut down. Details: {@code served}, {@code checkPassed}, {@code maxAbsDiff}, {@code folds},
 * {@code source}, and for reload models {@code version} and {@code rejectedVersions}.
 */
public final class FusedTfHealth {
  /** The status of a model that serves the original because the rewritten one failed its check. */
  public static final String DEGRADED = "DEGRADED";

  private FusedTfHealth() {}

  /** One indicator per model of {@code registry}. */
  public static CompositeHealthContributor contributor(FusedModelRegistry registry) {
    Map<String, HealthIndicator> m = new LinkedHashMap<>();
    for (String name : registry.names()) {
      m.put(name, () -> health(registry.status(name)));
    }
    return CompositeHealthContributor.fromMap(m);
  }

  /** The health of one model's snapshot. */
  public static Health health(ModelStatus s) {
    Health.Builder b;
    if (!s.open()) {
      b = Health.down().withDetail("reason", "shut down");
    } else if (s.servingAsIntended()) {
      b = Health.up();
    } else {
      b = Health.status(new Status(DEGRADED, "serving the original: the rewritten model failed its check"));
    }
    b.withDetail("source", s.source().toString());
    if (s.reloading()) {
      if (s.version() != null) {
        b.withDetail("version", s.version());
      }
      if (!s.rejected().isEmpty()) {
        Map<String, String> rejected = new LinkedHashMap<>();
        s.rejected().forEach((v, why) -> rejected.put(Long.toString(v), why));
        b.withDetail("rejectedVersions", rejected);
      }
    }
    FoldReport r = s.report();
    if (r != null) {
      b.withDetail("served", r.served().label());
      CheckResult c = r.check();
      b.withDetail("checkPassed", c != null && c.passed());
      if (c != null && Double.isFinite(c.maxAbsDiff())) {
        b.withDetail("maxAbsDiff", c.maxAbsDiff());
      }
      b.withDetail("folds", r.folds().size());
      if (r.fallbackReason() != null) {
        b.withDetail("fallbackReason", r.fallbackReason());
      }
    }
    return b.build();
  }
}
