#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, as one script for a lent device machine
# (see ../.library/device/README.md): the sweep on the GPU against the CPU
# backend on all cores, a million replicas of a year of hourly steps, the
# GPU/CPU agreement, a short `twin record` made on the GPU as a fixture, with nvidia-smi beside it,
# `twin record` stopped by Ctrl-C, and the telemetry import on two cores.
#
# Prepare here, once (x86-64, release):
#   cargo build --release && mkdir -p .device && cp target/release/twin .device/
#   echo /.gl/ >>.git/info/exclude; echo /.device/ >>.git/info/exclude
#   mkdir -p .gl /tmp/amd64/partial; o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update; (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# Then run it there with `carry = [".gl", ".device"]`: `bash scripts/device-check.sh`.
# Everything it finds goes to $OUT (or ./device-out).
set -u
OUT=${OUT:-device-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
TWIN=${TWIN:-.device/twin}

# The Vulkan loader and libglvnd: NVIDIA's Vulkan driver lives in libGLX_nvidia,
# which needs libGLdispatch; CUDA images often lack both.
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
nproc

echo "== 1. the reference sweep: GPU against the CPU backend on every core, same run"
"$TWIN" sweep spot-inference --replicas 1048576 --step 4m --backend gpu --bench --format json >"$OUT/bench-reference.json"
python3 -c "import json; print(json.load(open('$OUT/bench-reference.json'))['bench']['line'])"

echo "== 2. a million replicas of a year of hourly steps (GPU wall time, tallies only)"
sed 's/^horizon = "2d"/horizon = "365d"/' scenarios/spot-inference.toml >/tmp/year.toml
"$TWIN" sweep /tmp/year.toml --replicas 1000000 --step 1h --backend gpu --format json >"$OUT/year.json"
python3 -c "import json; d=json.load(open('$OUT/year.json')); print(d['steps'], 'steps ×', d['replicas'], 'replicas:', round(d['seconds'], 3), 's')"

echo "== 3. GPU against CPU on the same sweep (means within 1e-3 relative)"
for b in gpu cpu; do
    "$TWIN" sweep spot-inference --replicas 20000 --vary spot_share=0..1:3 --backend $b --format json >"$OUT/agree-$b.json"
done
python3 - "$OUT" <<'EOF'
import json, sys
g = json.load(open(f"{sys.argv[1]}/agree-gpu.json"))["points"]
c = json.load(open(f"{sys.argv[1]}/agree-cpu.json"))["points"]
worst = 0.0
for a, b in zip(g, c):
    for k in ("mean", "p50"):
        worst = max(worst, abs(a["cost"][k] - b["cost"][k]) / max(abs(b["cost"][k]), 1e-9))
    worst = max(worst, abs(a["slo_attainment"]["mean"] - b["slo_attainment"]["mean"]))
print("worst relative difference:", worst, "PASS" if worst < 1e-3 else "FAIL")
EOF

echo "== 4. twin record on the GPU for 24 s: idle, the sweep as load, matrix products, idle"
# nvidia-smi samples the same GPU beside it, as an independent record to check against.
nvidia-smi --query-gpu=timestamp,index,name,utilization.gpu,memory.used,power.draw,temperature.gpu,clocks.sm \
    --format=csv -lms 100 >"$OUT/smi.csv" &
SMI=$!
("$TWIN" record --interval 100ms --duration 24s --out "$OUT/record.parquet") &
REC=$!
sleep 5
# 6 s of the sweep as load (Vulkan through wgpu)...
end=$((SECONDS + 6))
while [ $SECONDS -lt $end ]; do
    "$TWIN" sweep /tmp/year.toml --replicas 1000000 --step 1h --backend gpu --format json >/dev/null 2>&1
done
# ...then 6 s of dense matrix products, where PyTorch exists (else 6 s more of the sweep).
python3 -c "
import time
import torch
a = torch.randn(8192, 8192, device='cuda'); t = time.time()
while time.time() - t < 6: (a @ a).sum().item()
" || { end=$((SECONDS + 6)); while [ $SECONDS -lt $end ]; do "$TWIN" sweep /tmp/year.toml --replicas 1000000 --step 1h --backend gpu --format json >/dev/null 2>&1; done; }
wait $REC
kill $SMI
"$TWIN" trace info "$OUT/record.parquet"
"$TWIN" trace import "$OUT/smi.csv" --out /tmp/smi.parquet && "$TWIN" trace info /tmp/smi.parquet

echo "== 5. Ctrl-C: twin record stopped by SIGINT after 3 s leaves a complete file"
"$TWIN" record --interval 100ms --out "$OUT/sigint.parquet" &
REC=$!
sleep 3
kill -INT $REC
wait $REC
echo "exit status after SIGINT: $?"
"$TWIN" trace info "$OUT/sigint.parquet"
echo "== 6. the telemetry import on two cores and on all of them (twin bench --only import)"
for i in 1 2 3; do taskset -c 0,1 "$TWIN" bench --only import | tail -1; done
"$TWIN" bench --only import
echo "done: $OUT"
