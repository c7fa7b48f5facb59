package dev.fusedtf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.fusedtf.internal.serve.WarmupRecords;
import dev.fusedtf.internal.weights.TensorCodec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Tensor;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.TensorProto;

class WarmupRecordsTest {
  @TempDir Path tmp;

  /** A PredictionLog{predict_log{request{model_spec{signature_name}, inputs{key: value}}}} as TF Serving writes it. */
  static byte[] predictionLog(String signature, String input, TensorProto value) throws IOException {
    byte[] spec = bytes(o -> o.writeString(3, signature));
    byte[] entry = bytes(o -> {
      o.writeString(1, input);
      o.writeByteArray(2, value.toByteArray());
    });
    byte[] request = bytes(o -> {
      o.writeByteArray(1, spec);
      o.writeByteArray(2, entry);
    });
    byte[] log = bytes(o -> o.writeByteArray(1, request));
    return bytes(o -> o.writeByteArray(6, log));
  }

  interface Writer {
    void write(CodedOutputStream o) throws IOException;
  }

  static byte[] bytes(Writer w) throws IOException {
    ByteArrayOutputStream bos = new ByteArrayOutputStream();
    CodedOutputStream o = CodedOutputStream.newInstance(bos);
    w.write(o);
    o.flush();
    return bos.toByteArray();
  }

  static byte[] tfrecord(List<byte[]> records) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] r : records) {
      byte[] len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(r.length).array();
      out.writeBytes(len);
      out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(WarmupRecords.maskedCrc(len)).array());
      out.writeBytes(r);
      out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(WarmupRecords.maskedCrc(r)).array());
    }
    return out.toByteArray();
  }

  @Test
  void readsPredictRequestsOfATfServingWarmupFile() throws IOException {
    TensorProto x = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT)
        .setTensorShape(TensorCodec.shapeProto(new long[] {1, 2})).addFloatVal(0.5f).addFloatVal(-1f).build();
    TensorProto words = TensorProto.newBuilder().setDtype(DataType.DT_STRING)
        .setTensorShape(TensorCodec.shapeProto(new long[] {1})).addStringVal(ByteString.copyFromUtf8("hi")).build();
    Path dir = Files.createDirectories(tmp.resolve("m/assets.extra"));
    Files.write(dir.resolve("tf_serving_warmup_requests"), tfrecord(List.of(
        predictionLog("serving_default", "x", x), predictionLog("", "words", words))));
    List<WarmupRecords.Request> reqs = WarmupRecords.read(tmp.resolve("m"));
    assertEquals(2, reqs.size());
    assertEquals("serving_default", reqs.get(0).signature());
    assertEquals(x, reqs.get(0).inputs().get("x"));
    try (Tensor t = TensorCodec.toTensor(reqs.get(0).inputs().get("x"));
         Tensor s = TensorCodec.toTensor(reqs.get(1).inputs().get("words"))) {
      assertEquals(-1.0, TensorCodec.fromTensor(t).get(1), 0);
      assertEquals(DataType.DT_STRING, s.dataType());
    }
    assertEquals(List.of(), WarmupRecords.read(tmp.resolve("none")));
    byte[] corrupt = tfrecord(List.of(predictionLog("s", "x", x)));
    corrupt[corrupt.length - 6] ^= 1;
    assertThrows(IOException.class, () -> WarmupRecords.parse(corrupt));
  }
}
