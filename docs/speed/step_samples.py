#!/usr/bin/env python3
"""Where the DASVDD training step's thread time goes, from `perf script` of `xtask perf`.

Reads the text of `perf script` (a `perf record --call-graph dwarf` of `target/debug/xtask perf
--no-torch`), keeps the samples taken inside the training runs (a frame of `train_stack` or
`run_epochs`; the matmul reference runs are left out) and sorts them into: gemm's
multiply-adds (its microkernels), gemm's packing, the pool's waits split by what waits (the
other worker between the step's parallel regions or after finishing its part of one first;
one of the backward pass's two lanes waiting for the other (`backward_pipelined`), or, in
builds before it, a thread of a layer's two gradient products side by side waiting for its
partner; a thread of one product split by columns waiting for the other half), Adam's update,
the transposed weight copies, and the rest. Prints each as a share of the training runs' samples: on two threads,
the share of both cores' time.

    perf record -o perf.data -F 500 --call-graph dwarf,16384 target/debug/xtask perf --no-torch --epochs 2
    perf script -i perf.data > perf.txt
    python3 docs/speed/step_samples.py perf.txt

With `--while-waiting` it also pairs each sample of a thread waiting for the other worker with
the other thread's sample nearest in time, and counts the other thread's buckets: what the
waits wait for (the header line of each sample gives its thread and time).
"""

import bisect
import re
import sys
from collections import Counter

WAIT_LEAVES = ("atomic_load", "wait_until", "spin_loop", "yield_now", "find_work", "steal",
               "crossbeam")


def frames_of(block):
    """The symbol of each frame of one sample, innermost first."""
    lines = [line.strip() for line in block.strip().split("\n") if line.strip()]
    out = []
    for line in lines[1:]:
        sym = re.sub(r"^[0-9a-f]+ ", "", line)
        sym = re.sub(r"\+0x[0-9a-f]+.*$", "", sym)
        out.append(re.sub(r" \(.*$", "", sym))
    return out


def category(frames):
    """The bucket of one training-run sample."""
    leaf = frames[0]
    stack = "\n".join(frames)
    if "microkernel" in leaf:
        return "gemm multiply-adds (microkernels)"
    if "vectorize" in leaf or "pack" in leaf:
        return "gemm packing"
    # The innermost frames, where the leaf is an inlined helper (an atomic `load` or a
    # closure inside the pool's `wait_until`, a `copy_nonoverlapping` inside a transpose).
    near = "\n".join(frames[:3])
    if any(w in leaf for w in WAIT_LEAVES) or "pool::wait_until" in near:
        if "backward_pipelined" in stack:
            return ("waits: the backward pass's two lanes, one waiting for the other's gradient"
                    " or done first")
        if "side_by_side" in stack:
            return "waits: a layer's two gradient products, one thread waiting for the other"
        if "gemm_raw" in stack:
            return "waits: one product split by columns, one half waiting for the other"
        if "spawn_broadcast" in stack:
            return ("waits: the other worker, between the step's parallel regions or done with"
                    " its part of one first")
        return "waits: other"
    if "adam_update" in leaf:
        return "Adam update"
    if "transpose_8x8" in near or "write_transposed_rows" in near:
        return "transposed weight copies"
    if "memcpy" in leaf or "memmove" in leaf or "memset" in leaf:
        return "memcpy / memset"
    return "the rest"


def while_waiting(samples, within=0.0015):
    """For each sample of a thread waiting for the other worker, the bucket of the other
    thread's sample nearest in time (within `within` seconds): what the wait waits for."""
    by_thread = {}
    for tid, t, name in samples:
        by_thread.setdefault(tid, []).append((t, name))
    busy = [tid for tid, s in by_thread.items() if len(s) >= 100]
    found = Counter()
    for tid in busy:
        others = [o for o in busy if o != tid]
        if len(others) != 1:
            continue
        other = sorted(by_thread[others[0]])
        times = [t for t, _ in other]
        for t, name in by_thread[tid]:
            if not name.startswith("waits: the other worker"):
                continue
            i = bisect.bisect_left(times, t)
            near = [j for j in (i - 1, i) if 0 <= j < len(times)]
            j = min(near, key=lambda j: abs(times[j] - t))
            if abs(times[j] - t) <= within:
                found[other[j][1]] += 1
    return found


def main():
    args = [a for a in sys.argv[1:] if a != "--while-waiting"]
    if len(args) != 1:
        sys.exit(__doc__)
    text = open(args[0], encoding="utf-8", errors="replace").read()
    counts = Counter()
    samples = []
    total = 0
    for block in text.split("\n\n"):
        frames = frames_of(block)
        if not frames:
            continue
        stack = "\n".join(frames)
        if "train_stack" not in stack and "run_epochs" not in stack:
            continue
        total += 1
        name = category(frames)
        counts[name] += 1
        head = block.strip().split("\n")[0].split()
        samples.append((head[1], float(head[2].rstrip(":")), name))
    if total == 0:
        sys.exit(f"{args[0]}: no samples inside the training runs (call graphs missing?)")
    print(f"{total} samples inside the training runs")
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f}%  {name}")
    if "--while-waiting" in sys.argv:
        found = while_waiting(samples)
        print(f"\nwhile a thread waits for the other worker ({sum(found.values())} samples paired"
              " with the other thread's nearest, within 1.5 ms), the other thread is in:")
        for name, n in found.most_common():
            print(f"{n:6d}  {name}")


if __name__ == "__main__":
    main()
