package dev.fusedtf.spring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.FusedModel;
import dev.fusedtf.FusedModelOptions;
import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.metrics.FusedTfMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.info.Info;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.health.contributor.CompositeHealthContributor;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The auto-configuration in plain application contexts: binding, start-up failures, shutdown with leases held. */
class FusedTfAutoConfigurationTest {
  static final Path ROOT = TestModels.freshDir("context");
  static final Path NET = TestModels.net(ROOT.resolve("net"), 3);
  static final Path MULTI = TestModels.multi(ROOT.resolve("multi"), 4);

  final ApplicationContextRunner runner = new ApplicationContextRunner()
      .withConfiguration(AutoConfigurations.of(FusedTfAutoConfiguration.class, FusedTfRestAutoConfiguration.class));

  @Configuration(proxyBeanMethods = false)
  @EnableConfigurationProperties(FusedTfProperties.class)
  static class PropertiesOnly {}

  @Configuration(proxyBeanMethods = false)
  static class Meters {
    @Bean
    MeterRegistry meterRegistry() {
      return new SimpleMeterRegistry();
    }
  }

  static Throwable rootOf(Throwable t) {
    Throwable r = t;
    while (r.getCause() != null && r.getCause() != r) {
      r = r.getCause();
    }
    return r;
  }

