#!/usr/bin/env bash
# .ci/slurm-e2e.sh: end-to-end check of `cargo xtask slurm` on a real one-node Slurm cluster.
#
# It installs Debian's slurm-wlm and munge when they are missing, starts munged, slurmctld and
# slurmd directly (no systemd; loopback only; everything under one work directory), waits for
# the node to be idle, and then:
#
#   1. cluster check: the scripts that `xtask slurm --submit` writes and submits run a toy
#      matrix through a stand-in for xtask (3-task array + afterany report job). Task 1 fails
#      once on purpose after its first cell; the report must run anyway and list exactly the
#      missing cells; resubmitting task 1 with the command printed in the script's header must
#      resume it (skipping the finished cell); the report then equals a single-process run.
#   2. bench check (skipped with --cluster-only): the real `xtask bench-all` on a tiny matrix,
#      once in a single process and once as 3 Slurm shards; the two reports' tables must match.
#
# Usage: sudo bash .ci/slurm-e2e.sh [--cluster-only]
# Environment:
#   SLURM_E2E_XTASK    xtask binary to use instead of building one with `cargo build -p xtask`
#   SLURM_E2E_MATRIX   bench-all matrix flags for step 2 (default below, marked BENCH-ALL)
#   SLURM_E2E_WORK     work directory (default /tmp/dasvdd-slurm-e2e; wiped at the start)
#   SLURM_E2E_PORT     slurmctld port; slurmd uses the next one (default 16817)
#   SLURM_E2E_KEEP=1   keep the work directory after success (it is always kept on failure)
#
# It must run as root: it starts the daemons and its jobs run as root (SlurmUser=root). It can
# run again at any time: it first stops what an earlier run left behind.
set -Eeuo pipefail

log() { printf 'slurm-e2e: %s\n' "$*" >&2; }
die() {
	printf 'slurm-e2e: FAILED: %s\n' "$*" >&2
	exit 1
}
trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

cluster_only=0
for arg in "$@"; do
	case $arg in
	--cluster-only) cluster_only=1 ;;
	-h | --help)
		sed -n '2,/^set -E/p' "$0" | sed '$d'
		exit 0
		;;
	*) die "unknown argument $arg (see --help)" ;;
	esac
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${SLURM_E2E_WORK:-/tmp/dasvdd-slurm-e2e}
CTLD_PORT=${SLURM_E2E_PORT:-16817}
SLURMD_PORT=$((CTLD_PORT + 1))
# Exported only once the file exists: Slurm's commands wait a minute for a missing one.
SLURM_CONF=$WORK/etc/slurm.conf

[[ $(id -u) -eq 0 ]] || die "run as root: it starts munged, slurmctld and slurmd (now uid $(id -u))"
case $WORK in
/tmp/?* | /var/tmp/?* | /run/?*) ;;
*) die "SLURM_E2E_WORK=$WORK must be under /tmp, /var/tmp or /run (it is wiped)" ;;
esac
[[ $WORK != *[[:space:]%]* ]] || die "SLURM_E2E_WORK=$WORK must not hold whitespace or '%'"

# --- packages -----------------------------------------------------------------------------
need_install=0
for tool in munged mungekey slurmctld slurmd sbatch sinfo squeue scontrol scancel; do
	command -v "$tool" >/dev/null || need_install=1
done
if ((need_install)); then
	log "installing slurm-wlm and munge"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
for tool in munged mungekey slurmctld slurmd sbatch sinfo squeue scontrol scancel; do
	command -v "$tool" >/dev/null || die "$tool is missing after installing slurm-wlm and munge"
done
versions="$(slurmd -V) and $(munged --version 2>&1)"
log "using $versions"

# --- xtask (built before any daemon starts) -----------------------------------------------
if [[ -n ${SLURM_E2E_XTASK:-} ]]; then
	XTASK=$SLURM_E2E_XTASK
