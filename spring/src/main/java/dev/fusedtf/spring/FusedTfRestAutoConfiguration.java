package dev.fusedtf.spring;

import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.web.servlet.DispatcherServlet;

/**
 * The {@code FusedTfRestAutoConfiguration} adds TF Serving's REST API ({@link FusedTfRestController}) to a servlet web
 * application when {@code fusedtf.rest.enabled=true}.
 */
@AutoConfiguration(after = FusedTfAutoConfiguration.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass(DispatcherServlet.class)
@ConditionalOnProperty(prefix = "fusedtf.rest", name = "enabled", havingValue = "true")
public class FusedTfRestAutoConfiguration {

  /** The controller of {@code /v1/models/...}. */
  @Bean
  @ConditionalOnMissingBean
  public FusedTfRestController fusedTfRestController(FusedModelRegistry registry, FusedTfProperties properties,
      ObjectProvider<MeterRegistry> meters) {
    return new FusedTfRestController(registry, properties.getHttp(), meters.getIfAvailable());
  }
}
