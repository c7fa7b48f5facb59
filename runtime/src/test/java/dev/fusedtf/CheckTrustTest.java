package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.errors.CheckFailedException;
import dev.fusedtf.internal.check.ProbeInputs;
import dev.fusedtf.report.CheckResult;
import dev.fusedtf.report.FoldDiff;
import dev.fusedtf.report.Served;
import dev.fusedtf.spi.ProbeSupplier;
import dev.fusedtf.testing.BreakFoldedBias;
import dev.fusedtf.testing.ModelAssertions;
import dev.fusedtf.testsupport.NetBuilder;
import dev.fusedtf.testsupport.NetBuilder.Style;
import dev.fusedtf.testsupport.Values;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What makes the report trustworthy: a wrong fold hidden behind a saturated output still fails the check (each fold's
 * own tensor is compared), and a signature that cannot be checked is never served fused without an explicit option.
 */
@Tag("cpu-sensitive")
class CheckTrustTest {
  @TempDir Path tmp;

  /** conv -> BN -> relu -> pool -> dense -> + [1000, 0, 0]: the softmax is one-hot whatever the input. */
  private Path saturated(Style style) {
    NetBuilder b = new NetBuilder(style, 17);
    String x = b.input("x", -1, 6, 6, 3);
    String h = b.relu(b.batchNorm(b.conv2d(x, "conv", 3, 3, 3, 4, 1, "SAME", true, false), "bn", 4), "relu");
    String logits = b.dense(b.mean(h, "pool", 1, 2), "dense", 4, 3, true, false);
    String shifted = b.add(logits, b.constant("dominant", Values.floats(new double[] {1000, 0, 0}, 3)), "shift");
    b.output("probs", b.softmax(shifted, "softmax"));
    return b.write(tmp.resolve("saturated-" + style));
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void aWrongFoldBehindASaturatedSoftmaxFailsOnItsOwnTensor(Style style) {
    Path dir = saturated(style);
    FusedModelOptions broken = TestOptions.withRule(FusedModelOptions.builder(), new BreakFoldedBias(null)).build();
    try (FusedModel m = FusedModel.load(dir, broken)) {
      CheckResult c = m.check();
      assertEquals(0.0, c.maxAbsDiff(), "the final output cannot see the broken bias: " + m.report().toText());
      assertTrue(c.sensitivity().stream().allMatch(s -> s.flagged()), "the insensitive output is flagged: " + c);
      FoldDiff f = c.folds().get(0);
      assertTrue(f.compared() && !f.passed() && f.maxAbsDiff() > 0.1, "the fold's own tensor shows it: " + f);
      assertFalse(c.passed());
      assertEquals(Served.ORIGINAL, m.served());
      assertTrue(m.report().fallbackReason().contains("folded BatchNorm's own output"), m.report().fallbackReason());
      assertTrue(m.report().toText().contains("FOLD FAILED"), m.report().toText());
      ModelAssertions.assertSameOutputs(dir, m, 0, 0, 1);
    }
    FusedModelOptions strict = TestOptions.withRule(FusedModelOptions.builder(), new BreakFoldedBias(null))
        .strict(true).build();
    assertThrows(CheckFailedException.class, () -> FusedModel.load(dir, strict).close());
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void theRightFoldPassesThereWithEveryFoldCompared(Style style) {
    Path dir = saturated(style);
    try (FusedModel m = FusedModel.load(dir)) {
      assertEquals(Served.FUSED, m.served(), m.report().toText());
      assertEquals(1, m.check().folds().size());
      assertTrue(m.check().folds().get(0).compared(), m.report().toText());
      assertTrue(m.check().folds().get(0).maxRelDiff() < 1e-5, m.report().toText());
    }
  }

  /** Probes that refuse the signature, as a user's supplier does for inputs it cannot make up. */
  private static final ProbeSupplier REFUSING = (sig, batch, index) -> {
    throw new IllegalArgumentException("no realistic input for " + sig.key());
  };

  @ParameterizedTest
  @EnumSource(Style.class)
  void aSignatureThatCannotBeProbedIsUnverifiedAndNotServedFusedByDefault(Style style) {
    Path dir = saturated(style);
    try (FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().probes(REFUSING).build())) {
      assertEquals(Served.ORIGINAL, m.served(), m.report().toText());
      assertEquals(1, m.check().unverified().size(), m.report().toText());
      assertEquals("serving_default", m.check().unverified().get(0).signature());
      assertFalse(m.check().passed());
      assertTrue(m.report().fallbackReason().contains("serveUnverified"), m.report().fallbackReason());
    }
    FusedModelOptions accept = FusedModelOptions.builder().probes(REFUSING).serveUnverified(true).build();
    try (FusedModel m = FusedModel.load(dir, accept)) {
      assertEquals(Served.FUSED_UNVERIFIED, m.served(), m.report().toText());
      assertTrue(m.isFused());
      assertTrue(m.report().toJson().contains("\"served\": \"fused-unverified\""), m.report().toJson());
    }
    FusedModelOptions strict = FusedModelOptions.builder().probes(REFUSING).strict(true).build();
    CheckFailedException e = assertThrows(CheckFailedException.class, () -> FusedModel.load(dir, strict).close());
    assertTrue(e.getMessage().contains("not every signature could be verified"), e.getMessage());
  }

  @ParameterizedTest
  @EnumSource(Style.class)
  void onlyPartlyProbedSignatureIsUnverifiedToo(Style style) {
    Path dir = saturated(style);
    // batch 1 works, batch 8 is refused: the first probe compared, but the signature is still marked as compared
    ProbeSupplier firstOnly = (sig, batch, index) -> {
      if (batch != 1) {
        throw new IllegalArgumentException("only batch 1");
      }
      return ProbeInputs.generate(sig, batch, 3);
    };
    try (FusedModel m = FusedModel.load(dir, FusedModelOptions.builder().probes(firstOnly).build())) {
      assertTrue(m.check().unverified().isEmpty(), "compared at batch 1: " + m.report().toText());
      assertEquals(Served.FUSED, m.served(), m.report().toText());
    }
  }
}