else
	log "building xtask"
	(cd "$REPO" && cargo build --quiet -p xtask)
	XTASK=${CARGO_TARGET_DIR:-$REPO/target}/debug/xtask
	[[ $XTASK == /* ]] || XTASK=$REPO/$XTASK
fi
[[ -x $XTASK ]] || die "no xtask binary at $XTASK"
help=$("$XTASK" slurm --help 2>&1 || true)
[[ $help == *--shards* ]] ||
	die "$XTASK has no 'slurm' subcommand: wire xtask/src/slurm.rs into xtask/src/main.rs"

# --- daemons ------------------------------------------------------------------------------
# Stops the daemons that a pid file under $WORK names, but only a process whose command line
# mentions $WORK: after a reboot the number may belong to something else.
stop_daemons() {
	local name pidfile pid cmdline
	if [[ -e $SLURM_CONF ]] && [[ -e $WORK/run/slurmctld.pid ]]; then
		SLURM_CONF=$SLURM_CONF timeout 15 scancel --quiet --user=root 2>/dev/null || true
	fi
	for name in slurmd slurmctld munged; do
		pidfile=$WORK/run/$name.pid
		[[ -s $pidfile ]] || continue
		pid=$(<"$pidfile")
		cmdline=''
		[[ $pid =~ ^[0-9]+$ ]] && cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
		if [[ $cmdline == *"$WORK"* ]]; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do
				[[ -e /proc/$pid ]] || break
				sleep 0.1
			done
			if [[ -e /proc/$pid ]]; then kill -9 "$pid" 2>/dev/null || true; fi
		fi
		rm -f "$pidfile"
	done
}

on_exit() {
	local status=$?
	trap - ERR
	set +e
	if ((status != 0)) && [[ -d $WORK/log ]]; then
		for f in "$WORK"/log/*; do
			[[ -f $f ]] || continue
			printf '\n==== %s (last 40 lines) ====\n' "$f" >&2
			tail -n 40 "$f" >&2
		done
		for f in "$WORK"/{single,sharded,bench-single,bench-sharded}/slurm/*.out; do
			[[ -f $f ]] || continue
			printf '\n==== %s ====\n' "$f" >&2
			tail -n 40 "$f" >&2
		done
	fi
	stop_daemons
	if ((status == 0)) && [[ ${SLURM_E2E_KEEP:-0} != 1 ]]; then
		rm -rf "$WORK"
	else
		log "work directory kept: $WORK"
	fi
	exit "$status"
}

stop_daemons
rm -rf "$WORK"
mkdir -p "$WORK"/{etc,run,log,state,spool,munge}
chmod 755 "$WORK"
trap on_exit EXIT

log "starting munged"
mungekey --create --keyfile="$WORK/munge/munge.key"
munged --force \
	--key-file="$WORK/munge/munge.key" \
	--socket="$WORK/munge/munge.socket" \
	--pid-file="$WORK/run/munged.pid" \
	--log-file="$WORK/log/munged.log" \
	--seed-file="$WORK/munge/munged.seed"
munge -S "$WORK/munge/munge.socket" -n | unmunge -S "$WORK/munge/munge.socket" >/dev/null ||
	die "munge cannot encode and decode a credential"

# slurmd -C prints this machine's node line (name, CPUs, sockets, cores, memory), so the node
# is never drained for claiming more than it has.
node_line=$(slurmd -C | head -n1)
[[ $node_line == NodeName=* ]] || die "slurmd -C printed '$node_line'"
node=${node_line#NodeName=}
node=${node%% *}
cat >"$SLURM_CONF" <<EOF
# One-node cluster for .ci/slurm-e2e.sh: loopback only, no cgroups (containers have none).
ClusterName=dasvdd-e2e
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$WORK/munge/munge.socket,cred_expire=10
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/run/slurmctld.pid
SlurmdPidFile=$WORK/run/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$WORK/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
GresTypes=gpu
$node_line Gres=gpu:2 NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=e2e Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
# Two pretend GPUs, so that jobs asking for GPUs are scheduled as on a GPU cluster. Slurm wants
# a character device behind each GPU; it only hands out their indices (CUDA_VISIBLE_DEVICES)
# and, with TaskPlugin=task/none, never opens or fences them.
cat >"$WORK/etc/gres.conf" <<EOF
NodeName=$node Name=gpu File=/dev/null
NodeName=$node Name=gpu File=/dev/zero
EOF

export SLURM_CONF
log "starting slurmctld and slurmd for node $node"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
	state=$(sinfo -h -N -n "$node" -o %t 2>/dev/null || true)
	[[ $state == idle ]] && break
	sleep 1
done
[[ ${state:-} == idle ]] || die "node $node is '${state:-unknown}' after 60 s, not idle"
sinfo -N -l >&2

# Prints field $2 (JobState, StartTime, ...) of job $1, or of its array task $3 when given;
# empty when slurmctld does not know the job.
job_field() {
	scontrol show job -o "$1" 2>/dev/null | awk -v field="$2" -v task="${3:-}" '
		task == "" || index(" " $0 " ", " ArrayTaskId=" task " ") {
			for (i = 1; i <= NF; i++) if (index($i, field "=") == 1) { print substr($i, length(field) + 2); exit }
		}'
}

# Waits until job $1 (all its tasks) has left the queue, at most 600 s.
wait_gone() {
	for _ in $(seq 600); do
		[[ -z $(squeue -h -j "$1" -o %i 2>/dev/null) ]] && return 0
		sleep 1
	done
	die "job $1 still queued after 600 s"
}

# The table of the stand-in's report, without its header, which differs between runs.
report_table() {
	sed -n '/^cell,/,/^missing:/p' "$1/report.txt"
}

# BENCH-ALL: the numbers of the real report: report.csv without its last two columns (fit and
# score seconds), which are all that may differ between two runs of the same matrix.
bench_report_table() {
	[[ -s $1/report.csv ]] || die "no $1/report.csv: xtask report did not write its table"
	sed -E 's/,[^,]*,[^,]*$//' "$1/report.csv"
}

# --- 1. cluster check, with a stand-in for xtask ------------------------------------------
# The stand-in takes bench-all's and report's flags and runs a toy matrix with bench-all's
# contract: shard i/n runs the cells whose index is i mod n, a finished cell is never redone,
# and every file is written whole (temporary file, then rename).
FAKE=$WORK/fake-xtask
cat >"$FAKE" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
cmd=$1
shift
results='' shard=0/1 datasets=mnist methods=ocsvm seeds=1 epochs=1
while (($#)); do
	case $1 in
	--results) results=$2 ;;
	--shard) shard=$2 ;;
	--datasets) datasets=$2 ;;
	--methods) methods=$2 ;;
	--seeds) seeds=$2 ;;
	--epochs) epochs=$2 ;;
	*) echo "fake-xtask: unknown argument $1" >&2; exit 2 ;;
	esac
	shift 2
done
[[ -n $results ]] || { echo "fake-xtask: --results is required" >&2; exit 2; }
case $cmd in
bench-all)
	i=${shard%/*} n=${shard#*/}
	echo "shard $shard sees GPUs: ${CUDA_VISIBLE_DEVICES-none}"
	cells=()
	for d in ${datasets//,/ }; do for m in ${methods//,/ }; do for ((s = 0; s < seeds; s++)); do
		cells+=("$d-$m-seed$s")
	done; done; done
	mkdir -p "$results/cells"
	printf '%s\n' "${cells[@]}" >"$results/.matrix.$$" && mv "$results/.matrix.$$" "$results/matrix.txt"
	done_here=0
	for k in "${!cells[@]}"; do
		((k % n == i)) || continue
		cell=${cells[k]} file=$results/cells/${cells[k]}.csv
		if [[ -e $file ]]; then echo "skip $cell (finished)"; continue; fi
		if ((done_here == 1)) && [[ -e $results/fail-once-$i ]]; then
			rm "$results/fail-once-$i"
			echo "fake-xtask: injected failure in shard $shard before $cell" >&2
			exit 1
		fi
		auc=$(printf '%s/%s' "$cell" "$epochs" | cksum | awk '{printf "%.2f", 50 + ($1 % 5000) / 100}')
		echo "$cell,$auc" >"$file.tmp.$$" && mv "$file.tmp.$$" "$file"
		echo "done $cell"
		done_here=$((done_here + 1))
		if [[ -e $results/slow-once-$i ]]; then
			rm "$results/slow-once-$i"
			echo "shard $shard is waiting to be preempted"
			sleep 300
		fi
	done ;;
report)
	{
		echo "# report at $(date -u +%FT%T.%NZ) on $(uname -n), pid $$"
		echo "cell,auc"
		while read -r cell; do
			[[ ! -e $results/cells/$cell.csv ]] || cat "$results/cells/$cell.csv"
		done <"$results/matrix.txt"
		echo "missing:"
		while read -r cell; do
			[[ -e $results/cells/$cell.csv ]] || echo "$cell"
		done <"$results/matrix.txt"
	} >"$results/.report.$$"
	mv "$results/.report.$$" "$results/report.txt" ;;
*) echo "fake-xtask: unknown command $cmd" >&2; exit 2 ;;
esac
EOF
chmod +x "$FAKE"
# 8 cells; shard 1/3 gets cells 1, 4 and 7. (The commas are bench-all's list separator.)
# shellcheck disable=SC2054
TOY=(--datasets mnist,fmnist --methods ocsvm,kde --seeds 2 --epochs 3)

