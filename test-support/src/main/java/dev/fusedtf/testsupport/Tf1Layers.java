package dev.fusedtf.testsupport;

import java.util.List;
import java.util.Map;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;

/**
 * TF1 graph structures as TensorFlow 1.x writes them for a training/inference switch, built on a {@link NetBuilder}
 * of the TF1 layout: {@code tf.layers.batch_normalization(training=placeholder)} as a {@code tf.cond} (Switch/Merge)
 * around a FusedBatchNorm on 4-D input or the moments of a 2-D input, slim's {@code batch_norm(is_training=...)},
 * {@code tf.nn.dropout(x, keep_prob)} and the TF 1.13+ rate form, and a BatchNorm of {@code tf.nn.moments}.
 */
public final class Tf1Layers {
  private static final AttrValue F32 = Protos.type(DataType.DT_FLOAT);

  private final NetBuilder b;

  /** Structures built into {@code b} (TF1 layout). */
  public Tf1Layers(NetBuilder b) {
    if (b.style() != NetBuilder.Style.TF1) {
      throw new IllegalArgumentException("TF1 structures need the TF1 layout");
    }
    this.b = b;
  }

  /** {@code Switch(data, pred)}: port 0 is taken when pred is false, port 1 when it is true. */
  private String sw(String data, String pred, String name, AttrValue t) {
    return b.op("Switch", name, List.of(data, pred), Map.of("T", t));
  }

  private String merge(String falseValue, String trueValue, String name) {
    return b.op("Merge", name, List.of(falseValue, trueValue), Map.of("T", F32, "N",
        AttrValue.newBuilder().setI(2).build()));
  }

  /**
   * {@code tf.layers.batch_normalization(x, training=training)} on NHWC input with fused=True: a {@code tf.cond}
   * whose true branch is FusedBatchNorm(is_training=true) with empty mean and variance, whose false branch is
   * FusedBatchNorm(is_training=false) with the moving statistics, joined by a Merge. Returns the Merge.
   *
   * @param training the bool placeholder
   * @param scale false for slim's default {@code scale=False} (gamma a constant of ones)
   */
  public String condFusedBatchNorm(String x, String name, int c, String training, boolean scale) {
    String g = scale ? b.variable(name + "/gamma", b.randomUniform(0.5, 1.5, c))
        : b.constant(name + "/Const", Values.floats(ones(c), c));
    String beta = b.variable(name + "/beta", b.randomUniform(-0.5, 0.5, c));
    String mean = b.variable(name + "/moving_mean", b.randomUniform(-0.5, 0.5, c));
    String var = b.variable(name + "/moving_variance", b.randomUniform(0.5, 2.0, c));
    AttrValue bool = Protos.type(DataType.DT_BOOL);
    String pred = b.op("Identity", name + "/cond/pred_id", List.of(training), Map.of("T", bool));
    String outer = sw(training, training, name + "/cond/Switch", bool);
    String switchT = b.op("Identity", name + "/cond/switch_t", List.of(outer + ":1"), Map.of("T", bool));
    String xs = sw(x, pred, name + "/cond/FusedBatchNorm/Switch", F32);
    String gs = sw(g, pred, name + "/cond/FusedBatchNorm/Switch_1", F32);
    String bs = sw(beta, pred, name + "/cond/FusedBatchNorm/Switch_2", F32);
    String empty = b.op("Const", name + "/cond/Const", List.of("^" + switchT), Map.of("dtype", F32, "value",
        AttrValue.newBuilder().setTensor(Protos.tensor(Values.floats(new double[0], 0))).build()));
    String training1 = b.op("FusedBatchNorm", name + "/cond/FusedBatchNorm", List.of(xs + ":1", gs + ":1", bs + ":1",
        empty, empty), Map.of("T", F32, "epsilon", AttrValue.newBuilder().setF(1e-3f).build(),
        "is_training", AttrValue.newBuilder().setB(true).build(), "data_format", Protos.string("NHWC")));
    String xf = sw(x, pred, name + "/cond/FusedBatchNorm_1/Switch", F32);
    String gf = sw(g, pred, name + "/cond/FusedBatchNorm_1/Switch_1", F32);
    String bf = sw(beta, pred, name + "/cond/FusedBatchNorm_1/Switch_2", F32);
    String mf = sw(mean, pred, name + "/cond/FusedBatchNorm_1/Switch_3", F32);
    String vf = sw(var, pred, name + "/cond/FusedBatchNorm_1/Switch_4", F32);
    String inference = b.op("FusedBatchNorm", name + "/cond/FusedBatchNorm_1", List.of(xf, gf, bf, mf, vf),
        Map.of("T", F32, "epsilon", AttrValue.newBuilder().setF(1e-3f).build(),
            "is_training", AttrValue.newBuilder().setB(false).build(), "data_format", Protos.string("NHWC")));
    return merge(inference, training1, name + "/cond/Merge");
  }

