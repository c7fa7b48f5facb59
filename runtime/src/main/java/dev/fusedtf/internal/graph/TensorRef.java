package dev.fusedtf.internal.graph;

import java.util.Objects;

/**
 * The {@code TensorRef} is one parsed node input or fetch string, in either syntax TensorFlow uses.
 *
 * <ul>
 *   <li>top-level GraphDef: {@code node}, {@code node:port}, {@code ^node} (control input);</li>
 *   <li>FunctionDef body: {@code node:output_arg:index}, {@code arg_name} (a function argument),
 *       {@code ^node}.</li>
 * </ul>
 *
 * <p>The output is kept as the string TensorFlow wrote after the node name ({@code ""} for port 0 in the
 * short form, {@code "1"}, or {@code "y:0"}), so a reference can be written back unchanged.
 */
public final class TensorRef {
  private final String node;
  private final String output;
  private final boolean control;

  private TensorRef(String node, String output, boolean control) {
    this.node = node;
    this.output = output;
    this.control = control;
  }

  /** Parses an input string as found in a NodeDef, a FunctionDef ret map or a signature. */
  public static TensorRef parse(String s) {
    Objects.requireNonNull(s, "tensor reference");
    if (s.startsWith("^")) {
      return new TensorRef(s.substring(1), "", true);
    }
    int colon = s.indexOf(':');
    if (colon < 0) {
      return new TensorRef(s, "", false);
    }
    return new TensorRef(s.substring(0, colon), s.substring(colon + 1), false);
  }

  /** A data reference to {@code node} with the given output suffix ({@code ""} means port 0). */
  public static TensorRef of(String node, String output) {
    return new TensorRef(node, output == null ? "" : output, false);
  }

  /** A control reference {@code ^node}. */
  public static TensorRef control(String node) {
    return new TensorRef(node, "", true);
  }

  /** The producing node's name (or, inside a function body, possibly an argument name). */
  public String node() {
    return node;
  }

  /** The output part after the first colon: {@code ""}, {@code "0"}, {@code "2"} or {@code "y:0"}. */
  public String output() {
    return output;
  }

  /** Whether this is a control input ({@code ^node}). */
  public boolean isControl() {
    return control;
  }

  /**
   * Whether this refers to the first output of its node: {@code node}, {@code node:0} or, in a function
   * body, {@code node:<arg>:0} where {@code firstOutputArg} is the name of the op's first output arg.
   */
  public boolean isFirstOutput(String firstOutputArg) {
    if (control) {
      return false;
    }
    return output.isEmpty() || output.equals("0")
        || (firstOutputArg != null && output.equals(firstOutputArg + ":0"));
  }

  /** This reference with another node name and output, keeping the control flag. */
  public TensorRef withNode(String newNode, String newOutput) {
    return new TensorRef(newNode, newOutput, control);
  }

  @Override
  public String toString() {
    if (control) {
      return "^" + node;
    }
    return output.isEmpty() ? node : node + ":" + output;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorRef r && r.control == control && r.node.equals(node) && r.output.equals(output);
  }

  @Override
  public int hashCode() {
    return Objects.hash(node, output, control);
  }
}