log "1. single-process run of the toy matrix"
"$FAKE" bench-all "${TOY[@]}" --results "$WORK/single" >/dev/null
"$FAKE" report --results "$WORK/single"
[[ $(report_table "$WORK/single" | grep -c ,) -eq 9 ]] || die "toy single run: not 8 cells"

log "1. the same matrix as 3 Slurm shards; task 1 fails after its first cell, task 2 is preempted"
mkdir -p "$WORK/sharded"
touch "$WORK/sharded/fail-once-1" "$WORK/sharded/slow-once-2"
submitted=$(cd "$REPO" && "$XTASK" slurm --shards 3 --results "$WORK/sharded" \
	--command "$FAKE" --partition e2e --time 10 --cpus-per-task 1 --mem 100M --max-parallel 2 \
	--gpus-per-task 1 \
	--submit -- "${TOY[@]}")
printf '%s\n' "$submitted" >&2
array_id=$(sed -n 's/^submitted array job \([0-9]*\).*/\1/p' <<<"$submitted")
report_id=$(sed -n 's/^submitted report job \([0-9]*\).*/\1/p' <<<"$submitted")
[[ -n $array_id && -n $report_id ]] || die "xtask slurm --submit printed no job ids"
array_script=$WORK/sharded/slurm/bench-array.sbatch
report_script=$WORK/sharded/slurm/bench-array-report.sbatch