  /**
   * {@code tf.layers.batch_normalization(x, training=training)} on [batch, c] input (not fused): the mean and variance
   * come from a {@code tf.cond} (the batch moments when training, the moving averages otherwise), then the
   * arithmetic {@code x * rsqrt(var + eps) * gamma + (beta - mean * ...)} outside it. Returns {@code batchnorm/add_1}.
   */
  public String condDecomposedBatchNorm(String x, String name, int c, String training) {
    String g = b.variable(name + "/gamma", b.randomUniform(0.5, 1.5, c));
    String beta = b.variable(name + "/beta", b.randomUniform(-0.5, 0.5, c));
    String mm = b.variable(name + "/moving_mean", b.randomUniform(-0.5, 0.5, c));
    String mv = b.variable(name + "/moving_variance", b.randomUniform(0.5, 2.0, c));
    String pred = b.op("Identity", name + "/cond/pred_id", List.of(training), Map.of("T", Protos.type(DataType.DT_BOOL)));
    String xs = sw(x, pred, name + "/cond/moments/Switch", F32);
    String mean = b.mean(xs + ":1", name + "/cond/moments/mean", 0);
    String sq = b.op("SquaredDifference", name + "/cond/moments/SquaredDifference", List.of(xs + ":1",
        b.op("StopGradient", name + "/cond/moments/StopGradient", List.of(mean), Map.of("T", F32))), Map.of("T", F32));
    String variance = b.mean(sq, name + "/cond/moments/variance", 0);
    String mms = sw(mm, pred, name + "/cond/Switch_1", F32);
    String mvs = sw(mv, pred, name + "/cond/Switch_2", F32);
    String meanM = merge(mms, mean, name + "/cond/Merge");
    String varM = merge(mvs, variance, name + "/cond/Merge_1");
    String eps = b.constant(name + "/batchnorm/add/y", Values.floats(new double[] {1e-3}));
    String add = b.add(varM, eps, name + "/batchnorm/add");
    String rs = b.op("Rsqrt", name + "/batchnorm/Rsqrt", List.of(add), Map.of("T", F32));
    String mul = b.mul(rs, g, name + "/batchnorm/mul");
    String mul1 = b.mul(x, mul, name + "/batchnorm/mul_1");
    String mul2 = b.mul(meanM, mul, name + "/batchnorm/mul_2");
    String sub = b.op("Sub", name + "/batchnorm/sub", List.of(beta, mul2), Map.of("T", F32));
    return b.add(mul1, sub, name + "/batchnorm/add_1");
  }

