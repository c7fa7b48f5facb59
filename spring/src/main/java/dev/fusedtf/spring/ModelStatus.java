package dev.fusedtf.spring;

import dev.fusedtf.report.CheckResult;
import dev.fusedtf.report.FoldReport;
import dev.fusedtf.report.Served;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code ModelStatus} is a snapshot of one model of the {@link FusedModelRegistry}: where it comes from, which
 * version and graph it serves, what its check found. Health, info and the REST status read it.
 *
 * @param name the name in {@code fusedtf.models}
 * @param source the SavedModel folder ({@code path}) or the base folder of versions ({@code reload})
 * @param reloading whether it is a {@code reload} model (numbered versions, hot reload)
 * @param version the version served, or null for a {@code path} model
 * @param rejected versions not served and why (reload models; empty otherwise)
 * @param report what loading the served model did; null once the model is shut down
 * @param open whether the model still takes requests
 */
public record ModelStatus(String name, Path source, boolean reloading, Long version, Map<Long, String> rejected,
    FoldReport report, boolean open) {

  /** Copies the map, oldest version first. */
  public ModelStatus {
    rejected = Collections.unmodifiableMap(new TreeMap<>(rejected));
  }

  /** Which graph is served, or null once shut down. */
  public Served served() {
    return report == null ? null : report.served();
  }

  /** Whether the rewritten model passed its check against the original (false when shut down or not checked). */
  public boolean checkPassed() {
    CheckResult c = report == null ? null : report.check();
    return c != null && c.passed();
  }

  /**
   * Whether the model serves what it was asked to: its check passed (the fused model, or the original left unchanged
   * because nothing folded), or the rewritten model is served unverified because the options allow it. False when
   * the original is served as a fallback because the rewritten model failed its check, and when shut down.
   */
  public boolean servingAsIntended() {
    return open && report != null && (checkPassed() || report.served() == Served.FUSED_UNVERIFIED);
  }
}
