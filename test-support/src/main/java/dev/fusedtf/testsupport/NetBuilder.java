package dev.fusedtf.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.VersionDef;

/**
 * The {@code NetBuilder} writes small real SavedModels from Java, in the two layouts TensorFlow produces:
 *
 * <ul>
 *   <li>{@link Style#TF1}: every op at the top level, weights in {@code VariableV2} read through
 *       {@code <var>/read} Identity nodes;</li>
 *   <li>{@link Style#TF2}: the Keras layout: ops inside a FunctionDef ({@code __inference_model_fn}) called from a
 *       signature wrapper function through {@code StatefulPartitionedCall}, weights as {@code VarHandleOp}
 *       resource variables passed in as DT_RESOURCE arguments and read by {@code ReadVariableOp}, and a
 *       {@code NoOp} that depends on every read, as TF 2.8+ writes it.</li>
 * </ul>
 *
 * <p>Variables are restored through a SaverDef ({@code save/Const:0}, {@code save/restore_all}) from a V2
 * checkpoint under {@code variables/}, so plain {@code SavedModelBundle.load} loads the result. Values are
 * seeded random numbers; BatchNorm statistics are non-trivial so a wrong fold shows.
 */
public final class NetBuilder {

  /** Where ops and weights live. */
  public enum Style { TF1, TF2 }

  private static final String MODEL_FN = "__inference_model_fn_100";
  private static final String WRAPPER_FN = "__inference_signature_wrapper_200";

  private final Style style;
  private final Random rnd;
  private final List<NodeDef> top = new ArrayList<>();
  private final List<NodeDef> body = new ArrayList<>();
  private final LinkedHashMap<String, Values> variables = new LinkedHashMap<>();
  private final List<String> reads = new ArrayList<>();
  private final LinkedHashMap<String, String> outputs = new LinkedHashMap<>();
  private final Map<String, Integer> nameCounts = new LinkedHashMap<>();
  private String inputName;
  private final LinkedHashMap<String, DataType> extraInputs = new LinkedHashMap<>();
  private long[] inputShape;

  /** A builder of the given layout; {@code seed} fixes the weights. */
  public NetBuilder(Style style, long seed) {
    this.style = style;
    this.rnd = new Random(seed);
  }

  /** The layout. */
  public Style style() {
    return style;
  }

  // ---------------------------------------------------------------- inputs, variables

  /** Declares the model's single float input (use -1 for the batch dimension); returns its reference. */
  public String input(String name, long... shape) {
    if (inputName != null) {
      throw new IllegalStateException("one input only");
    }
    inputName = name;
    inputShape = shape.clone();
    if (style == Style.TF1) {
      top.add(NodeDef.newBuilder().setName(name).setOp("Placeholder")
          .putAttr("dtype", Protos.type(DataType.DT_FLOAT))
          .putAttr("shape", AttrValue.newBuilder().setShape(Protos.shape(shape)).build())
          .build());
      return name;
    }
    return name; // a function argument of the model function
  }

  /**
   * A TF1 top-level placeholder besides the input (a training flag, a keep probability): a scalar of {@code dtype},
   * a signature input only when {@code signatureInput}.
   */
  public String placeholder(String name, DataType dtype, boolean signatureInput) {
    if (style != Style.TF1) {
      throw new IllegalStateException("extra placeholders are for the TF1 layout");
    }
    top.add(NodeDef.newBuilder().setName(name).setOp("Placeholder").putAttr("dtype", Protos.type(dtype))
        .putAttr("shape", AttrValue.newBuilder().setShape(Protos.shape()).build()).build());
    if (signatureInput) {
      extraInputs.put(name, dtype);
    }
    return name;
  }

  /** Declares a variable with this value; returns a reference to its value read in the model body. */
  public String variable(String name, Values value) {
    if (variables.containsKey(name)) {
      throw new IllegalArgumentException("variable exists: " + name);
    }
    variables.put(name, value);
    return read(name);
  }

