#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] [TARGET...]: builds the fuzz targets of this folder with libFuzzer's
# coverage instrumentation on the stable toolchain, writes the seed corpora
# (`cargo xtask fuzz-seeds`), and runs each target (default: all) for SECONDS (default 60).
# Prints one line per target: executions, crashes, and where the crashing inputs are.
# Not part of .ci/run: a run of every target takes SECONDS x 17 plus the build.
#
# Environment: FUZZ_TARGET_DIR (build folder, default fuzz/target), FUZZ_JOBS (cargo -j),
# FUZZ_RSS_MB (libFuzzer's -rss_limit_mb, default 1024), FUZZ_MAX_LEN (default 65536).
set -euo pipefail

secs=${1:-60}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
all=(model_dasvdd model_ae model_deep_svdd model_ocsvm model_kde model_iforest
	data_idx data_cifar data_cifar_py data_mat_v5 data_mat_v73 data_npy data_csv data_awid3 data_wav
	data_images config)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
target_dir=${FUZZ_TARGET_DIR:-$here/target}
host=$(rustc -vV | sed -n 's/^host: //p')

echo "== seed corpora"
if ! (cd "$root" && cargo run -q -p xtask -- fuzz-seeds "$here/seeds"); then
	echo "no seed generator (cargo xtask fuzz-seeds): fuzzing from the corpora and seeds present"
fi

echo "== build (libFuzzer, sancov instrumentation, debug assertions, overflow checks)"
# What `cargo fuzz build --sanitizer none` passes, without its nightly-only flags: the
# sancov pass is a stable codegen option. `--target` keeps the flags off build scripts and
# proc macros. AddressSanitizer would need nightly (-Zsanitizer=address); memory bombs are
# caught by the allocation guard of fuzz/src/lib.rs instead.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --manifest-path "$here/Cargo.toml" --target "$host" \
	--target-dir "$target_dir" ${FUZZ_JOBS:+-j "$FUZZ_JOBS"} --bins
unset RUSTFLAGS

mkdir -p "$here/logs"
summary="$here/logs/summary.txt"
: >"$summary"
for t in "${targets[@]}"; do
	corpus="$here/corpus/$t"
	artifacts="$here/artifacts/$t"
	mkdir -p "$corpus" "$artifacts"
	log="$here/logs/$t.log"
	set +e
	"$target_dir/$host/release/$t" "$corpus" "$here/seeds/$t" \
		-max_total_time="$secs" -rss_limit_mb="${FUZZ_RSS_MB:-1024}" \
		-max_len="${FUZZ_MAX_LEN:-65536}" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$artifacts/" >"$log" 2>&1
	rc=$?
	set -e
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
	line="$t: ${execs:-?} executions in ${secs} s, exit $rc, $crashes crashing inputs in $artifacts"
	echo "$line" | tee -a "$summary"
done
