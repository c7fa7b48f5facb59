package dev.fusedtf.spring;

import dev.fusedtf.FusedModel;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.actuate.info.InfoContributor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.health.contributor.CompositeHealthContributor;
import org.springframework.boot.health.contributor.HealthContributor;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The {@code FusedTfAutoConfiguration} loads the models of {@code fusedtf.models} into a {@link FusedModelRegistry}
 * at start-up (metrics into the application's {@code MeterRegistry} when there is one), and, with Actuator present,
 * adds a health contributor {@code fusedtf} (one indicator per model) and an info contributor with each model's fold
 * report. The REST API is {@link FusedTfRestAutoConfiguration}'s.
 */
@AutoConfiguration(afterName = {
    "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
    "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
    "org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration"})
@ConditionalOnClass(FusedModel.class)
@EnableConfigurationProperties(FusedTfProperties.class)
public class FusedTfAutoConfiguration {

  /** The models, loaded now; closed (each after its last lease) when the context closes. */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public FusedModelRegistry fusedModelRegistry(FusedTfProperties properties, ObjectProvider<MeterRegistry> meters) {
    return FusedModelRegistry.load(properties, meters.getIfAvailable());
  }

  /** Health of each model under {@code fusedtf}. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(HealthContributor.class)
  static class HealthConfiguration {
    @Bean
    @ConditionalOnMissingBean(name = "fusedtfHealthContributor")
    CompositeHealthContributor fusedtfHealthContributor(FusedModelRegistry registry) {
      return FusedTfHealth.contributor(registry);
    }
  }

  /** Fold reports under {@code fusedtf} in {@code /actuator/info}. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(InfoContributor.class)
  static class InfoConfiguration {
    @Bean
    @ConditionalOnMissingBean(FusedTfInfoContributor.class)
    FusedTfInfoContributor fusedtfInfoContributor(FusedModelRegistry registry) {
      return new FusedTfInfoContributor(registry);
    }
  }
}