  /** A (new) read of an existing variable, as Keras writes one ReadVariableOp per use. */
  public String read(String var) {
    Values v = variables.get(var);
    if (style == Style.TF1) {
      String readName = var + "/read";
      if (body.stream().noneMatch(n -> n.getName().equals(readName))) {
        add(NodeDef.newBuilder().setName(readName).setOp("Identity").addInput(var)
            .putAttr("T", Protos.type(v.dtype())).build());
      }
      return readName;
    }
    String readName = unique(var.replace('/', '_') + "/ReadVariableOp");
    add(NodeDef.newBuilder().setName(readName).setOp("ReadVariableOp").addInput(argName(var))
        .putAttr("dtype", Protos.type(v.dtype())).build());
    reads.add(readName);
    return ref(readName, "ReadVariableOp");
  }

  /** A random normal tensor scaled by {@code scale}. */
  public Values randomNormal(double scale, long... shape) {
    int n = Math.toIntExact(Protos.numElements(shape));
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (rnd.nextGaussian() * scale);
    }
    return new Values(shape, v, DataType.DT_FLOAT);
  }

  /** A random uniform vector in [lo, hi). */
  public Values randomUniform(double lo, double hi, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (lo + rnd.nextDouble() * (hi - lo));
    }
    return new Values(new long[] {n}, v, DataType.DT_FLOAT);
  }

  // ---------------------------------------------------------------- layers

  /** Conv2D with a new HWIO kernel variable {@code name/kernel}; optional bias variable and BiasAdd. */
  public String conv2d(String x, String name, int kh, int kw, int cin, int cout, int stride, String padding,
      boolean bias, boolean nchw) {
    String k = variable(name + "/kernel", randomNormal(1.0 / Math.sqrt(kh * kw * cin), kh, kw, cin, cout));
    String y = conv2dWith(x, name + "/Conv2D", k, stride, padding, nchw);
    return bias ? biasAdd(y, name, cout, nchw) : y;
  }

  /** Conv2D reading the kernel reference {@code kernel} (to share one kernel between convs). */
  public String conv2dWith(String x, String opName, String kernel, int stride, String padding, boolean nchw) {
    long[] strides = nchw ? new long[] {1, 1, stride, stride} : new long[] {1, stride, stride, 1};
    return op("Conv2D", opName, List.of(x, kernel), Map.of(
        "T", Protos.type(DataType.DT_FLOAT),
        "strides", ints(strides),
        "padding", Protos.string(padding),
        "data_format", Protos.string(nchw ? "NCHW" : "NHWC")));
  }

  /**
   * Keras Conv1D on [batch, steps, cin]: ExpandDims(axis 1) -> Conv2D with a [1, k, cin, cout] kernel -> Squeeze
   * (axis 1), then an optional BiasAdd.
   */
  public String conv1d(String x, String name, int k, int cin, int cout, boolean bias) {
    String one = constInt32(name + "/conv1d/ExpandDims/dim", new long[] {1});
    String expanded = op("ExpandDims", name + "/conv1d/ExpandDims", List.of(x, one),
        Map.of("T", Protos.type(DataType.DT_FLOAT), "Tdim", Protos.type(DataType.DT_INT32)));
    String w = variable(name + "/kernel", randomNormal(1.0 / Math.sqrt(k * cin), 1, k, cin, cout));
    String y = conv2dWith(expanded, name + "/conv1d", w, 1, "SAME", false);
    AttrValue.ListValue.Builder dims = AttrValue.ListValue.newBuilder().addI(1);
    String squeezed = op("Squeeze", name + "/conv1d/Squeeze", List.of(y), Map.of(
        "T", Protos.type(DataType.DT_FLOAT), "squeeze_dims", AttrValue.newBuilder().setList(dims).build()));
    return bias ? biasAdd(squeezed, name, cout, false) : squeezed;
  }

  /** DepthwiseConv2dNative with kernel [k, k, cin, mult]; optional bias over cin*mult channels. */
  public String depthwise(String x, String name, int k, int cin, int mult, boolean bias) {
    String w = variable(name + "/depthwise_kernel", randomNormal(1.0 / k, k, k, cin, mult));
    String y = op("DepthwiseConv2dNative", name + "/depthwise", List.of(x, w), Map.of(
        "T", Protos.type(DataType.DT_FLOAT),
        "strides", ints(new long[] {1, 1, 1, 1}),
        "padding", Protos.string("SAME")));
    return bias ? biasAdd(y, name, cin * mult, false) : y;
  }

  /** MatMul with a new weight variable ([in,out], or [out,in] when transposeB); optional bias. */
  public String dense(String x, String name, int in, int out, boolean bias, boolean transposeB) {
    Values init = transposeB ? randomNormal(1.0 / Math.sqrt(in), out, in) : randomNormal(1.0 / Math.sqrt(in), in, out);
    String w = variable(name + "/kernel", init);
    String y = op("MatMul", name + "/MatMul", List.of(x, w), Map.of(
        "T", Protos.type(DataType.DT_FLOAT),
        "transpose_b", AttrValue.newBuilder().setB(transposeB).build()));
    return bias ? biasAdd(y, name, out, false) : y;
  }

  /** BiasAdd of a new bias variable {@code name/bias}. */
  public String biasAdd(String x, String name, int channels, boolean nchw) {
    String b = variable(name + "/bias", randomUniform(-0.5, 0.5, channels));
    return op("BiasAdd", name + "/BiasAdd", List.of(x, b), Map.of(
        "T", Protos.type(DataType.DT_FLOAT),
        "data_format", Protos.string(nchw ? "NCHW" : "NHWC")));
  }

  /**
   * FusedBatchNormV3 (or {@code op} = FusedBatchNorm / FusedBatchNormV2) with new gamma, beta, moving mean and
   * variance variables. {@code training} writes is_training=true (which must never fold).
   */
  public String batchNorm(String x, String name, int c, boolean training, boolean nchw, float eps, String op) {
    String g = variable(name + "/gamma", randomUniform(0.5, 1.5, c));
    String b = variable(name + "/beta", randomUniform(-0.5, 0.5, c));
    String m = variable(name + "/moving_mean", randomUniform(-0.5, 0.5, c));
    String v = variable(name + "/moving_variance", randomUniform(0.5, 2.0, c));
    Map<String, AttrValue> attrs = new LinkedHashMap<>();
    attrs.put("T", Protos.type(DataType.DT_FLOAT));
    if (!op.equals("FusedBatchNorm")) {
      attrs.put("U", Protos.type(DataType.DT_FLOAT));
    }
    attrs.put("epsilon", AttrValue.newBuilder().setF(eps).build());
    attrs.put("is_training", AttrValue.newBuilder().setB(training).build());
    attrs.put("data_format", Protos.string(nchw ? "NCHW" : "NHWC"));
    return op(op, name + "/" + op, List.of(x, g, b, m, v), attrs);
  }

  /** Inference-mode FusedBatchNormV3 on 5-D NDHWC input (after a Conv3D). */
  public String batchNorm5d(String x, String name, int c) {
    String g = variable(name + "/gamma", randomUniform(0.5, 1.5, c));
    String b = variable(name + "/beta", randomUniform(-0.5, 0.5, c));
    String m = variable(name + "/moving_mean", randomUniform(-0.5, 0.5, c));
    String v = variable(name + "/moving_variance", randomUniform(0.5, 2.0, c));
    return op("FusedBatchNormV3", name + "/FusedBatchNormV3", List.of(x, g, b, m, v), Map.of(
        "T", Protos.type(DataType.DT_FLOAT), "U", Protos.type(DataType.DT_FLOAT),
        "epsilon", AttrValue.newBuilder().setF(1e-3f).build(),
        "is_training", AttrValue.newBuilder().setB(false).build(),
        "data_format", Protos.string("NDHWC")));
  }

  /** Inference-mode FusedBatchNormV3, NHWC, epsilon 1e-3 (Keras' default). */
  public String batchNorm(String x, String name, int c) {
    return batchNorm(x, name, c, false, false, 1e-3f, "FusedBatchNormV3");
  }

  /** Relu. */
  public String relu(String x, String name) {
    return op("Relu", name, List.of(x), Map.of("T", Protos.type(DataType.DT_FLOAT)));
  }

  /** Relu6. */
  public String relu6(String x, String name) {
    return op("Relu6", name, List.of(x), Map.of("T", Protos.type(DataType.DT_FLOAT)));
  }

  /** AddV2 (a residual add). */
  public String add(String a, String b, String name) {
    return op("AddV2", name, List.of(a, b), Map.of("T", Protos.type(DataType.DT_FLOAT)));
  }

  /** A constant of these values (float32), as a node of the model body. */
  public String constant(String name, Values value) {
    String n = unique(name);
    add(Protos.constant(n, Protos.tensor(value)));
    return ref(n, "Const");
  }

  /** Softmax over the last axis. */
  public String softmax(String x, String name) {
    return op("Softmax", name, List.of(x), Map.of("T", Protos.type(DataType.DT_FLOAT)));
  }

  /** {@code a * b} (broadcasting). */
  public String mul(String a, String b, String name) {
    return op("Mul", name, List.of(a, b), Map.of("T", Protos.type(DataType.DT_FLOAT)));
  }

  /** Mean over axes (keep_dims false), e.g. global average pooling over {1, 2}. */
  public String mean(String x, String name, int... axes) {
    long[] ax = java.util.Arrays.stream(axes).asLongStream().toArray();
    String idx = constInt32(name + "/reduction_indices", ax);
    return op("Mean", name, List.of(x, idx), Map.of(
        "T", Protos.type(DataType.DT_FLOAT), "Tidx", Protos.type(DataType.DT_INT32),
        "keep_dims", AttrValue.newBuilder().setB(false).build()));
  }

  /**
   * A decomposed BatchNorm as {@code tf.nn.batch_normalization} writes it ({@code name/batchnorm/add_1} at the
   * end). With {@code trainingFlag} non-null, mean and variance come through a {@code Select} on a
   * {@code PlaceholderWithDefault} flag of that default (TF1 {@code tf.layers.batch_normalization}), between the
   * batch moments over {@code momentAxes} and the moving statistics.
   */
  public String decomposedBatchNorm(String x, String name, int c, Boolean trainingFlag, int... momentAxes) {
    String g = variable(name + "/gamma", randomUniform(0.5, 1.5, c));
    String b = variable(name + "/beta", randomUniform(-0.5, 0.5, c));
    String m = variable(name + "/moving_mean", randomUniform(-0.5, 0.5, c));
    String v = variable(name + "/moving_variance", randomUniform(0.5, 2.0, c));
    AttrValue f32 = Protos.type(DataType.DT_FLOAT);
    if (trainingFlag != null) {
      org.tensorflow.proto.TensorProto flagValue = org.tensorflow.proto.TensorProto.newBuilder()
          .setDtype(DataType.DT_BOOL).setTensorShape(Protos.shape(new long[0]))
          .addBoolVal(trainingFlag).build();
      String dflt = unique(name + "/training/input");
      add(Protos.constant(dflt, flagValue));
      String flag = op("PlaceholderWithDefault", name + "/training", List.of(ref(dflt, "Const")), Map.of(
          "dtype", Protos.type(DataType.DT_BOOL),
          "shape", AttrValue.newBuilder().setShape(Protos.shape(new long[0])).build()));
      String batchMean = mean(x, name + "/moments/mean", momentAxes);
      String batchVar = mean(op("Mul", name + "/moments/square", List.of(x, x), Map.of("T", f32)),
          name + "/moments/variance", momentAxes);
      m = op("Select", name + "/Select", List.of(flag, batchMean, m), Map.of("T", f32));
      v = op("Select", name + "/Select_1", List.of(flag, batchVar, v), Map.of("T", f32));
    }
    String eps = op("Const", name + "/batchnorm/add/y", List.of(), Map.of(
        "dtype", f32, "value", AttrValue.newBuilder().setTensor(Protos.tensor(
            new Values(new long[0], new double[] {1e-3}, DataType.DT_FLOAT))).build()));
    String add = op("AddV2", name + "/batchnorm/add", List.of(v, eps), Map.of("T", f32));
    String rs = op("Rsqrt", name + "/batchnorm/Rsqrt", List.of(add), Map.of("T", f32));
    String mul = op("Mul", name + "/batchnorm/mul", List.of(rs, g), Map.of("T", f32));
    String mul1 = op("Mul", name + "/batchnorm/mul_1", List.of(x, mul), Map.of("T", f32));
    String mul2 = op("Mul", name + "/batchnorm/mul_2", List.of(m, mul), Map.of("T", f32));
    String sub = op("Sub", name + "/batchnorm/sub", List.of(b, mul2), Map.of("T", f32));
    return op("AddV2", name + "/batchnorm/add_1", List.of(mul1, sub), Map.of("T", f32));
  }

  /** A Caffe-style Scale layer: {@code x * scale + bias} with per-channel variables. */
  public String scale(String x, String name, int c) {
    AttrValue f32 = Protos.type(DataType.DT_FLOAT);
    String s = variable(name + "/scale", randomUniform(0.5, 1.5, c));
    String b = variable(name + "/bias", randomUniform(-0.5, 0.5, c));
    return op("AddV2", name + "/add", List.of(op("Mul", name + "/mul", List.of(x, s), Map.of("T", f32)), b),
        Map.of("T", f32));
  }

  /** {@code x + bias} with a per-channel constant, as a bias written with Add instead of BiasAdd. */
  public String addBias(String x, String name, int c) {
    String b = op("Const", name + "/bias", List.of(), Map.of("dtype", Protos.type(DataType.DT_FLOAT),
        "value", AttrValue.newBuilder().setTensor(Protos.tensor(randomUniform(-0.5, 0.5, c))).build()));
    return op("AddV2", name, List.of(x, b), Map.of("T", Protos.type(DataType.DT_FLOAT)));
  }

  /** Identity (as Keras writes for Dropout at inference). */
  public String identity(String x, String name) {
    return op("Identity", name, List.of(x), Map.of("T", Protos.type(DataType.DT_FLOAT)));
  }

  /** Conv3D with a new [kd, kh, kw, cin, cout] kernel, stride 1, NDHWC. */
  public String conv3d(String x, String name, int k, int cin, int cout, String padding) {
    String w = variable(name + "/kernel", randomNormal(1.0 / Math.sqrt(k * k * k * cin), k, k, k, cin, cout));
    return op("Conv3D", name + "/Conv3D", List.of(x, w), Map.of(
        "T", Protos.type(DataType.DT_FLOAT),
        "strides", ints(new long[] {1, 1, 1, 1, 1}),
        "padding", Protos.string(padding)));
  }

  /** A transposed conv (Conv2DBackpropInput), filter [k, k, cout, cin], stride 2, SAME, fixed output size. */
  public String conv2dTranspose(String x, String name, int k, int cin, int cout, long[] outputShape) {
    String w = variable(name + "/kernel", randomNormal(1.0 / Math.sqrt(k * k * cin), k, k, cout, cin));
    String sizes = constInt32(name + "/output_shape", outputShape);
    return op("Conv2DBackpropInput", name + "/conv2d_transpose", List.of(sizes, w, x), Map.of(
        "T", Protos.type(DataType.DT_FLOAT),
        "strides", ints(new long[] {1, 2, 2, 1}),
        "padding", Protos.string("SAME")));
  }

  /** Declares an output of the serving signature. */
  public void output(String key, String ref) {
    outputs.put(key, ref);
  }

  /** A generic op with these data inputs and attributes; returns a reference to its first output. */
  public String op(String opType, String name, List<String> inputs, Map<String, AttrValue> attrs) {
    String n = unique(name);
    add(NodeDef.newBuilder().setName(n).setOp(opType).addAllInput(inputs).putAllAttr(attrs).build());
    return ref(n, opType);
  }

  // ---------------------------------------------------------------- writing

  /** The complete MetaGraphDef (graph, library, saver, serving signature). */
  public MetaGraphDef metaGraph() {
    if (inputName == null || outputs.isEmpty()) {
      throw new IllegalStateException("declare an input and at least one output first");
    }
    GraphDef.Builder g = GraphDef.newBuilder().setVersions(currentVersions());
    SignatureDef.Builder sig = SignatureDef.newBuilder().setMethodName("tensorflow/serving/predict");
    List<String> handleNodes = new ArrayList<>();
    if (style == Style.TF1) {
      for (Map.Entry<String, Values> v : variables.entrySet()) {
        g.addNode(NodeDef.newBuilder().setName(v.getKey()).setOp("VariableV2")
            .putAttr("dtype", Protos.type(v.getValue().dtype()))
            .putAttr("shape", AttrValue.newBuilder().setShape(Protos.shape(v.getValue().shape())).build())
            .putAttr("container", Protos.string("")).putAttr("shared_name", Protos.string("")).build());
        handleNodes.add(v.getKey());
      }
      g.addAllNode(top);
      g.addAllNode(body);
      sig.putInputs(inputName, tensorInfo(inputName + ":0", inputShape));
      extraInputs.forEach((n, t) -> sig.putInputs(n, TensorInfo.newBuilder().setName(n + ":0").setDtype(t)
          .setTensorShape(Protos.shape()).build()));
      for (Map.Entry<String, String> o : outputs.entrySet()) {
        sig.putOutputs(o.getKey(), tensorInfo(o.getValue().contains(":") ? o.getValue() : o.getValue() + ":0", null));
      }
    } else {
      String placeholder = "serving_default_" + inputName;
      g.addNode(NodeDef.newBuilder().setName(placeholder).setOp("Placeholder")
          .putAttr("dtype", Protos.type(DataType.DT_FLOAT))
          .putAttr("shape", AttrValue.newBuilder().setShape(Protos.shape(inputShape)).build()).build());
      for (Map.Entry<String, Values> v : variables.entrySet()) {
        g.addNode(NodeDef.newBuilder().setName(v.getKey()).setOp("VarHandleOp")
            .putAttr("dtype", Protos.type(v.getValue().dtype()))
            .putAttr("shape", AttrValue.newBuilder().setShape(Protos.shape(v.getValue().shape())).build())
            .putAttr("container", Protos.string("")).putAttr("shared_name", Protos.string(v.getKey())).build());
        handleNodes.add(v.getKey());
      }
      List<String> callInputs = new ArrayList<>();
      callInputs.add(placeholder);
      callInputs.addAll(variables.keySet());
      g.addNode(callNode("StatefulPartitionedCall", WRAPPER_FN, callInputs));
      g.setLibrary(org.tensorflow.proto.FunctionDefLibrary.newBuilder()
          .addFunction(modelFunction()).addFunction(wrapperFunction()));
      sig.putInputs(inputName, tensorInfo(placeholder + ":0", inputShape));
      int i = 0;
      for (String key : outputs.keySet()) {
        sig.putOutputs(key, tensorInfo("StatefulPartitionedCall:" + i++, null));
      }
    }
    MetaGraphDef.Builder meta = MetaGraphDef.newBuilder()
        .setMetaInfoDef(MetaGraphDef.MetaInfoDef.newBuilder().addTags("serve"))
        .putSignatureDef("serving_default", sig.build());
    if (!handleNodes.isEmpty()) { // a model without variables has nothing to restore
      addRestoreOps(g, handleNodes);
      meta.setSaverDef(SaverDef.newBuilder().setFilenameTensorName("save/Const:0")
          .setSaveTensorName("save/Const:0").setRestoreOpName("save/restore_all")
          .setVersion(SaverDef.CheckpointFormatVersion.V2));
    }
    return meta.setGraphDef(g).build();
  }

  /** Writes the SavedModel into {@code dir} (created; must not hold a model already). */
  public Path write(Path dir) {
    try {
      Files.createDirectories(dir.resolve("variables"));
      ModelFiles.writeSavedModelPb(dir, metaGraph());
      if (!variables.isEmpty()) {
        CheckpointWriter.write(dir.resolve("variables").resolve("variables"), variables);
      }
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write model to " + dir, e);
    }
  }

  /**
   * Writes the model as a TF1 checkpoint: {@code dir/model.ckpt.meta} (the meta graph, with its SaverDef) and the
   * checkpoint {@code dir/model.ckpt}; returns the meta file. TF1 layout only.
   */
  public Path writeCheckpoint(Path dir) {
    if (style != Style.TF1) {
      throw new IllegalStateException("checkpoints are written in the TF1 layout");
    }
    try {
      Files.createDirectories(dir);
      Path meta = dir.resolve("model.ckpt.meta");
      Files.write(meta, metaGraph().toBuilder().clearSignatureDef().build().toByteArray());
      CheckpointWriter.write(dir.resolve("model.ckpt"), variables);
      return meta;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write checkpoint to " + dir, e);
    }
  }

  /** Writes the model as a frozen GraphDef (variables as constants, no saver) to {@code file}. TF1 layout only. */
  public Path writeFrozenGraph(Path file) {
    if (style != Style.TF1) {
      throw new IllegalStateException("frozen graphs are written in the TF1 layout");
    }
    GraphDef.Builder g = metaGraph().getGraphDef().toBuilder().clearNode();
    for (NodeDef n : metaGraph().getGraphDef().getNodeList()) {
      if (n.getName().startsWith("save/")) {
        continue;
      }
      Values v = variables.get(n.getName());
      g.addNode(v != null && n.getOp().equals("VariableV2") ? Protos.constant(n.getName(), Protos.tensor(v)) : n);
    }
    try {
      if (file.toAbsolutePath().getParent() != null) {
        Files.createDirectories(file.toAbsolutePath().getParent());
      }
      Files.write(file, g.build().toByteArray());
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  /** The variables and their values. */
  public Map<String, Values> variables() {
    return java.util.Collections.unmodifiableMap(variables);
  }

  // ---------------------------------------------------------------- internals

  private FunctionDef modelFunction() {
    OpDef.Builder sig = OpDef.newBuilder().setName(MODEL_FN).setIsStateful(true);
    sig.addInputArg(OpDef.ArgDef.newBuilder().setName(inputName).setType(DataType.DT_FLOAT));
    for (String v : variables.keySet()) {
      sig.addInputArg(OpDef.ArgDef.newBuilder().setName(argName(v)).setType(DataType.DT_RESOURCE));
    }
    FunctionDef.Builder f = FunctionDef.newBuilder();
    f.addAllNodeDef(body);
    NodeDef.Builder noop = NodeDef.newBuilder().setName("NoOp").setOp("NoOp");
    reads.forEach(r -> noop.addInput("^" + r));
    f.addNodeDef(noop);
    int i = 0;
    for (String ref : outputs.values()) {
      String id = i == 0 ? "Identity" : "Identity_" + i;
      f.addNodeDef(NodeDef.newBuilder().setName(id).setOp("Identity").addInput(ref).addInput("^NoOp")
          .putAttr("T", Protos.type(DataType.DT_FLOAT)));
      String out = "identity" + (i == 0 ? "" : "_" + i);
      sig.addOutputArg(OpDef.ArgDef.newBuilder().setName(out).setType(DataType.DT_FLOAT));
      f.putRet(out, id + ":output:0");
      i++;
    }
    return f.setSignature(sig).build();
  }

  private FunctionDef wrapperFunction() {
    OpDef.Builder sig = OpDef.newBuilder().setName(WRAPPER_FN).setIsStateful(true);
    List<String> args = new ArrayList<>();
    sig.addInputArg(OpDef.ArgDef.newBuilder().setName(inputName).setType(DataType.DT_FLOAT));
    args.add(inputName);
    for (String v : variables.keySet()) {
      sig.addInputArg(OpDef.ArgDef.newBuilder().setName(argName(v)).setType(DataType.DT_RESOURCE));
      args.add(argName(v));
    }
    FunctionDef.Builder f = FunctionDef.newBuilder();
    f.addNodeDef(callNode("StatefulPartitionedCall", MODEL_FN, args));
    int i = 0;
    for (String key : outputs.keySet()) {
      String id = i == 0 ? "Identity" : "Identity_" + i;
      f.addNodeDef(NodeDef.newBuilder().setName(id).setOp("Identity")
          .addInput("StatefulPartitionedCall:output:" + i).putAttr("T", Protos.type(DataType.DT_FLOAT)));
      String out = "output_" + i;
      sig.addOutputArg(OpDef.ArgDef.newBuilder().setName(out).setType(DataType.DT_FLOAT));
      f.putRet(out, id + ":output:0");
      i++;
    }
    return f.setSignature(sig).build();
  }

  private NodeDef callNode(String name, String fn, List<String> inputs) {
    AttrValue.ListValue.Builder tin = AttrValue.ListValue.newBuilder().addType(DataType.DT_FLOAT);
    for (int i = 1; i < inputs.size(); i++) {
      tin.addType(DataType.DT_RESOURCE);
    }
    AttrValue.ListValue.Builder tout = AttrValue.ListValue.newBuilder();
    outputs.keySet().forEach(k -> tout.addType(DataType.DT_FLOAT));
    return NodeDef.newBuilder().setName(name).setOp("StatefulPartitionedCall").addAllInput(inputs)
        .putAttr("Tin", AttrValue.newBuilder().setList(tin).build())
        .putAttr("Tout", AttrValue.newBuilder().setList(tout).build())
        .putAttr("f", AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName(fn)).build())
        .putAttr("config", Protos.string("")).putAttr("config_proto", Protos.string(""))
        .putAttr("executor_type", Protos.string(""))
        .build();
  }

  private void addRestoreOps(GraphDef.Builder g, List<String> vars) {
    g.addNode(Protos.constant("save/Const", Protos.strings(new String[] {"model"}, false)));
    String[] names = vars.toArray(new String[0]);
    String[] slices = new String[names.length];
    java.util.Arrays.fill(slices, "");
    g.addNode(Protos.constant("save/RestoreV2/tensor_names", Protos.strings(names, true)));
    g.addNode(Protos.constant("save/RestoreV2/shape_and_slices", Protos.strings(slices, true)));
    AttrValue.ListValue.Builder dtypes = AttrValue.ListValue.newBuilder();
    vars.forEach(v -> dtypes.addType(variables.get(v).dtype()));
    g.addNode(NodeDef.newBuilder().setName("save/RestoreV2").setOp("RestoreV2")
        .addInput("save/Const").addInput("save/RestoreV2/tensor_names").addInput("save/RestoreV2/shape_and_slices")
        .putAttr("dtypes", AttrValue.newBuilder().setList(dtypes).build()));
    NodeDef.Builder all = NodeDef.newBuilder().setName("save/restore_all").setOp("NoOp");
    for (int i = 0; i < names.length; i++) {
      String assign = "save/Assign_" + i;
      DataType dt = variables.get(names[i]).dtype();
      NodeDef.Builder a = NodeDef.newBuilder().setName(assign).addInput(names[i]).addInput("save/RestoreV2:" + i);
      if (style == Style.TF1) {
        a.setOp("Assign").putAttr("T", Protos.type(dt))
            .putAttr("validate_shape", AttrValue.newBuilder().setB(true).build())
            .putAttr("use_locking", AttrValue.newBuilder().setB(true).build());
      } else {
        a.setOp("AssignVariableOp").putAttr("dtype", Protos.type(dt));
      }
      g.addNode(a);
      all.addInput("^" + assign);
    }
    g.addNode(all);
  }

  /** An int32 vector constant. */
  public String constInt32(String name, long[] values) {
    org.tensorflow.proto.TensorProto.Builder t = org.tensorflow.proto.TensorProto.newBuilder()
        .setDtype(DataType.DT_INT32).setTensorShape(Protos.shape(new long[] {values.length}));
    for (long v : values) {
      t.addIntVal((int) v);
    }
    String n = unique(name);
    add(Protos.constant(n, t.build()));
    return ref(n, "Const");
  }

  private void add(NodeDef n) {
    body.add(n);
  }

  private String ref(String node, String op) {
    return style == Style.TF1 ? node : node + ":" + Protos.firstOutputArg(op) + ":0";
  }

  private String unique(String name) {
    int c = nameCounts.merge(name, 1, Integer::sum);
    return c == 1 ? name : name + "_" + (c - 1);
  }

  private static String argName(String var) {
    return var.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9_]", "_") + "_resource";
  }

  private static AttrValue ints(long[] v) {
    AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
    for (long x : v) {
      l.addI(x);
    }
    return AttrValue.newBuilder().setList(l).build();
  }

  private static TensorInfo tensorInfo(String name, long[] shape) {
    TensorInfo.Builder t = TensorInfo.newBuilder().setName(name).setDtype(DataType.DT_FLOAT);
    if (shape != null) {
      t.setTensorShape(Protos.shape(shape));
    } else {
      t.setTensorShape(org.tensorflow.proto.TensorShapeProto.newBuilder().setUnknownRank(true));
    }
    return t.build();
  }

  private static VersionDef currentVersions() {
    try (Graph g = new Graph()) {
      return g.toGraphDef().getVersions();
    }
  }
}
