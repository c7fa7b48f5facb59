package dev.fusedtf.spring;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.ToNumberPolicy;
import com.google.gson.reflect.TypeToken;
import java.lang.reflect.Type;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.actuate.info.Info;
import org.springframework.boot.actuate.info.InfoContributor;

/**
 * The {@code FusedTfInfoContributor} adds {@code fusedtf.models.<name>} to {@code /actuator/info}: the model's
 * source, version (reload models) and its fold report as {@code FoldReport.toJson()} writes it ({@code folds},
 * {@code skipped}, {@code check}, {@code served}, ...).
 */
public final class FusedTfInfoContributor implements InfoContributor {
  private static final Gson GSON =
      new GsonBuilder().setObjectToNumberStrategy(ToNumberPolicy.LONG_OR_DOUBLE).create();
  private static final Type MAP = new TypeToken<LinkedHashMap<String, Object>>() {}.getType();
  private final FusedModelRegistry registry;

  /** Reports the models of {@code registry}. */
  public FusedTfInfoContributor(FusedModelRegistry registry) {
    this.registry = registry;
  }

  @Override
  public void contribute(Info.Builder builder) {
    Map<String, Object> models = new LinkedHashMap<>();
    registry.statuses().forEach((name, s) -> {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("source", s.source().toString());
      if (s.version() != null) {
        m.put("version", s.version());
      }
      m.put("open", s.open());
      if (s.report() != null) {
        m.put("report", GSON.fromJson(s.report().toJson(), MAP));
      }
      models.put(name, m);
    });
    builder.withDetail("fusedtf", Map.of("models", models));
  }
}