# Preempt task 2 once it has finished its first cell: Slurm must put it back in the queue by
# itself (--requeue), and the new attempt must skip that cell.
for _ in $(seq 120); do
	grep -qs 'waiting to be preempted' "$WORK/sharded/slurm/${array_id}_2.out" && break
	sleep 1
done
grep -qs 'waiting to be preempted' "$WORK/sharded/slurm/${array_id}_2.out" ||
	die "task ${array_id}_2 did not reach its first cell in 120 s"
scontrol requeue "${array_id}_2"
log "1. requeued task ${array_id}_2 as a preemption would"

wait_gone "$report_id"
state=$(job_field "$report_id" JobState)
[[ $state == COMPLETED ]] || die "report job $report_id ended '$state'; afterany must run it anyway"
report_start=$(job_field "$report_id" StartTime)
for k in 0 1 2; do
	want=COMPLETED
	((k == 1)) && want=FAILED
	got=$(job_field "$array_id" JobState "$k")
	[[ $got == "$want" ]] || die "array task ${array_id}_$k ended '$got', expected $want"
	end=$(job_field "$array_id" EndTime "$k")
	[[ ! $report_start < $end ]] || die "report started at $report_start, before task $k ended ($end)"
	task_log=$WORK/sharded/slurm/${array_id}_$k.out
	[[ -s $task_log ]] || die "no log ${array_id}_$k.out"
	grep -qE '^shard [0-9]+/3 sees GPUs: [01]$' "$task_log" ||
		die "task $k was not given one GPU: $(<"$task_log")"
done
[[ $(job_field "$array_id" Restarts 2) == 1 ]] ||
	die "task ${array_id}_2 was restarted $(job_field "$array_id" Restarts 2) times, expected once"
# Both attempts are in the one log (--open-mode=append), and the second resumed.
task_log=$WORK/sharded/slurm/${array_id}_2.out
[[ $(grep -c '^shard 2/3 sees GPUs' "$task_log") == 2 ]] ||
	die "the log of task 2 does not hold both attempts: $(<"$task_log")"
grep -q '^skip mnist-kde-seed0 (finished)' "$task_log" ||
	die "task 2 did not skip its finished cell after the requeue: $(<"$task_log")"
log "1. task 2 came back by itself after the requeue and resumed"

missing=$(sed -n '/^missing:/,$p' "$WORK/sharded/report.txt" | tail -n +2 | tr '\n' ' ')
[[ $missing == "fmnist-ocsvm-seed0 fmnist-kde-seed1 " ]] ||
	die "report after the failure lists missing cells '$missing', expected 'fmnist-ocsvm-seed0 fmnist-kde-seed1 '"