  /**
   * {@code tf.nn.dropout(x, keep_prob)} as TF 1.x (up to 1.12) writes it: {@code x / keep_prob * floor(keep_prob +
   * random_uniform(shape(x)))}.
   */
  public String dropout(String x, String name, String keepProb) {
    String shape = b.op("Shape", name + "/Shape", List.of(x), Map.of("T", F32, "out_type",
        Protos.type(DataType.DT_INT32)));
    String u = b.op("RandomUniform", name + "/random_uniform/RandomUniform", List.of(shape), Map.of("T",
        Protos.type(DataType.DT_INT32), "dtype", F32, "seed", AttrValue.newBuilder().setI(0).build(), "seed2",
        AttrValue.newBuilder().setI(0).build()));
    String range = b.constant(name + "/random_uniform/sub", Values.floats(new double[] {1.0}));
    String scaled = b.mul(u, range, name + "/random_uniform/mul");
    String lo = b.constant(name + "/random_uniform/min", Values.floats(new double[] {0.0}));
    String uniform = b.op("Add", name + "/random_uniform", List.of(scaled, lo), Map.of("T", F32));
    String noise = b.op("Add", name + "/add", List.of(keepProb, uniform), Map.of("T", F32));
    String mask = b.op("Floor", name + "/Floor", List.of(noise), Map.of("T", F32));
    String div = b.op("RealDiv", name + "/div", List.of(x, keepProb), Map.of("T", F32));
    return b.mul(div, mask, name + "/mul");
  }

  /**
   * {@code tf.nn.dropout(x, rate=rate)} as TF 1.13+ writes it: {@code x * (1 / (1 - rate)) * cast(random_uniform >=
   * rate)}.
   */
  public String dropoutRate(String x, String name, String rate) {
    String shape = b.op("Shape", name + "/Shape", List.of(x), Map.of("T", F32, "out_type",
        Protos.type(DataType.DT_INT32)));
    String u = b.op("RandomUniform", name + "/random_uniform/RandomUniform", List.of(shape), Map.of("T",
        Protos.type(DataType.DT_INT32), "dtype", F32, "seed", AttrValue.newBuilder().setI(0).build(), "seed2",
        AttrValue.newBuilder().setI(0).build()));
    String one = b.constant(name + "/sub/x", Values.floats(new double[] {1.0}));
    String keep = b.op("Sub", name + "/sub", List.of(one, rate), Map.of("T", F32));
    String inv = b.op("RealDiv", name + "/truediv", List.of(one, keep), Map.of("T", F32));
    String ge = b.op("GreaterEqual", name + "/GreaterEqual", List.of(u, rate), Map.of("T", F32));
    String mask = b.op("Cast", name + "/Cast", List.of(ge), Map.of("SrcT", Protos.type(DataType.DT_BOOL), "DstT", F32));
    return b.mul(b.mul(x, inv, name + "/mul"), mask, name + "/mul_1");
  }

  /**
   * A BatchNorm of the current batch's statistics: {@code tf.nn.batch_normalization(x, *tf.nn.moments(x, axes), beta,
   * gamma, eps)}, never foldable.
   */
  public String momentsBatchNorm(String x, String name, int c, int... axes) {
    String g = b.variable(name + "/gamma", b.randomUniform(0.5, 1.5, c));
    String beta = b.variable(name + "/beta", b.randomUniform(-0.5, 0.5, c));
    String mean = b.mean(x, name + "/moments/mean", axes);
    String sq = b.op("SquaredDifference", name + "/moments/SquaredDifference", List.of(x,
        b.op("StopGradient", name + "/moments/StopGradient", List.of(mean), Map.of("T", F32))), Map.of("T", F32));
    String variance = b.mean(sq, name + "/moments/variance", axes);
    String eps = b.constant(name + "/batchnorm/add/y", Values.floats(new double[] {1e-3}));
    String rs = b.op("Rsqrt", name + "/batchnorm/Rsqrt", List.of(b.add(variance, eps, name + "/batchnorm/add")),
        Map.of("T", F32));
    String mul = b.mul(rs, g, name + "/batchnorm/mul");
    String mul1 = b.mul(x, mul, name + "/batchnorm/mul_1");
    String mul2 = b.mul(mean, mul, name + "/batchnorm/mul_2");
    String sub = b.op("Sub", name + "/batchnorm/sub", List.of(beta, mul2), Map.of("T", F32));
    return b.add(mul1, sub, name + "/batchnorm/add_1");
  }

  private static double[] ones(int c) {
    double[] v = new double[c];
    java.util.Arrays.fill(v, 1.0);
    return v;
  }
}
