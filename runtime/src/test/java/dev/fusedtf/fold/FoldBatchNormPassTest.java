package dev.fusedtf.fold;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.weights.DenseTensor;
import dev.fusedtf.internal.weights.TensorCodec;
import dev.fusedtf.internal.weights.VariableStore;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * The pass on pure protos (no TensorFlow session): MatMul + BiasAdd + FusedBatchNorm, which TensorFlow itself
 * cannot run (FusedBatchNorm wants 4-D input), checked against BN(x W + b) computed in float64 in Java.
 */
class FoldBatchNormPassTest {
  private final Random rnd = new Random(9);

  private DenseTensor random(long... shape) {
    double[] v = new double[(int) TensorCodec.numElements(shape)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rnd.nextGaussian();
    }
    return new DenseTensor(shape, v, DataType.DT_FLOAT);
  }

  private DenseTensor positive(int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (0.5 + rnd.nextDouble());
    }
    return new DenseTensor(new long[] {n}, v, DataType.DT_FLOAT);
  }

  private static NodeDef constNode(String name, DenseTensor t) {
    return Nodes.constant(name, TensorCodec.encode(t), "");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void matMulBiasBnMatchesFloat64Reference(boolean transposeB) {
    int in = 5;
    int out = 3;
    DenseTensor w = transposeB ? random(out, in) : random(in, out);
    DenseTensor b = random(out);
    DenseTensor gamma = random(out);
    DenseTensor beta = random(out);
    DenseTensor mean = random(out);
    DenseTensor var = positive(out);
    float eps = 1e-3f;
    GraphDef g = GraphDef.newBuilder()
        .addNode(NodeDef.newBuilder().setName("x").setOp("Placeholder").putAttr("dtype", Nodes.type(DataType.DT_FLOAT)))
        .addNode(constNode("w", w))
        .addNode(NodeDef.newBuilder().setName("w/read").setOp("Identity").addInput("w"))
        .addNode(NodeDef.newBuilder().setName("mm").setOp("MatMul").addInput("x").addInput("w/read")
            .putAttr("transpose_b", AttrValue.newBuilder().setB(transposeB).build()))
        .addNode(constNode("b", b))
        .addNode(NodeDef.newBuilder().setName("bias").setOp("BiasAdd").addInput("mm").addInput("b"))
        .addNode(constNode("gamma", gamma)).addNode(constNode("beta", beta))
        .addNode(constNode("mean", mean)).addNode(constNode("var", var))
        .addNode(NodeDef.newBuilder().setName("bn").setOp("FusedBatchNormV3").addInput("bias").addInput("gamma")
            .addInput("beta").addInput("mean").addInput("var")
            .putAttr("epsilon", AttrValue.newBuilder().setF(eps).build())
            .putAttr("is_training", AttrValue.newBuilder().setB(false).build()))
        .addNode(NodeDef.newBuilder().setName("out").setOp("Identity").addInput("bn"))
        .build();
    Pipeline.Result r = new Pipeline(Pipeline.defaultPasses(), List.of()).run(g, List.of("out"), VariableStore.none());
    assertEquals(1, r.folds().size());
    assertEquals("MatMul+BiasAdd+FusedBatchNormV3", r.folds().get(0).pattern());
    Body top = new ModelGraph(r.graph(), List.of("out")).topLevel();
    NodeDef bn = top.node("bn").orElseThrow();
    assertEquals("BiasAdd", bn.getOp());
    NodeDef mm = top.node("mm").orElseThrow();
    DenseTensor w2 = TensorCodec.decode(top.node(mm.getInput(1)).orElseThrow().getAttrMap().get("value").getTensor());
    DenseTensor b2 = TensorCodec.decode(top.node(bn.getInput(1)).orElseThrow().getAttrMap().get("value").getTensor());
    assertTrue(top.node("bias").isEmpty(), "old BiasAdd removed");
    assertTrue(top.node("gamma").isEmpty() && top.node("w").isEmpty(), "orphaned constants removed");

    double[] x = random(2, in).values();
    for (int row = 0; row < 2; row++) {
      for (int o = 0; o < out; o++) {
        double ref = b.get(o);
        double folded = b2.get(o);
        for (int i = 0; i < in; i++) {
          int wi = transposeB ? o * in + i : i * out + o;
          ref += x[row * in + i] * w.get(wi);
          folded += x[row * in + i] * w2.get(wi);
        }
        ref = (ref - mean.get(o)) * gamma.get(o) / Math.sqrt(var.get(o) + eps) + beta.get(o);
        assertEquals(ref, folded, 1e-5 * Math.max(1, Math.abs(ref)));
      }
    }
  }

  @Test
  void bnOutputOtherThanYBlocksTheFold() {
    DenseTensor k = random(1, 1, 2, 2);
    GraphDef g = GraphDef.newBuilder()
        .addNode(NodeDef.newBuilder().setName("x").setOp("Placeholder"))
        .addNode(constNode("k", k))
        .addNode(NodeDef.newBuilder().setName("conv").setOp("Conv2D").addInput("x").addInput("k"))
        .addNode(constNode("p", positive(2)))
        .addNode(NodeDef.newBuilder().setName("bn").setOp("FusedBatchNorm").addInput("conv").addInput("p")
            .addInput("p").addInput("p").addInput("p").putAttr("is_training", AttrValue.newBuilder().setB(false).build()))
        .addNode(NodeDef.newBuilder().setName("stat").setOp("Identity").addInput("bn:1"))
        .build();
    Pipeline.Result r = new Pipeline(Pipeline.defaultPasses(), List.of()).run(g, List.of("bn", "stat"), VariableStore.none());
    assertEquals(0, r.folds().size());
    assertTrue(r.skips().get(0).reason().contains("not y"), r.skips().get(0).reason());
  }

  @Test
  void unknownWeightsAreASkipReason() {
    GraphDef g = GraphDef.newBuilder()
        .addNode(NodeDef.newBuilder().setName("x").setOp("Placeholder"))
        .addNode(NodeDef.newBuilder().setName("k").setOp("Placeholder"))
        .addNode(NodeDef.newBuilder().setName("conv").setOp("Conv2D").addInput("x").addInput("k"))
        .addNode(constNode("p", positive(2)))
        .addNode(NodeDef.newBuilder().setName("bn").setOp("FusedBatchNormV3").addInput("conv").addInput("p")
            .addInput("p").addInput("p").addInput("p").putAttr("is_training", AttrValue.newBuilder().setB(false).build()))
        .build();
    Pipeline.Result r = new Pipeline(Pipeline.defaultPasses(), List.of()).run(g, List.of("bn"), VariableStore.none());
    assertEquals(0, r.folds().size());
    assertNotNull(r.skips().get(0).reason());
    assertTrue(r.skips().get(0).reason().contains("kernel"), r.skips().get(0).reason());
    assertEquals(false, r.changed());
  }
}
