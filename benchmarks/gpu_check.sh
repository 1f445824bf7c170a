#!/usr/bin/env bash
# The GPU check: every figure infomax has to measure on a GPU, in one run of about five
# minutes on one GPU, written to OUT_DIR/gpu_check.json (and every command's output to
# OUT_DIR/gpu_check.log).
#
#   benchmarks/gpu_check.sh OUT_DIR                   on a machine with a CUDA GPU
#   GPU_CHECK_DRY=1 benchmarks/gpu_check.sh OUT_DIR   every step, tiny, on the CPU
#
# Steps (each is run even when an earlier one failed; its exit status is in the JSON):
#   speed          bench speed, cifar10-small, batch 256, bf16-mixed and fp32, eager
#   speed_compile  the same in bf16-mixed with train.compile=true (compile time apart)
#   loader         bench loader, fmnist-tiny, views' photometric part on the GPU
#                  (data.augment_device=true) and, for comparison, in the workers
#   train          200 steps of fmnist-tiny (pretrain, online probes), then the offline
#                  linear and kNN probes of that checkpoint on the same device (probe
#                  --device: extraction under autocast, images/s in probe_extraction)
# Environment: PYTHON (default python3) with infomax importable; DATA_DIR, a data root
# holding Fashion-MNIST (default: infomax's usual places); GPU_CHECK_DRY=1 for the CPU run
# that `make test` makes (tests/test_gpu_check.py).
set -uo pipefail

out=${1:?usage: benchmarks/gpu_check.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log="$out/gpu_check.log"
: >"$log"
data=()
[ -n "${DATA_DIR:-}" ] && data=(--data-dir "$DATA_DIR")

if [ "${GPU_CHECK_DRY:-0}" = 1 ]; then
  # Every step and flag the GPU run uses, at sizes that take seconds on a CPU. The
  # compiled step is the one left out: compiling takes a minute on a CPU, and
  # tests/test_speed.py checks the compiled measurement.
  device=cpu
  model=(model.ndf=4 model.n_rkhs=16 model.n_depth=1)
  speed=(--batch-size 4 --steps 1 --warmup 0 --gemm-sizes 64 --threads 1)
  loader=(--workers 0 --batches 1 data.batch_size=16)
  train=(train.limit_train_batches=3 data.batch_size=16 data.num_workers=0
         data.val_subset=64 probe.epochs=1 "${model[@]}")
  probe=(--epochs 1 --knn-k 5 --workers 0)
  compile=0
else
  device=cuda
  model=()
  speed=(--batch-size 256 --steps 20 --warmup 5 --gemm-sizes 4096 8192)
  loader=(--workers 4 8 --batches 40)
  train=(train.limit_train_batches=200 data.num_workers=8)
  probe=(--workers 8)
  compile=1
fi

status=()
step() {  # step NAME COMMAND...: runs it, its output into the log, its rc and seconds noted
  local name=$1; shift
  echo "== $name: $*" | tee -a "$log"
  local t0=$SECONDS
  "$@" >>"$log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc, $((SECONDS - t0)) s" | tee -a "$log"
  status+=("$name:$rc:$((SECONDS - t0))")
}

step machine bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm \
  --format=csv,noheader > '$work/gpu.txt' 2>/dev/null || echo none > '$work/gpu.txt'; \
  cat '$work/gpu.txt'"
step speed "$PY" -m infomax bench speed --presets cifar10-small --precision bf16-mixed 32 \
  --device "$device" "${speed[@]}" --json "$work/speed.json" "${model[@]}"
if [ "$compile" = 1 ]; then
  step speed_compile "$PY" -m infomax bench speed --presets cifar10-small \
    --precision bf16-mixed --device "$device" "${speed[@]}" --json "$work/speed_compile.json" \
    train.compile=true "${model[@]}"
fi
step loader "$PY" -m infomax bench loader --preset fmnist-tiny "${loader[@]}" "${data[@]}" \
  --device "$device" --json "$work/loader_device_aug.json" data.augment_device=true
step loader_workers "$PY" -m infomax bench loader --preset fmnist-tiny "${loader[@]}" \
  "${data[@]}" --device "$device" --json "$work/loader_workers.json"
step pretrain "$PY" -m infomax pretrain --preset fmnist-tiny "${data[@]}" --out "$work/runs" \
  --name gpu200 --no-progress train.epochs=1 "train.accelerator=$([ "$device" = cuda ] \
  && echo gpu || echo cpu)" "${train[@]}"
step probe "$PY" -m infomax probe "$work/runs/gpu200/last.ckpt" --protocol linear knn \
  --device "$device" --no-cache "${data[@]}" --no-progress "${probe[@]}" -o "$work/probe.json"

"$PY" - "$work" "$out/gpu_check.json" "${status[@]}" <<'EOF'
"""Gather the steps' JSON into one file, with the figures the GPU targets are read from."""
import json, sys, time
from pathlib import Path

work, dest, status = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]

def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None

out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
       "gpu": (work / "gpu.txt").read_text().strip() if (work / "gpu.txt").exists() else None,
       "steps": {}}
for s in status:
    name, rc, seconds = s.rsplit(":", 2)
    out["steps"][name] = {"rc": int(rc), "seconds": int(seconds)}
for name in ("speed", "speed_compile", "loader_device_aug", "loader_workers", "probe"):
    out[name] = load(work / f"{name}.json")
run = work / "runs" / "gpu200"
out["pretrain_summary"] = load(run / "summary.json")
rows = {}
for key in ("speed", "speed_compile"):
    for r in (out[key] or {}).get("results", []):
        rows[f"{r['precision']}{'+compile' if r.get('compile') else ''}"] = {
            k: r.get(k) for k in ("images_per_s", "seconds_per_step", "achieved_gflops",
                                  "gemm_peak_gflops", "fraction_of_peak", "compile_s",
                                  "peak_mem_mb", "batch_size")}
out["train_step"] = rows
# Feature extraction of the probe (train and test splits): device, precision, images/s.
out["probe_extraction"] = {
    split: {k: e.get(k) for k in ("device", "precision", "images", "seconds", "images_per_s",
                                  "batch_size", "workers")}
    for split, e in ((out["probe"] or {}).get("extraction") or {}).items() if e}
print(json.dumps({"gpu": out["gpu"], "steps": out["steps"], "train_step": rows,
                  "probe_extraction": out["probe_extraction"]}, indent=1))
dest.write_text(json.dumps(out, indent=1))
failed = [n for n, s in out["steps"].items() if s["rc"] != 0]
if failed:
    print(f"gpu_check: failed steps: {', '.join(failed)} (see gpu_check.log)", file=sys.stderr)
    sys.exit(1)
EOF
