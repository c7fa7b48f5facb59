package dev.fusedtf.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;

/**
 * The {@code Profiler} says where the time of one call goes, from TensorFlow's own step stats (RunOptions FULL_TRACE):
 * per op type and per node, time per call and share of all op time, the ops executed per call, and the per-call fixed
 * cost (ops that do no arithmetic: variable handles and reads, constants, identities, function argument plumbing),
 * next to the untraced wall-clock median of the same call.
 */
public final class Profiler {
  private static final Pattern LABEL = Pattern.compile("^(?:\\[[^\\]]*\\] )?(\\S+) = ([A-Za-z0-9_.>]+)");
  /** Ops that move or name data without computing: what a call pays whatever the batch. */
  public static final Set<String> BOOKKEEPING = Set.of("VarHandleOp", "ReadVariableOp", "Const", "Identity", "NoOp",
      "_Arg", "_Retval", "_Recv", "_Send", "_HostRecv", "_HostSend", "IdentityN", "Placeholder");
  /** Function calls: their time includes the body's ops, which step stats list too, so they are not summed. */
  public static final Set<String> CALLS = Set.of("StatefulPartitionedCall", "PartitionedCall");

  private Profiler() {}

  /** Time per call of one op type. */
  public record OpStat(String op, double countPerCall, double usPerCall, double share) {}

  /** Time per call of one node. */
  public record NodeStat(String node, String op, double usPerCall, double share) {}

  /**
   * Where a call's time goes.
   *
   * @param wallMsMedian untraced wall-clock median of a call
   * @param opUsPerCall sum of all op times per call (over both threads; can exceed the wall time)
   * @param opsPerCall ops executed per call
   * @param fixedUsPerCall time of {@link #BOOKKEEPING} ops per call
   * @param byOp per op type, most time first
   * @param topNodes the nodes taking most time
   */
  public record Profile(double wallMsMedian, double opUsPerCall, double opsPerCall, double fixedUsPerCall,
      List<OpStat> byOp, List<NodeStat> topNodes) {}

  /** Profiles {@code runs} traced calls of {@code sig} on {@code inputs} (after warming up), plus untraced timing. */
  public static Profile profile(Session session, Signature sig, Map<String, Tensor> inputs, int runs) {
    for (int i = 0; i < 10; i++) {
      run(session, sig, inputs, false).close();
    }
    long[] wall = new long[Math.max(runs, 20)];
    for (int i = 0; i < wall.length; i++) {
      long t = System.nanoTime();
      run(session, sig, inputs, false).close();
      wall[i] = System.nanoTime() - t;
    }
    Arrays.sort(wall);
    Map<String, double[]> ops = new LinkedHashMap<>(); // op -> {count, us}
    Map<String, double[]> nodes = new LinkedHashMap<>(); // node -> {us}
    Map<String, String> opOf = new LinkedHashMap<>();
    for (int i = 0; i < runs; i++) {
      try (Result r = run(session, sig, inputs, true)) {
        RunMetadata md = r.getMetadata().orElse(null);
        if (md == null) {
          continue;
        }
        for (DeviceStepStats dev : md.getStepStats().getDevStatsList()) {
          for (NodeExecStats n : dev.getNodeStatsList()) {
            Matcher m = LABEL.matcher(n.getTimelineLabel());
            String op = m.find() ? m.group(2) : n.getNodeName().startsWith("_") ? n.getNodeName() : "(other)";
            long us = Math.max(0, n.getOpEndRelMicros() - n.getOpStartRelMicros());
            double[] o = ops.computeIfAbsent(op, k -> new double[2]);
            o[0]++;
            o[1] += us;
            String key = dev.getDevice() + "|" + n.getNodeName();
            nodes.computeIfAbsent(key, k -> new double[1])[0] += us;
            opOf.put(key, op);
          }
        }
      }
    }
    double total = ops.entrySet().stream().filter(e -> !CALLS.contains(e.getKey()))
        .mapToDouble(e -> e.getValue()[1]).sum();
    double count = ops.entrySet().stream().filter(e -> !CALLS.contains(e.getKey()))
        .mapToDouble(e -> e.getValue()[0]).sum();
    double fixed = 0;
    List<OpStat> byOp = new ArrayList<>();
    for (Map.Entry<String, double[]> e : ops.entrySet()) {
      double us = e.getValue()[1] / runs;
      byOp.add(new OpStat(e.getKey(), e.getValue()[0] / runs, us, total > 0 ? e.getValue()[1] / total : 0));
      if (BOOKKEEPING.contains(e.getKey())) {
        fixed += us;
      }
    }
    byOp.sort(Comparator.comparingDouble(OpStat::usPerCall).reversed());
    List<NodeStat> top = new ArrayList<>();
    for (Map.Entry<String, double[]> e : nodes.entrySet()) {
      String node = e.getKey().substring(e.getKey().indexOf('|') + 1);
      top.add(new NodeStat(node, opOf.get(e.getKey()), e.getValue()[0] / runs, total > 0 ? e.getValue()[0] / total : 0));
    }
    top.sort(Comparator.comparingDouble(NodeStat::usPerCall).reversed());
    return new Profile(wall[wall.length / 2] / 1e6, total / runs, count / runs, fixed,
        List.copyOf(byOp), List.copyOf(top.subList(0, Math.min(15, top.size()))));
  }

  private static Result run(Session s, Signature sig, Map<String, Tensor> inputs, boolean trace) {
    Session.Runner r = s.runner();
    for (Map.Entry<String, Signature.TensorDescription> e : sig.getInputs().entrySet()) {
      r.feed(e.getValue().name, inputs.get(e.getKey()));
    }
    sig.getOutputs().values().forEach(d -> r.fetch(d.name));
    if (trace) {
      r.setOptions(RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build());
      return r.runAndFetchMetadata();
    }
    return r.run();
  }

  /** A profile as text: the op types (top {@code rows}) and the nodes. */
  public static String toText(String title, Profile p, int rows) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format("== %s: wall %.3f ms/call (median, untraced); op time %.0f us/call over %.0f ops; "
        + "fixed cost (bookkeeping ops) %.0f us/call (%.0f%%)%n", title, p.wallMsMedian(), p.opUsPerCall(),
        p.opsPerCall(), p.fixedUsPerCall(), p.opUsPerCall() > 0 ? 100 * p.fixedUsPerCall() / p.opUsPerCall() : 0));
    sb.append(String.format("   %-32s %8s %10s %7s%n", "op type", "per call", "us/call", "share"));
    for (OpStat o : p.byOp().subList(0, Math.min(rows, p.byOp().size()))) {
      String label = CALLS.contains(o.op()) ? o.op() + " (incl. body)" : o.op();
      sb.append(String.format("   %-32s %8.1f %10.1f %6.1f%%%n", label, o.countPerCall(), o.usPerCall(),
          100 * o.share()));
    }
    sb.append(String.format("   %-60s %-26s %10s %7s%n", "top nodes", "op", "us/call", "share"));
    for (NodeStat n : p.topNodes()) {
      String name = n.node().length() > 60 ? "..." + n.node().substring(n.node().length() - 57) : n.node();
      sb.append(String.format("   %-60s %-26s %10.1f %6.1f%%%n", name, n.op(), n.usPerCall(), 100 * n.share()));
    }
    return sb.toString();
  }
}
