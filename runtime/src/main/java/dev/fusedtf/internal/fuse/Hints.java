package dev.fusedtf.internal.fuse;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.ModelGraph;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.internal.rules.Pipeline;
import dev.fusedtf.report.Hint;
import dev.fusedtf.report.SkipCode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

/**
 * Finds the placeholders worth pinning: a bool placeholder that a {@code Switch} or {@code Select} turns into a
 * training switch (pin it to false), and a float scalar placeholder that sets a dropout's keep probability (pin it
 * to 1.0) or rate (pin it to 0.0).
 */
final class Hints {
  private static final Set<String> SWITCHES = Set.of("Switch", "RefSwitch", "Select", "SelectV2", "If", "StatelessIf");
  private static final Set<String> RANDOM = Set.of("RandomUniform", "RandomStandardNormal", "TruncatedNormal");

  private Hints() {}

  static List<Hint> of(GraphDef serving, Set<String> fetch, Set<String> fed, Pipeline.Result r) {
    ModelGraph g = new ModelGraph(serving, fetch, fed);
    Body top = g.topLevel();
    Map<String, Hint> out = new LinkedHashMap<>();
    long switchSkips = r.skips().stream().filter(s -> s.code() == SkipCode.TRAINING_SWITCH).count();
    for (NodeDef n : top.nodes()) {
      boolean placeholder = n.getOp().equals("Placeholder") || n.getOp().equals("PlaceholderWithDefault");
      if (!placeholder || !g.isLive(top, n.getName())) {
        continue;
      }
      if (n.getOp().equals("PlaceholderWithDefault") && !fed.contains(n.getName())) {
        continue; // no signature feeds it: its default already holds, and the rules resolve it
      }
      DataType t = Nodes.typeAttr(n, "dtype", DataType.DT_FLOAT);
      if (n.getOp().equals("Placeholder") && !fed.contains(n.getName()) && scalar(n)) {
        String value = t == DataType.DT_BOOL ? "false" : dropoutRole(top, n.getName()) != null
            && dropoutRole(top, n.getName()).equals("rate") ? "0.0" : "1.0";
        out.put(n.getName(), new Hint(n.getName(), t == DataType.DT_BOOL ? "training-flag" : "unfed-placeholder",
            "--set " + n.getName() + ":0=" + value, "placeholder that no signature input feeds: the model cannot run "
            + "without a value for it; pin it" + (countSwitches(top, n.getName(), 0) > 0 ? " (it switches "
            + countSwitches(top, n.getName(), 0) + " tf.cond branch(es), BatchNorm statistics among them)" : "")));
        continue;
      }
      if (t == DataType.DT_BOOL) {
        int switches = countSwitches(top, n.getName(), 0);
        if (switches > 0) {
          out.put(n.getName(), new Hint(n.getName(), "training-flag", "--set " + n.getName() + ":0=false",
              "bool placeholder that selects between training and inference behaviour (" + switches
              + " switch" + (switches == 1 ? "" : "es") + (switchSkips > 0 ? ", " + switchSkips
              + " BatchNorm(s) held back by it" : "") + "); pin it to fold the inference branch"));
        }
      } else if ((t == DataType.DT_FLOAT || t == DataType.DT_DOUBLE) && scalar(n)) {
        String role = dropoutRole(top, n.getName());
        if (role != null) {
          boolean keep = role.equals("keep-prob");
          out.put(n.getName(), new Hint(n.getName(), role, "--set " + n.getName() + ":0=" + (keep ? "1.0" : "0.0"),
              "float placeholder that sets a dropout's " + (keep ? "keep probability" : "rate") + "; pin it to "
              + (keep ? "1.0" : "0.0") + " to remove the dropout exactly"));
        }
      }
    }
    return new ArrayList<>(out.values());
  }

  private static boolean scalar(NodeDef n) {
    return !n.getAttrMap().containsKey("shape") || n.getAttrMap().get("shape").getShape().getUnknownRank()
        || n.getAttrMap().get("shape").getShape().getDimCount() == 0;
  }

  /** Switch/Select/If nodes whose predicate derives from {@code name} (through Identity, LogicalNot, Cast). */
  private static int countSwitches(Body body, String name, int depth) {
    if (depth > 8) {
      return 0;
    }
    int count = 0;
    for (Body.Use u : body.dataUses(name)) {
      NodeDef c = u.consumer();
      if (c == null) {
        continue;
      }
      if (SWITCHES.contains(c.getOp())) {
        int predIndex = c.getOp().startsWith("Switch") || c.getOp().equals("RefSwitch") ? 1 : 0;
        List<TensorRef> in = Body.dataInputs(c);
        if (in.size() > predIndex && in.get(predIndex).node().equals(name)) {
          count++;
        }
      } else if (Set.of("Identity", "LogicalNot", "Cast", "Reshape").contains(c.getOp())) {
        count += countSwitches(body, c.getName(), depth + 1);
      }
    }
    return count;
  }

  /** {@code keep-prob} when the placeholder is added to random noise (TF1 dropout), {@code rate} when compared with it. */
  private static String dropoutRole(Body body, String name) {
    for (Body.Use u : body.dataUses(name)) {
      NodeDef c = u.consumer();
      if (c == null) {
        continue;
      }
      List<TensorRef> in = Body.dataInputs(c);
      if ((c.getOp().equals("Add") || c.getOp().equals("AddV2")) && in.stream().anyMatch(r -> random(body, r, 0))) {
        return "keep-prob";
      }
      if ((c.getOp().equals("GreaterEqual") || c.getOp().equals("Greater")) && in.size() == 2
          && random(body, in.get(0), 0)) {
        return "rate";
      }
      if (c.getOp().equals("Sub") || c.getOp().equals("Identity")) {
        String inner = dropoutRole(body, c.getName());
        if (inner != null) {
          return c.getOp().equals("Sub") ? (inner.equals("rate") ? "keep-prob" : "rate") : inner;
        }
      }
    }
    return null;
  }

  private static boolean random(Body body, TensorRef r, int depth) {
    Optional<NodeDef> p = body.producer(r);
    if (p.isEmpty() || depth > 4) {
      return false;
    }
    if (RANDOM.contains(p.get().getOp())) {
      return true;
    }
    return Set.of("Mul", "Add", "AddV2").contains(p.get().getOp())
        && Body.dataInputs(p.get()).stream().anyMatch(x -> random(body, x, depth + 1));
  }
}
