#!/usr/bin/env bash
# Runs the A/B harness (dev.fusedtf.bench.BenchMain) on one model, after waiting (up to IDLE_WAIT_S seconds,
# default 120) until the machine is idle: less than IDLE_MAX_PCT (default 10) percent CPU busy over 2 s.
# Usage: benchmarks/run-ab.sh <model-dir> [BenchMain options...]
# Needs `mvn -B -q -o -pl benchmarks package` first (and fusedtf-runtime installed in ~/.m2).
# Writes the classpath to /tmp/bench.cp (override with BENCH_CP=file).
set -euo pipefail
cd "$(dirname "$0")/.."
cpfile=${BENCH_CP:-/tmp/bench.cp}
mvn -B -q -o -pl benchmarks dependency:build-classpath -Dmdep.outputFile="$cpfile" >&2
if ! grep -q tensorflow-core-api "$cpfile"; then
  # The installed runtime POM can be unresolvable (e.g. its parent in ~/.m2 is older than the runtime: Maven then
  # warns "The POM for dev.fusedtf:fusedtf-runtime ... is invalid" and drops ALL its transitive dependencies).
  # Fall back to the runtime module's own dependency list (read-only resolution; nothing is built).
  echo "[run-ab] installed fusedtf-runtime POM unresolvable (stale fusedtf-parent in ~/.m2?);" \
       "adding the runtime module's dependencies" >&2
  mvn -B -q -o -pl runtime dependency:build-classpath -Dmdep.includeScope=runtime \
      -Dmdep.outputFile="$cpfile.runtime" >&2
  printf ':%s' "$(cat "$cpfile.runtime")" >> "$cpfile"
fi
busy_pct() {
  read -r _ u n s i w q sq st _ < /proc/stat; local b0=$((u+n+s+q+sq+st)) t0=$((u+n+s+i+w+q+sq+st))
  sleep 2
  read -r _ u n s i w q sq st _ < /proc/stat; local b1=$((u+n+s+q+sq+st)) t1=$((u+n+s+i+w+q+sq+st))
  echo $(( 100 * (b1-b0) / (t1-t0) ))
}
deadline=$(( $(date +%s) + ${IDLE_WAIT_S:-120} ))
while :; do
  pct=$(busy_pct)
  [ "$pct" -lt "${IDLE_MAX_PCT:-10}" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "[run-ab] machine still ${pct}% busy; running anyway" >&2; break; fi
  echo "[run-ab] machine ${pct}% busy, waiting" >&2
done
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec java -cp "benchmarks/target/classes:$(cat "$cpfile")" dev.fusedtf.bench.BenchMain "$@"
