package dev.fusedtf.internal.source;

/**
 * FarmHash's {@code Fingerprint64} ({@code farmhashna::Hash64}), the hash TensorFlow's {@code fingerprint.pb}
 * records of {@code saved_model.pb} as {@code saved_model_checksum}. Bytes are read little-endian, as FarmHash does.
 */
final class FarmHash {
  private static final long K0 = 0xc3a5c85c97cb3127L;
  private static final long K1 = 0xb492b66fbe98f273L;
  private static final long K2 = 0x9ae16a3b2f90404fL;

  private FarmHash() {}

  /** The 64-bit fingerprint of {@code s}. */
  static long fingerprint64(byte[] s) {
    int len = s.length;
    if (len <= 32) {
      return len <= 16 ? len0to16(s, len) : len17to32(s, len);
    }
    if (len <= 64) {
      return len33to64(s, len);
    }
    long seed = 81;
    long x = seed;
    long y = seed * K1 + 113;
    long z = shiftMix(y * K2 + 113) * K2;
    long[] v = {0, 0};
    long[] w = {0, 0};
    x = x * K2 + fetch64(s, 0);
    int end = ((len - 1) / 64) * 64;
    int last64 = end + ((len - 1) & 63) - 63;
    int p = 0;
    do {
      x = rot(x + y + v[0] + fetch64(s, p + 8), 37) * K1;
      y = rot(y + v[1] + fetch64(s, p + 48), 42) * K1;
      x ^= w[1];
      y += v[0] + fetch64(s, p + 40);
      z = rot(z + w[0], 33) * K1;
      v = weak(s, p, v[1] * K1, x + w[0]);
      w = weak(s, p + 32, z + w[1], y + fetch64(s, p + 16));
      long t = z;
      z = x;
      x = t;
      p += 64;
    } while (p != end);
    long mul = K1 + ((z & 0xff) << 1);
    p = last64;
    w[0] += ((len - 1) & 63);
    v[0] += w[0];
    w[0] += v[0];
    x = rot(x + y + v[0] + fetch64(s, p + 8), 37) * mul;
    y = rot(y + v[1] + fetch64(s, p + 48), 42) * mul;
    x ^= w[1] * 9;
    y += v[0] * 9 + fetch64(s, p + 40);
    z = rot(z + w[0], 33) * mul;
    v = weak(s, p, v[1] * mul, x + w[0]);
    w = weak(s, p + 32, z + w[1], y + fetch64(s, p + 16));
    long t = z;
    z = x;
    x = t;
    return hashLen16(hashLen16(v[0], w[0], mul) + shiftMix(y) * K0 + z, hashLen16(v[1], w[1], mul) + x, mul);
  }

  private static long fetch64(byte[] s, int i) {
    long r = 0;
    for (int b = 7; b >= 0; b--) {
      r = (r << 8) | (s[i + b] & 0xffL);
    }
    return r;
  }

  private static long fetch32(byte[] s, int i) {
    long r = 0;
    for (int b = 3; b >= 0; b--) {
      r = (r << 8) | (s[i + b] & 0xffL);
    }
    return r;
  }

  private static long rot(long v, int shift) {
    return shift == 0 ? v : (v >>> shift) | (v << (64 - shift));
  }

  private static long shiftMix(long v) {
    return v ^ (v >>> 47);
  }

  private static long hashLen16(long u, long v, long mul) {
    long a = (u ^ v) * mul;
    a ^= a >>> 47;
    long b = (v ^ a) * mul;
    b ^= b >>> 47;
    return b * mul;
  }

  private static long len0to16(byte[] s, int len) {
    if (len >= 8) {
      long mul = K2 + len * 2L;
      long a = fetch64(s, 0) + K2;
      long b = fetch64(s, len - 8);
      long c = rot(b, 37) * mul + a;
      long d = (rot(a, 25) + b) * mul;
      return hashLen16(c, d, mul);
    }
    if (len >= 4) {
      long mul = K2 + len * 2L;
      long a = fetch32(s, 0);
      return hashLen16(len + (a << 3), fetch32(s, len - 4), mul);
    }
    if (len > 0) {
      int a = s[0] & 0xff;
      int b = s[len >> 1] & 0xff;
      int c = s[len - 1] & 0xff;
      long y = (a + ((long) b << 8)) & 0xffffffffL;
      long z = (len + ((long) c << 2)) & 0xffffffffL;
      return shiftMix(y * K2 ^ z * K0) * K2;
    }
    return K2;
  }

  private static long len17to32(byte[] s, int len) {
    long mul = K2 + len * 2L;
    long a = fetch64(s, 0) * K1;
    long b = fetch64(s, 8);
    long c = fetch64(s, len - 8) * mul;
    long d = fetch64(s, len - 16) * K2;
    return hashLen16(rot(a + b, 43) + rot(c, 30) + d, a + rot(b + K2, 18) + c, mul);
  }

  private static long len33to64(byte[] s, int len) {
    long mul = K2 + len * 2L;
    long a = fetch64(s, 0) * K2;
    long b = fetch64(s, 8);
    long c = fetch64(s, len - 8) * mul;
    long d = fetch64(s, len - 16) * K2;
    long y = rot(a + b, 43) + rot(c, 30) + d;
    long z = hashLen16(y, a + rot(b + K2, 18) + c, mul);
    long e = fetch64(s, 16) * mul;
    long f = fetch64(s, 24);
    long g = (y + fetch64(s, len - 32)) * mul;
    long h = (z + fetch64(s, len - 24)) * mul;
    return hashLen16(rot(e + f, 43) + rot(g, 30) + h, e + rot(f + a, 18) + g, mul);
  }

  private static long[] weak(byte[] s, int i, long a, long b) {
    long w = fetch64(s, i);
    long x = fetch64(s, i + 8);
    long y = fetch64(s, i + 16);
    long z = fetch64(s, i + 24);
    a += w;
    b = rot(b + a + z, 21);
    long c = a;
    a += x;
    a += y;
    b += rot(a, 44);
    return new long[] {a + z, b + c};
  }
}
