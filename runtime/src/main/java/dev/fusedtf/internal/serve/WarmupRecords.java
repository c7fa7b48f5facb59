package dev.fusedtf.internal.serve;

import com.google.protobuf.CodedInputStream;
import dev.fusedtf.errors.FusedTfException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.tensorflow.proto.TensorProto;

/**
 * The {@code WarmupRecords} reads TF Serving's warm-up file, {@code assets.extra/tf_serving_warmup_requests}: a
 * TFRecord file of {@code PredictionLog} protos. Only {@code predict_log} records are used (their request's
 * signature name and input tensors); CRCs are verified. The serving protos are read field by field, so no
 * TensorFlow Serving dependency is needed.
 */
public final class WarmupRecords {
  /** Where TF Serving looks for the file, relative to the SavedModel directory. */
  public static final String PATH = "assets.extra/tf_serving_warmup_requests";

  private WarmupRecords() {}

  /** One predict request: its signature ({@code ""} for the default) and inputs. */
  public record Request(String signature, Map<String, TensorProto> inputs) {}

  /** The predict requests of {@code modelDir}'s warm-up file; empty when there is none. */
  public static List<Request> read(Path modelDir) {
    Path file = modelDir.resolve(PATH);
    if (!Files.isRegularFile(file)) {
      return List.of();
    }
    try {
      return parse(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new FusedTfException("cannot read warm-up records " + file + ": " + e.getMessage(), e);
    }
  }

  /** Parses TFRecord bytes. */
  public static List<Request> parse(byte[] data) throws IOException {
    List<Request> out = new ArrayList<>();
    ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    while (bb.remaining() > 0) {
      if (bb.remaining() < 12) {
        throw new IOException("truncated record header");
      }
      byte[] lenBytes = new byte[8];
      bb.get(lenBytes);
      long len = ByteBuffer.wrap(lenBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
      int lenCrc = bb.getInt();
      if (lenCrc != maskedCrc(lenBytes)) {
        throw new IOException("bad length CRC");
      }
      if (len < 0 || len > bb.remaining() - 4) {
        throw new IOException("truncated record");
      }
      byte[] rec = new byte[(int) len];
      bb.get(rec);
      if (bb.getInt() != maskedCrc(rec)) {
        throw new IOException("bad data CRC");
      }
      Request r = predictionLog(rec);
      if (r != null) {
        out.add(r);
      }
    }
    return out;
  }

  /** TFRecord's masked CRC-32C. */
  public static int maskedCrc(byte[] b) {
    CRC32C crc = new CRC32C();
    crc.update(b);
    int c = (int) crc.getValue();
    return ((c >>> 15) | (c << 17)) + 0xa282ead8;
  }

  private static Request predictionLog(byte[] rec) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(rec);
    Request found = null;
    while (!in.isAtEnd()) {
      int tag = in.readTag();
      if (tag >>> 3 == 6) { // predict_log
        CodedInputStream log = CodedInputStream.newInstance(in.readByteArray());
        while (!log.isAtEnd()) {
          int t = log.readTag();
          if (t >>> 3 == 1) { // request
            found = predictRequest(log.readByteArray());
          } else {
            log.skipField(t);
          }
        }
      } else {
        in.skipField(tag);
      }
    }
    return found;
  }

  private static Request predictRequest(byte[] b) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(b);
    String signature = "";
    Map<String, TensorProto> inputs = new LinkedHashMap<>();
    while (!in.isAtEnd()) {
      int tag = in.readTag();
      switch (tag >>> 3) {
        case 1 -> { // model_spec
          CodedInputStream spec = CodedInputStream.newInstance(in.readByteArray());
          while (!spec.isAtEnd()) {
            int t = spec.readTag();
            if (t >>> 3 == 3) {
              signature = spec.readString();
            } else {
              spec.skipField(t);
            }
          }
        }
        case 2 -> { // inputs map entry
          CodedInputStream entry = CodedInputStream.newInstance(in.readByteArray());
          String key = "";
          TensorProto value = TensorProto.getDefaultInstance();
          while (!entry.isAtEnd()) {
            int t = entry.readTag();
            if (t >>> 3 == 1) {
              key = entry.readString();
            } else if (t >>> 3 == 2) {
              value = TensorProto.parseFrom(entry.readByteArray());
            } else {
              entry.skipField(t);
            }
          }
          inputs.put(key, value);
        }
        default -> in.skipField(tag);
      }
    }
    return new Request(signature, inputs);
  }
}
