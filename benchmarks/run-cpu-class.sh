#!/usr/bin/env bash
# Benchmarks every model of the CPU-class table in docs/benchmarks.md on this machine, once with oneDNN off
# (TF_ENABLE_ONEDNN_OPTS=0) and once on (=1): `./fusedtf bench --json` per model, A/B interleaved in one process,
# plus the time to first prediction. Writes benchmarks/results/<cpu-class>-onednn<0|1>/<model>.json and prints one
# markdown table per setting.
#
# Usage: benchmarks/run-cpu-class.sh [SECONDS_PER_BATCH (default 8)] [FIRST_PREDICTION_ROUNDS (default 3)]
# The demo models are written under cli/target/demo-models if missing; the shared models are read from
# ../shared/models (skipped when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-8}
first=${2:-3}
class=$(grep -q avx512f /proc/cpuinfo && echo avx512 || echo avx2)
demo=cli/target/demo-models
shared=../shared/models
if [ ! -d "$demo/resnet-style" ]; then
  ./fusedtf demo --batches 1 --seconds 1 --rounds 5 >/dev/null
fi
models=("$demo/resnet-style:1,32" "$demo/mobilenetv2-style:1,32" "$demo/conv-bn-relu:1,32")
for m in tf2-keras-kws-dscnn-bias-bn:1,32 tf2-keras-eegnet-dwconv-bn:1,8 tf1-savedmodel-pbtxt-mlp-bn:1,32; do
  [ -d "$shared/${m%%:*}" ] && models+=("$shared/$m")
done
for onednn in 0 1; do
  out=benchmarks/results/$class-onednn$onednn
  mkdir -p "$out"
  for entry in "${models[@]}"; do
    dir=${entry%%:*}
    batches=${entry##*:}
    name=$(basename "$dir")
    echo "[run-cpu-class] $class oneDNN=$onednn $name (batches $batches)" >&2
    TF_ENABLE_ONEDNN_OPTS=$onednn ./fusedtf bench "$dir" --batches "$batches" --seconds "$seconds" \
        --first-prediction "$first" --json > "$out/$name.json" 2> "$out/$name.log" \
      || { echo "[run-cpu-class] $name failed, see $out/$name.log" >&2; continue; }
  done
  python3 - "$out" "$class" "$onednn" <<'EOF'
import json, os, sys
out, cls, onednn = sys.argv[1:4]
print(f"\n{cls}, oneDNN {'on' if onednn == '1' else 'off'} (TF_ENABLE_ONEDNN_OPTS={onednn}); times in ms\n")
print("| model | served | folds | batch | orig median | fused median | **fused/orig** | other% | "
      "first prediction: plain | FusedModel.load | fuseInBackground | disk cache |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for f in sorted(os.listdir(out)):
    if not f.endswith(".json"):
        continue
    try:
        d = json.load(open(os.path.join(out, f)))
    except ValueError:
        continue
    fp = d.get("firstPrediction", {})
    def first(way):
        e = fp.get(way)
        return "" if e is None else f"{e['medianMs']:.0f} ({e['ratioToPlain']:.2f}x)"
    for i, b in enumerate(d["batches"]):
        tail = [first("plain"), first("foreground"), first("background"), first("disk_cache")] if i == 0 else [""] * 4
        print(f"| {f[:-5]} | {d['served']} | {d['folds']} | {b['batch']} | {b['originalMedianMs']:.3f} | "
              f"{b['fusedMedianMs']:.3f} | **{b['ratio']:.2f}** | {b['otherCpuPercent']:.0f} | " + " | ".join(tail) + " |")
EOF
done
