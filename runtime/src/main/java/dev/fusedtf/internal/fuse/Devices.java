package dev.fusedtf.internal.fuse;

import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/** Which device sessions run on: layout rules are for CPU only (on a GPU, channels-first is the fast layout). */
public final class Devices {
  private static volatile Boolean gpu;

  private Devices() {}

  /** Whether a session with {@code config} runs on CPU: no GPU in this process, or the config allows none. */
  public static boolean cpu(ConfigProto config) {
    if (config != null && config.getDeviceCountMap().getOrDefault("GPU", 1) == 0) {
      return true;
    }
    return !gpuAvailable(config);
  }

  /**
   * Whether TensorFlow sees a GPU (asked once per process: a node placed on GPU:0 without soft placement, in a
   * session with {@code config}, since the first session of a process fixes its thread pools).
   */
  public static boolean gpuAvailable(ConfigProto config) {
    Boolean g = gpu;
    if (g == null) {
      synchronized (Devices.class) {
        if (gpu == null) {
          gpu = probe(config);
        }
        g = gpu;
      }
    }
    return g;
  }

  private static boolean probe(ConfigProto config) {
    GraphDef gd = GraphDef.newBuilder().addNode(NodeDef.newBuilder().setName("probe").setOp("NoOp")
        .setDevice("/device:GPU:0")).build();
    try (Graph graph = new Graph()) {
      graph.importGraphDef(gd);
      ConfigProto c = (config != null ? config.toBuilder() : ConfigProto.newBuilder()).setAllowSoftPlacement(false).build();
      try (Session s = new Session(graph, c)) {
        s.runner().addTarget("probe").run();
        return true;
      }
    } catch (RuntimeException e) {
      return false;
    }
  }
}
