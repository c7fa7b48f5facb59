package dev.fusedtf;

import static dev.fusedtf.testing.ModelAssertions.assertSameOutputs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.testsupport.DemoModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoModelsTest {
  @TempDir Path tmp;

  @Test
  void everyDemoFoldsEveryBatchNormAndKeepsItsOutputs() {
    List<DemoModels.Demo> demos = DemoModels.writeAll(tmp);
    assertEquals(List.of("resnet-style", "mobilenetv2-style", "conv-bn-relu"), demos.stream().map(DemoModels.Demo::name).toList());
    int[] expected = {8, 9, 3};
    for (int i = 0; i < demos.size(); i++) {
      try (FusedModel m = FusedModel.load(demos.get(i).dir())) {
        assertEquals(expected[i], m.report().folds().size(), m.report().toText());
        assertTrue(m.isFused());
        assertSameOutputs(demos.get(i).dir(), m, 1e-5, 1e-4, 1, 3);
      }
    }
    // a second call reuses what is on disk
    assertEquals(demos, DemoModels.writeAll(tmp));
  }
}
