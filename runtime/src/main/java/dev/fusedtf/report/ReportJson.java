package dev.fusedtf.report;

import com.google.gson.GsonBuilder;
import com.google.gson.TypeAdapter;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;
import java.io.IOException;

/**
 * The JSON conventions of FusedTF's reports: pretty-printed, nulls written out, no HTML escaping, and NaN or
 * infinite numbers (a check that could not run, an unknown figure) written as {@code null}, because JSON has no
 * such numbers and strict parsers reject them.
 */
final class ReportJson {
  private static final TypeAdapter<Double> FINITE_OR_NULL = new TypeAdapter<>() {
    @Override
    public void write(JsonWriter out, Double v) throws IOException {
      if (v == null || v.isNaN() || v.isInfinite()) {
        out.nullValue();
      } else {
        out.value(v);
      }
    }

    @Override
    public Double read(JsonReader in) throws IOException {
      if (in.peek() == JsonToken.NULL) {
        in.nextNull();
        return Double.NaN;
      }
      return in.nextDouble();
    }
  };

  private static final TypeAdapter<Served> SERVED = new TypeAdapter<>() {
    @Override
    public void write(JsonWriter out, Served v) throws IOException {
      if (v == null) {
        out.nullValue();
      } else {
        out.value(v.label());
      }
    }

    @Override
    public Served read(JsonReader in) throws IOException {
      if (in.peek() == JsonToken.NULL) {
        in.nextNull();
        return null;
      }
      return Served.ofLabel(in.nextString());
    }
  };

  private ReportJson() {}

  /** A Gson builder set up with these conventions. */
  static GsonBuilder builder() {
    return new GsonBuilder()
        .setPrettyPrinting()
        .serializeNulls()
        .disableHtmlEscaping()
        .registerTypeAdapter(Double.class, FINITE_OR_NULL)
        .registerTypeAdapter(double.class, FINITE_OR_NULL)
        .registerTypeAdapter(Served.class, SERVED);
  }
}
