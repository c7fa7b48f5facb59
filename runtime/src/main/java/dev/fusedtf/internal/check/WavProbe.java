package dev.fusedtf.internal.check;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

/** Generates WAV file bytes (16-bit PCM mono noise) for models whose input is an encoded WAV ({@code DecodeWav}). */
public final class WavProbe {
  private WavProbe() {}

  /** {@code samples} samples of uniform noise at {@code rate} Hz, as the bytes of a .wav file. */
  public static byte[] noise(int samples, int rate, long seed) {
    Random rnd = new Random(seed);
    ByteBuffer data = ByteBuffer.allocate(samples * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < samples; i++) {
      data.putShort((short) (rnd.nextInt(16000) - 8000));
    }
    ByteBuffer h = ByteBuffer.allocate(44).order(ByteOrder.LITTLE_ENDIAN);
    h.put("RIFF".getBytes()).putInt(36 + samples * 2).put("WAVE".getBytes());
    h.put("fmt ".getBytes()).putInt(16).putShort((short) 1).putShort((short) 1).putInt(rate).putInt(rate * 2)
        .putShort((short) 2).putShort((short) 16);
    h.put("data".getBytes()).putInt(samples * 2);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(h.array());
    out.writeBytes(data.array());
    return out.toByteArray();
  }
}
