package dev.fusedtf.spring.sample;

import dev.fusedtf.Input;
import dev.fusedtf.Prediction;
import dev.fusedtf.errors.InvalidInputException;
import dev.fusedtf.spring.FusedModelRegistry;
import dev.fusedtf.spring.ModelLease;
import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

/**
 * The {@code SampleApplication} is a Spring Boot application serving FusedTF models: the starter's REST API
 * ({@code /v1/models/...}, with {@code fusedtf.rest.enabled=true}) and one endpoint of its own that borrows a model
 * from the registry. It listens on 127.0.0.1 only unless told otherwise.
 *
 * <pre>
 * java -cp ... dev.fusedtf.spring.sample.SampleApplication \
 *     --fusedtf.models.net.path=/models/net --fusedtf.rest.enabled=true
 * </pre>
 */
@SpringBootApplication
public class SampleApplication {

  /** Starts the application (127.0.0.1, port 8080 unless {@code server.address} and {@code server.port} say else). */
  public static void main(String[] args) {
    SpringApplication app = new SpringApplication(SampleApplication.class);
    app.setDefaultProperties(Map.of("server.address", "127.0.0.1"));
    app.run(args);
  }

  /** An endpoint of the application's own: the model {@code net}'s output {@code y} for rows of [4, 4, 2] floats. */
  @RestController
  static class ScoreController {
    private final FusedModelRegistry models;

    ScoreController(FusedModelRegistry models) {
      this.models = models;
    }

    @PostMapping("/score")
    float[] score(@RequestBody float[] rows) {
      if (rows.length == 0 || rows.length % 32 != 0) {
        throw new ResponseStatusException(HttpStatus.BAD_REQUEST, "give whole rows of 4 x 4 x 2 = 32 values");
      }
      try (ModelLease lease = models.lease("net");
           Prediction p = lease.model().predictInputs(Map.of("x", Input.of(rows, rows.length / 32, 4, 4, 2)))) {
        return p.floats("y");
      } catch (InvalidInputException e) {
        throw new ResponseStatusException(HttpStatus.BAD_REQUEST, e.getMessage(), e);
      }
    }
  }
}
