package dev.fusedtf.internal.rules;

import dev.fusedtf.internal.graph.Body;
import dev.fusedtf.internal.graph.Nodes;
import dev.fusedtf.internal.graph.OpOutputs;
import dev.fusedtf.internal.graph.TensorRef;
import dev.fusedtf.report.Rewrite;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/**
 * Removes, exactly, a dropout that keeps everything: once {@code keep_prob} is pinned to 1 (or {@code rate} to 0),
 * TF1's mask {@code floor(keep_prob + random_uniform(shape(x)))} and TF 1.13+'s {@code cast(random_uniform >= rate)}
 * are all ones ({@link Ranges} proves it in float32 arithmetic), so {@code x * mask} is {@code x} and the random op
 * leaves the serving path. The mask must be shaped like {@code x} ({@code Shape(x)} of the data, not a noise shape
 * that broadcasts).
 */
final class RemoveIdleDropout implements Rule {
  static final String NAME = "remove-dropout";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<String> targetOps() {
    return Set.of("Mul");
  }

  @Override
  public Match match(RuleContext ctx, Body body, NodeDef n) {
    List<TensorRef> in = Body.dataInputs(n);
    if (in.size() != 2 || ctx.isProtected(body, n.getName())) {
      return Match.none();
    }
    for (int m = 0; m < 2; m++) {
      TensorRef mask = in.get(m);
      TensorRef x = in.get(1 - m);
      Optional<NodeDef> random = randomSource(body, mask, 0);
      if (random.isEmpty()) {
        continue;
      }
      Optional<Ranges.Range> r = Ranges.of(ctx.eval(), body, mask, 0);
      if (r.isEmpty() || !r.get().isOne() || !shapedLike(body, random.get(), x)) {
        continue;
      }
      Set<String> keep = ctx.graph().protectedNodes(body);
      Rewrite rw = new Rewrite(Rewrite.Kind.DROPOUT, List.of(n.getName(), random.get().getName()), body.functionName(),
          NAME, "dropout mask of " + random.get().getOp() + " '" + random.get().getName() + "' is all ones (keep_prob 1 "
          + "or rate 0): the multiply and the random op removed");
      return new Plan(Set.of(n.getName()), new Plan.RewriteChange(rw), ed -> {
        ed.replace(NodeDef.newBuilder().setName(n.getName()).setOp("Identity").setDevice(n.getDevice())
            .addInput(ed.currentRef(x)).addAllInput(Body.controlInputs(n))
            .putAttr("T", Nodes.type(Nodes.typeAttr(n, "T", DataType.DT_FLOAT))).build());
        ed.redirectFirstOutput(n.getName(), OpOutputs.firstOutputArg("Mul"),
            OpOutputs.firstOutputRef(body, n.getName(), "Identity"));
        ed.removeIfUnused(mask.node(), keep);
      });
    }
    return Match.none();
  }

  /** The RandomUniform the mask is computed from, if any. */
  private static Optional<NodeDef> randomSource(Body body, TensorRef ref, int depth) {
    Optional<NodeDef> p = body.producer(ref);
    if (p.isEmpty() || depth > 10) {
      return Optional.empty();
    }
    if (p.get().getOp().equals("RandomUniform")) {
      return p;
    }
    for (TensorRef r : Body.dataInputs(p.get())) {
      Optional<NodeDef> found = randomSource(body, r, depth + 1);
      if (found.isPresent()) {
        return found;
      }
    }
    return Optional.empty();
  }

  /**
   * Whether the random op's shape is {@code Shape(z)} of a tensor {@code x} is derived from element-wise with scalar
   * constants ({@code x / keep_prob}, {@code x * scale}): then the mask and {@code x} have the same shape.
   */
  private static boolean shapedLike(Body body, NodeDef random, TensorRef x) {
    List<TensorRef> in = Body.dataInputs(random);
    Optional<NodeDef> shape = in.isEmpty() ? Optional.empty() : body.producer(in.get(0));
    if (shape.isEmpty() || !shape.get().getOp().equals("Shape")) {
      return false;
    }
    String z = Body.dataInputs(shape.get()).get(0).node();
    TensorRef cur = x;
    for (int i = 0; i < 6; i++) {
      if (cur.node().equals(z)) {
        return true;
      }
      Optional<NodeDef> p = body.producer(cur);
      if (p.isEmpty() || !Set.of("RealDiv", "Mul", "Identity").contains(p.get().getOp())) {
        return false;
      }
      cur = Body.dataInputs(p.get()).get(0);
    }
    return false;
  }
}
