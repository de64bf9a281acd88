#!/usr/bin/env bash
# The prepared GPU check of issue 12, for a lent GPU machine (one H200, 15 minutes of device time
# in all): the GPU-parity tests, then the Fashion-MNIST DASVDD matrix (10 classes x 10 seeds,
# 300 epochs) timed on the GPU, then its report. Everything it writes goes to $OUT.
#
# Prepare here (no GPU needed), then run through the `device` tool:
#   cargo xtask cuda-build                      # target/cuda/release/{dasvdd,xtask,gpu_parity}
#   .ci/gpu-check.sh --pack                     # target/gpu-carry: xtask, gpu_parity (xz) + Fashion-MNIST
#   device run: carry = ["target/gpu-carry"], command = ".ci/gpu-check.sh", timeout_s = 600
# The matrix is resumable: a second run (or a run after a timeout) continues where it stopped,
# with the results it carries back put in target/gpu-carry/results first.
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=target/gpu-carry

if [ "${1:-}" = "--pack" ]; then
	mkdir -p "$CARRY/fmnist"
	# The binaries are about 60 MiB each (candle's PTX): xz brings each to about 9 MiB, so
	# that two of them and the data fit the 64 MiB the device tool carries.
	for b in xtask gpu_parity; do
		xz -T0 -6 -c "target/cuda/release/$b" >"$CARRY/$b.xz"
	done
	src=${DASVDD_FMNIST:-/usr/share/datasets/fashion-mnist}
	cp "$src"/*-ubyte.gz "$CARRY/fmnist/"
	du -sh "$CARRY"
	exit 0
fi

OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
for b in xtask gpu_parity; do
	python3 -c 'import lzma, sys; open(sys.argv[2], "wb").write(lzma.open(sys.argv[1]).read())' \
		"$CARRY/$b.xz" "$CARRY/$b"
	chmod +x "$CARRY/$b"
done
# The CUDA libraries candle links, from the machine's PyTorch (nvidia/cu13/lib).
lib=$(python3 -c 'import os, nvidia; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))' 2>/dev/null || true)
[ -n "$lib" ] && export LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "no nvidia-smi"; } | tee "$OUT/gpu.txt"
lscpu | grep 'Model name' | tee -a "$OUT/gpu.txt"

# 1. The CUDA path against the CPU (tests/gpu_parity.rs).
"$CARRY/gpu_parity" --nocapture 2>&1 | tee "$OUT/gpu_parity.txt"

# 2. The Fashion-MNIST DASVDD matrix on the GPU, timed; resumable within the time left. STACK
# models (default 20: two classes' seeds) train in one pass; a pass cut short stores nothing.
results="$CARRY/results"
start=$(date +%s)
status=0
DASVDD_DATA="$CARRY" timeout "${MATRIX_SECONDS:-420}" "$CARRY/xtask" bench-all \
	--datasets fmnist --methods dasvdd --seeds 10 --device cuda --stack "${STACK:-20}" \
	--results "$results" \
	2>&1 | tail -n 25 | tee "$OUT/matrix.txt" || status=$?
echo "bench-all exit $status after $(($(date +%s) - start)) s" | tee -a "$OUT/matrix.txt"
"$CARRY/xtask" report --results "$results" --no-figures >/dev/null 2>&1 || true
cp -r "$results" "$OUT/results"