log "1. task 1 failed as injected; the report ran anyway and lists: $missing"

# Resubmit task 1 exactly as the script's header says, with K=1.
resubmit=$(sed -n 's/^#   \(sbatch --array=K .*\)$/\1/p' "$array_script")
[[ -n $resubmit ]] || die "the array script's header has no 'sbatch --array=K' line"
resubmit=${resubmit/--array=K/--array=1}
log "1. resubmitting: $resubmit"
retry_id=$(eval "${resubmit/sbatch/sbatch --parsable --wait}")
retry_id=${retry_id%%;*}
[[ $(job_field "$retry_id" JobState 1) == COMPLETED ]] ||
	die "resubmitted task ${retry_id}_1 did not complete"
grep -q '^skip mnist-ocsvm-seed1 (finished)' "$WORK/sharded/slurm/${retry_id}_1.out" ||
	die "resubmitted task 1 did not skip its finished cell"
sbatch --parsable --wait "$report_script" >/dev/null
diff -u <(report_table "$WORK/single") <(report_table "$WORK/sharded") ||
	die "the sharded report differs from the single-process one"
log "1. OK: after resubmitting task 1 the sharded report equals the single-process report"

# --- 2. the real benchmark matrix ---------------------------------------------------------
if ((cluster_only)); then
	log "2. bench check skipped (--cluster-only)"
else
	help=$("$XTASK" bench-all --help 2>&1 || true)
	[[ $help == *--results* ]] ||
		die "xtask has no 'bench-all' subcommand yet; run with --cluster-only until it exists"
	help=$("$XTASK" report --help 2>&1 || true)
	[[ $help == *--results* ]] ||
		die "xtask has no 'report' subcommand yet; run with --cluster-only until it exists"
	# BENCH-ALL: the tiny matrix (12 cells of generated data, about a second), with the flags
	# the issue gives bench-all:
	#   bench-all --datasets ... --methods ... --seeds N --epochs N --results DIR --shard i/n
	#   report --results DIR
	read -r -a MATRIX <<<"${SLURM_E2E_MATRIX:---datasets synthetic --classes 0,1,2 --methods dasvdd,ocsvm --seeds 2 --epochs 2}"
	A=$WORK/bench-single
	B=$WORK/bench-sharded
	log "2. single-process bench-all: ${MATRIX[*]}"
	(cd "$REPO" && "$XTASK" bench-all "${MATRIX[@]}" --results "$A") # BENCH-ALL
	(cd "$REPO" && "$XTASK" report --results "$A")                    # BENCH-ALL
	log "2. the same matrix as 3 Slurm shards"
	(cd "$REPO" && "$XTASK" slurm --shards 3 --results "$B" -- "${MATRIX[@]}") # BENCH-ALL
	array_id=$(sbatch --parsable "$B/slurm/bench-array.sbatch")
	array_id=${array_id%%;*}
	sbatch --parsable --wait --dependency="afterany:$array_id" \
		"$B/slurm/bench-array-report.sbatch" >/dev/null
	for k in 0 1 2; do
		got=$(job_field "$array_id" JobState "$k")
		[[ $got == COMPLETED ]] || die "bench task ${array_id}_$k ended '$got'"
	done
	rows=$(bench_report_table "$A" | wc -l)
	((rows > 1)) || die "the single-process report has no rows"
	diff -u <(bench_report_table "$A") <(bench_report_table "$B") ||
		die "the sharded bench report differs from the single-process one"
	for k in 0 1 2; do
		grep -q . "$B/slurm/${array_id}_$k.out" || die "bench task $k left an empty log"
	done
	log "2. report tables ($((rows - 1)) rows) match; bench task 0 logged:"
	cat "$B/slurm/${array_id}_0.out" >&2
	log "2. OK: the sharded bench-all report equals the single-process one"
fi

log "evidence: sinfo, and every job's final state from the job completion log"
sinfo -N -l >&2
awk '{ line = ""
	for (i = 1; i <= NF; i++) if ($i ~ /^(JobId|Name|JobState|StartTime|EndTime|ArrayJobId|ArrayTaskId|ExitCode)=/) line = line " " $i
	print line }' "$WORK/log/jobcomp.txt" >&2
if ((cluster_only)); then
	echo "slurm-e2e: 1 passed, 0 failed, 1 skipped"
else
	echo "slurm-e2e: 2 passed, 0 failed"
fi