  static String messages(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      sb.append(c.getMessage()).append('\n');
    }
    return sb.toString();
  }

  @Test
  void propertiesBindToOptions() {
    new ApplicationContextRunner().withUserConfiguration(PropertiesOnly.class).withPropertyValues(
        "fusedtf.models.kws.path=/models/kws",
        "fusedtf.models.kws.tags=serve,gpu",
        "fusedtf.models.kws.strict=true",
        "fusedtf.models.kws.warmup-runs=2",
        "fusedtf.models.kws.tolerance.abs=0.001",
        "fusedtf.models.kws.tolerance.rel=0.01",
        "fusedtf.models.kws.pins[is_training]=false",
        "fusedtf.models.kws.pins[keep_prob]=1.0",
        "fusedtf.models.kws.max-batch=64",
        "fusedtf.models.kws.serve-unverified=true",
        "fusedtf.models.resnet.reload=/models/resnet",
        "fusedtf.models.resnet.reload-poll=5s",
        "fusedtf.models.resnet.tolerance.rel=0.5",
        "fusedtf.models.resnet.fuse-in-background=true",
        "fusedtf.http.max-body-bytes=2MB",
        "fusedtf.rest.enabled=true").run(ctx -> {
          FusedTfProperties p = ctx.getBean(FusedTfProperties.class);
          assertEquals(java.util.List.of("kws", "resnet"), java.util.List.copyOf(p.getModels().keySet()));
          FusedTfProperties.Model kws = p.getModels().get("kws");
          assertEquals(Path.of("/models/kws"), kws.getPath());
          MeterRegistry registry = new SimpleMeterRegistry();
          FusedModelOptions o = kws.toOptions("kws", registry);
          assertArrayEquals(new String[] {"serve", "gpu"}, o.tags());
          assertTrue(o.strict());
          assertTrue(o.serveUnverified());
          assertEquals(2, o.warmupRuns());
          assertEquals(0.001, o.absTolerance());
          assertEquals(0.01, o.relTolerance());
          assertEquals(Map.of("is_training", "false", "keep_prob", "1.0"), o.pins());
          assertEquals(64, o.maxBatch());
          assertEquals("kws", o.modelName());
          assertSame(registry, o.meterRegistry());

          FusedTfProperties.Model resnet = p.getModels().get("resnet");
          assertEquals(Path.of("/models/resnet"), resnet.getReload());
          assertEquals(java.time.Duration.ofSeconds(5), resnet.getReloadPoll());
          FusedModelOptions r = resnet.toOptions("resnet", null);
          FusedModelOptions d = FusedModelOptions.defaults();
          assertEquals(d.absTolerance(), r.absTolerance()); // unset: FusedTF's default
          assertEquals(0.5, r.relTolerance());
          assertTrue(r.fuseInBackground());
          assertFalse(o.fuseInBackground());
          assertEquals(d.warmupRuns(), r.warmupRuns());
          assertFalse(r.strict());
          assertNull(r.meterRegistry());
          assertEquals(2L << 20, p.getHttp().getMaxBodyBytes().toBytes());
          assertTrue(p.getRest().isEnabled());
        });
  }

  @Test
  void modelsLoadWithTheirOptionsAndMetersGoToTheApplicationsRegistry() {
    runner.withUserConfiguration(Meters.class).withPropertyValues(
        "fusedtf.models.net.path=" + NET,
        "fusedtf.models.net.warmup-runs=0",
        "fusedtf.models.pinned.path=" + MULTI,
        "fusedtf.models.pinned.warmup-runs=0",
        "fusedtf.models.pinned.pins[k]=0.5").run(ctx -> {
          assertNull(ctx.getStartupFailure());
          FusedModelRegistry registry = ctx.getBean(FusedModelRegistry.class);
          assertEquals(java.util.Set.of("net", "pinned"), registry.names());
          try (ModelLease lease = registry.lease("pinned")) {
            // the pin made k a constant: it is no longer an input
            assertEquals(java.util.Set.of("x"), lease.model().defaultSignature().inputNames());
            assertEquals(1, lease.model().report().pins().size());
            assertTrue(lease.version().isEmpty());
          }
          MeterRegistry meters = ctx.getBean(MeterRegistry.class);
          try (ModelLease lease = registry.lease("net");
               Prediction p = lease.model().predictInputs(Map.of("x", Input.of(TestModels.rows(1, 1), 1, 4, 4, 2)))) {
            assertEquals(3, p.floats("y").length);
          }
          assertEquals(1, meters.get(FusedTfMetrics.PREDICT).tags("model", "net", "outcome", "success").timer()
              .count());
          assertEquals(1.0, meters.get(FusedTfMetrics.FOLDS).tags("model", "net").gauge().value());
          assertNotNull(meters.find(FusedTfMetrics.LOAD).tags("model", "pinned").timer());
          // no web application: no REST controller even when enabled
          assertTrue(ctx.getBeansOfType(FusedTfRestController.class).isEmpty());
          assertThrows(UnknownModelException.class, () -> registry.lease("nope"));
        });
  }

  @Test
  void aMissingPathFailsStartUpNamingTheModel() {
    runner.withPropertyValues("fusedtf.models.ghost.path=" + ROOT.resolve("no-such-model")).run(ctx -> {
      Throwable failure = ctx.getStartupFailure();
      assertNotNull(failure);
      assertTrue(rootOf(failure) instanceof ModelStartupException, messages(failure));
      assertTrue(rootOf(failure).getMessage().contains("fusedtf.models.ghost.path"), messages(failure));
      assertTrue(rootOf(failure).getMessage().contains("does not exist"), messages(failure));
      org.springframework.boot.diagnostics.FailureAnalysis analysis = new ModelStartupFailureAnalyzer().analyze(failure);
      assertNotNull(analysis);
      assertTrue(analysis.getDescription().contains("fusedtf.models.ghost.path"), analysis.getDescription());
      assertTrue(analysis.getAction().contains("set exactly one"), analysis.getAction());
    });
  }

  @Test
  void aModelThatDoesNotLoadFailsStartUpWithItsNameAndCause() throws Exception {
    Path broken = Files.createDirectories(ROOT.resolve("broken"));
    Files.writeString(broken.resolve("saved_model.pb"), "not a protobuf");
    runner.withPropertyValues("fusedtf.models.net.path=" + NET, "fusedtf.models.net.warmup-runs=0",
        "fusedtf.models.broken.path=" + broken).run(ctx -> {
          Throwable root = rootOf(ctx.getStartupFailure());
          String all = messages(ctx.getStartupFailure());
          assertTrue(all.contains("fusedtf.models.broken: cannot load " + broken), all);
          assertTrue(root != null && root.getMessage() != null, all);
        });
  }

  @Test
  void bothPathAndReloadOrNeitherIsAnError() {
    runner.withPropertyValues("fusedtf.models.twice.path=" + NET, "fusedtf.models.twice.reload=" + ROOT).run(ctx -> {
      String all = messages(ctx.getStartupFailure());
      assertTrue(all.contains("fusedtf.models.twice: set exactly one of 'path'"), all);
      assertTrue(all.contains("both are set"), all);
    });
    runner.withPropertyValues("fusedtf.models.none.strict=true").run(ctx -> {
      String all = messages(ctx.getStartupFailure());
      assertTrue(all.contains("fusedtf.models.none: set exactly one of 'path'"), all);
      assertTrue(all.contains("neither is set"), all);
    });
  }

  @Test
  void closingTheContextClosesTheModelsAfterTheirLastLease() {
    Path base = ROOT.resolve("versions-close");
    TestModels.netVersion(base, 1, 5);
    ConfigurableApplicationContext[] context = new ConfigurableApplicationContext[1];
    runner.withPropertyValues("fusedtf.models.net.path=" + NET, "fusedtf.models.net.warmup-runs=0",
        "fusedtf.models.versioned.reload=" + base, "fusedtf.models.versioned.warmup-runs=0").run(ctx -> {
          context[0] = ctx;
          FusedModelRegistry registry = ctx.getBean(FusedModelRegistry.class);
          ModelLease held = registry.lease("net");
          ModelLease heldVersion = registry.lease("versioned");
          assertEquals(1, heldVersion.version().getAsLong());
          FusedModel net = held.model();
          FusedModel versioned = heldVersion.model();
          FusedModel idle;
          try (ModelLease l = registry.lease("net")) {
            idle = l.model();
          }
          assertSame(net, idle);

          ctx.close();
          assertTrue(registry.isClosed());
          assertThrows(IllegalStateException.class, () -> registry.lease("net"));
          assertThrows(IllegalStateException.class, () -> registry.lease("versioned"));
          // a request in flight still runs on its model
          assertFalse(net.isClosed());
          assertFalse(versioned.isClosed());
          try (Prediction p = net.predictInputs(Map.of("x", Input.of(TestModels.rows(1, 2), 1, 4, 4, 2)))) {
            assertEquals(3, p.floats("y").length);
          }
          assertFalse(registry.status("net").open()); // shutting down: health says DOWN
          held.close();
          assertTrue(net.isClosed());
          assertFalse(versioned.isClosed());
          heldVersion.close();
          assertTrue(versioned.isClosed());
          held.close(); // twice is harmless
        });
    assertFalse(context[0].isActive());
  }

  @Test
  void healthAndInfoDescribeEachModel() {
    runner.withPropertyValues("fusedtf.models.net.path=" + NET, "fusedtf.models.net.warmup-runs=0").run(ctx -> {
      CompositeHealthContributor health = ctx.getBean("fusedtfHealthContributor", CompositeHealthContributor.class);
      Health h = ((HealthIndicator) health.getContributor("net")).health();
      assertEquals(Status.UP, h.getStatus());
      assertEquals("fused", h.getDetails().get("served"));
      assertEquals(true, h.getDetails().get("checkPassed"));
      assertEquals(1, h.getDetails().get("folds"));
      assertFalse(h.getDetails().containsKey("version"));

      Info.Builder info = new Info.Builder();
      ctx.getBean(FusedTfInfoContributor.class).contribute(info);
      @SuppressWarnings("unchecked")
      Map<String, Object> models = (Map<String, Object>) ((Map<String, Object>) info.build().get("fusedtf"))
          .get("models");
      @SuppressWarnings("unchecked")
      Map<String, Object> report = (Map<String, Object>) ((Map<String, Object>) models.get("net")).get("report");
      assertEquals("fused", report.get("served"));
      assertEquals(1, ((java.util.List<?>) report.get("folds")).size());

      FusedModelRegistry registry = ctx.getBean(FusedModelRegistry.class);
      registry.close();
      assertEquals(Status.DOWN, ((HealthIndicator) health.getContributor("net")).health().getStatus());
    });
  }

  @Test
  void aFallbackToTheOriginalIsDegradedNotDown() {
    // an impossible tolerance: the fused model is refused and the original served
    runner.withPropertyValues("fusedtf.models.net.path=" + NET, "fusedtf.models.net.warmup-runs=0",
        "fusedtf.models.net.tolerance.abs=0", "fusedtf.models.net.tolerance.rel=0").run(ctx -> {
          ModelStatus s = ctx.getBean(FusedModelRegistry.class).status("net");
          Health h = FusedTfHealth.health(s);
          if (s.checkPassed()) {
            assertEquals(Status.UP, h.getStatus()); // bit-exact on this machine: nothing to degrade
          } else {
            assertEquals(FusedTfHealth.DEGRADED, h.getStatus().getCode(), h.toString());
            assertEquals("original", h.getDetails().get("served"));
            assertNotNull(h.getDetails().get("fallbackReason"));
          }
        });
  }

  @Test
  void restIsOffByDefaultAndOnWhenEnabled() {
    WebApplicationContextRunner web = new WebApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(FusedTfAutoConfiguration.class, FusedTfRestAutoConfiguration.class));
    web.run(ctx -> assertTrue(ctx.getBeansOfType(FusedTfRestController.class).isEmpty()));
    web.withPropertyValues("fusedtf.rest.enabled=true")
        .run(ctx -> assertEquals(1, ctx.getBeansOfType(FusedTfRestController.class).size()));
  }
}
