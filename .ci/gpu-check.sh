#!/usr/bin/env bash
# The prepared GPU check, for a lent GPU machine (one H200, 15 minutes of device time in all):
# the GPU-parity tests, a short smoke run of bench-all on the GPU, then the Fashion-MNIST DASVDD
# matrix (10 classes x 10 seeds, 300 epochs) timed on the GPU and its report, then `xtask perf` on
# the machine's CPU (two cores, beside its PyTorch) in the time left. Everything it writes goes to
# $OUT. A failed parity test stops it; a failed smoke run skips the matrix (its errors and a run
# of one model alone are printed instead), so a broken build costs little device time.
#
# Prepare here (no GPU needed), then run through the `device` tool:
#   cargo xtask cuda-build                      # target/cuda/release/{dasvdd,xtask,gpu_parity}
#   .ci/gpu-check.sh --pack                     # target/gpu-carry: xtask, gpu_parity (xz) + Fashion-MNIST
#   device run: carry = ["target/gpu-carry"], command = ".ci/gpu-check.sh", timeout_s = 600
# BUDGET (seconds, default 560) bounds the whole script below the run's limit. The matrix is
# resumable: its results come back as results.tgz; unpack them into target/gpu-carry/results
# (`.ci/gpu-check.sh --resume FILE`) and run again to continue where it stopped. SKIP_PERF=1
# leaves out the CPU measurement, PERF_SECONDS=N keeps N seconds for it from the matrix (it runs
# only with over 100 s left); STACK sets the models per pass (below).
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
if [ "${1:-}" = "--resume" ]; then
	mkdir -p "$CARRY"
	tar xzf "$2" -C "$CARRY"
	ls "$CARRY/results" | wc -l
	exit 0
fi

start=$(date +%s)
deadline=$((start + ${BUDGET:-560}))
left() { echo $((deadline - $(date +%s))); }

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
{
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "no nvidia-smi"
	lscpu | grep -E 'Model name|^CPU\(s\)|Flags' | cut -c1-400
	nproc
} 2>&1 | tee "$OUT/gpu.txt"

# 1. The CUDA path against the CPU (tests/gpu_parity.rs).
timeout 150 "$CARRY/gpu_parity" --nocapture --test-threads 1 2>&1 | tee "$OUT/gpu_parity.txt"

# 2. A smoke run: 20 Fashion-MNIST models (2 classes x 10 seeds) in one pass, 3 epochs. When it
# fails, the errors of its log and a run of one model alone say where, and the matrix is skipped.
export RUST_BACKTRACE=0
smoke() { # name, then bench-all's arguments
	local name=$1 t
	shift
	t=$(date +%s)
	rm -rf "/tmp/$name"
	if DASVDD_DATA="$CARRY" timeout 120 "$CARRY/xtask" bench-all --datasets fmnist \
		--methods dasvdd --device cuda --results "/tmp/$name" "$@" >"/tmp/$name.txt" 2>&1; then
		tail -n 25 "/tmp/$name.txt"
		echo "$name: passed in $(($(date +%s) - t)) s"
	else
		tail -n 12 "/tmp/$name.txt"
		grep -rh -i -B2 -A8 "error\|failed\|panick" "/tmp/$name/logs" 2>/dev/null | grep -v '^ *[0-9]*: ' | head -n 60
		echo "$name: FAILED after $(($(date +%s) - t)) s"
		return 1
	fi
}
smoke_ok=1
smoke smoke --classes 0,1 --seeds 10 --epochs 3 --stack 20 2>&1 | tee "$OUT/smoke.txt" || smoke_ok=0
if [ "$smoke_ok" = 0 ]; then
	smoke alone --classes 0 --seeds 1 --epochs 1 --stack 1 2>&1 | tee -a "$OUT/smoke.txt" || true
fi

# 3. The Fashion-MNIST DASVDD matrix on the GPU, timed; resumable within the time left. One
# bench-all process, STACK models (default 20: two classes' seeds) per pass; a pass cut short
# stores nothing, every finished pass is kept. Not shards side by side on the one GPU: on the
# lent H200 (2026-12-04), four processes sharing it trained wrongly from the first epoch and
# diverged, where one process, with the same stacks, matched the CPU (docs/gpu.md).
if [ "$smoke_ok" = 1 ]; then
	results="$CARRY/results"
	matrix_s=$(($(left) - 25 - ${PERF_SECONDS:-0}))
	[ "$matrix_s" -lt 30 ] && matrix_s=30
	echo "matrix: up to ${STACK:-20} models per pass, ${matrix_s} s at most" | tee "$OUT/matrix.txt"
	t=$(date +%s)
	status=0
	DASVDD_DATA="$CARRY" timeout "$matrix_s" "$CARRY/xtask" bench-all \
		--datasets fmnist --methods dasvdd --seeds 10 --device cuda --stack "${STACK:-20}" \
		--results "$results" >/tmp/matrix.txt 2>&1 || status=$?
	grep -v "AUROC" /tmp/matrix.txt | tail -n 20 >>"$OUT/matrix.txt"
	echo "bench-all: exit $status after $(($(date +%s) - t)) s; $(cat "$results"/cells/*.jsonl 2>/dev/null | wc -l) cells stored" | tee -a "$OUT/matrix.txt"
	# Jumps of several models at one epoch mean corrupted steps (docs/gpu.md, section 5).
	python3 .ci/shared-jumps.py "$results" 2>&1 | tail -n 12 | tee -a "$OUT/matrix.txt" || true
	"$CARRY/xtask" report --results "$results" --no-figures >/dev/null 2>&1 || true
	[ -f "$results/REPORT.md" ] && cp "$results/REPORT.md" "$OUT/REPORT.md"
	tar czf "$OUT/results.tgz" -C "$CARRY" results
else
	echo "smoke failed: no matrix" | tee "$OUT/matrix.txt"
fi

# 4. The DASVDD step on this machine's CPU, two cores, beside PyTorch (issue 14's measurement),
# with the time the matrix left (it takes about 115 s). `--phases` adds the split of the step's
# time and the memory's rate for Adam's pattern, `--products` each product's rate alone: what
# an Intel host's lower share (64% on 2026-12-04) is made of.
if [ -z "${SKIP_PERF:-}" ] && [ "$(left)" -gt 115 ]; then
	pin=""
	taskset -c 0,1 true 2>/dev/null && pin="taskset -c 0,1"
	echo "perf on 2 threads (RAYON_NUM_THREADS=2, OMP_NUM_THREADS=2) ${pin:-without taskset}" >"$OUT/perf.txt"
	RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 timeout $(($(left) - 5)) $pin "$CARRY/xtask" perf \
		--python python3 --phases --products 2>&1 | tee -a "$OUT/perf.txt" || echo "perf exit $?" | tee -a "$OUT/perf.txt"
fi
[ "$smoke_ok" = 1 ]
