package dev.fusedtf.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code CpuMonitor} estimates, on Linux, how busy the machine was with work OTHER than this process between
 * {@link #start()} and {@link #otherBusyPercent()}: (machine busy ticks - this process's ticks) / machine total ticks,
 * from {@code /proc/stat} and {@code /proc/self/stat}. A high figure means the timings were taken on a shared,
 * contended machine. Returns NaN where the files cannot be read.
 */
final class CpuMonitor {
  private long busy0;
  private long total0;
  private long self0;
  private boolean ok;

  /** Takes the starting snapshot. */
  CpuMonitor start() {
    long[] m = machine();
    long s = self();
    ok = m != null && s >= 0;
    if (ok) {
      busy0 = m[0];
      total0 = m[1];
      self0 = s;
    }
    return this;
  }

  /** Percent of the whole machine's CPU time (0-100) used by other processes since {@link #start()}. */
  double otherBusyPercent() {
    long[] m = machine();
    long s = self();
    if (!ok || m == null || s < 0 || m[1] <= total0) {
      return Double.NaN;
    }
    double other = (m[0] - busy0) - (s - self0);
    return Math.max(0, 100.0 * other / (m[1] - total0));
  }

  /** {busy, total} ticks of all CPUs, or null. */
  private static long[] machine() {
    try {
      String line = Files.readAllLines(Path.of("/proc/stat")).get(0);
      String[] f = line.trim().split("\\s+");
      // cpu user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user/nice]
      long user = Long.parseLong(f[1]);
      long nice = Long.parseLong(f[2]);
      long system = Long.parseLong(f[3]);
      long idle = Long.parseLong(f[4]);
      long iowait = Long.parseLong(f[5]);
      long irq = Long.parseLong(f[6]);
      long softirq = Long.parseLong(f[7]);
      long steal = f.length > 8 ? Long.parseLong(f[8]) : 0;
      long busy = user + nice + system + irq + softirq + steal;
      return new long[] {busy, busy + idle + iowait};
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** utime + stime ticks of this process, or -1. */
  private static long self() {
    try {
      String s = Files.readString(Path.of("/proc/self/stat"));
      String[] f = s.substring(s.lastIndexOf(')') + 2).trim().split("\\s+");
      // after "pid (comm) ": state is f[0], so utime (field 14) is f[11] and stime (15) f[12]
      return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
