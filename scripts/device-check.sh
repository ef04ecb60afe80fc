#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, as one script for a lent device machine
# (see ../.library/device/README.md): the sweep on the GPU against the CPU
# backend on all cores, a million replicas of a year of hourly steps, the
# GPU/CPU agreement, and a short `twin record` made on the GPU as a fixture.
#
# Prepare here, once (x86-64, release):
#   cargo build --release && mkdir -p .device && cp target/release/twin .device/
#   echo /.gl/ >>.git/info/exclude; echo /.device/ >>.git/info/exclude
#   mkdir -p .gl /tmp/amd64/partial; o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update; (cd .gl && apt-get $o download libvulkan1)
# Then run it there with `carry = [".gl", ".device"]`: `bash scripts/device-check.sh`.
# Everything it finds goes to $OUT (or ./device-out).
set -u
OUT=${OUT:-device-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
TWIN=${TWIN:-.device/twin}

# The Vulkan loader, where the image lacks it.
if ! ldconfig -p | grep -q libvulkan; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.csv"
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

echo "== 4. twin record on the GPU for 20 s, with 10 s of load in the middle"
("$TWIN" record --interval 100ms --duration 20s --out "$OUT/record.parquet") &
sleep 5
python3 -c "
import time
try:
    import torch
    a = torch.randn(8192, 8192, device='cuda'); t = time.time()
    while time.time() - t < 10: (a @ a).sum().item()
except Exception as e: print('no load:', e); time.sleep(10)
"
wait
"$TWIN" trace info "$OUT/record.parquet"
echo "done: $OUT"
