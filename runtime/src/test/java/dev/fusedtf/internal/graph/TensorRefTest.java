package dev.fusedtf.internal.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TensorRefTest {
  @Test
  void parsesBothSyntaxes() {
    TensorRef a = TensorRef.parse("conv");
    assertEquals("conv", a.node());
    assertTrue(a.isFirstOutput("output"));
    TensorRef b = TensorRef.parse("bn:2");
    assertEquals("2", b.output());
    assertFalse(b.isFirstOutput("y"));
    TensorRef c = TensorRef.parse("^read");
    assertTrue(c.isControl());
    assertEquals("^read", c.toString());
    TensorRef d = TensorRef.parse("bn:y:0");
    assertEquals("bn", d.node());
    assertEquals("y:0", d.output());
    assertTrue(d.isFirstOutput("y"));
    assertFalse(TensorRef.parse("bn:batch_mean:0").isFirstOutput("y"));
    assertEquals("a/b:output:0", TensorRef.parse("a/b:output:0").toString());
  }
}
