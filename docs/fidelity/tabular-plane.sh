#!/usr/bin/env bash
# The small tabular check of docs/fidelity.md: the CLI test's kind of data (600 normal rows near
# a plane in R^12; 200 test rows, a quarter uniform noise), `dasvdd train` for 40 epochs with
# each variant, each 2021-code switch alone on the paper's settings, and gamma = 0, seeds 1-6.
# Usage: docs/fidelity/tabular-plane.sh DASVDD_BINARY WORKDIR
set -eu
B=$1; W=$2; mkdir -p "$W"; cd "$W"
python3 - <<'PY'
import random
random.seed(11)
d = 12
basis = [random.uniform(-1, 1) for _ in range(2 * d)]
def normal():
    a, b = random.uniform(-1, 1), random.uniform(-1, 1)
    return ",".join(f"{0.5 + 0.2 * (a * basis[j] + b * basis[d + j]):.6f}" for j in range(d))
open("normal.csv", "w").write(",".join(f"f{j}" for j in range(d)) + "\n" + "".join(normal() + "\n" for _ in range(600)))
t, l = [], ["label"]
for i in range(200):
    if i % 4 == 0:
        t.append(",".join(f"{random.uniform(0, 1):.6f}" for _ in range(d))); l.append("1")
    else:
        t.append(normal()); l.append("0")
open("new.csv", "w").write("\n".join(t) + "\n"); open("labels.csv", "w").write("\n".join(l) + "\n")
PY
declare -A C
C[paper]='variant = "paper"'
C[published-code]='variant = "published-code"'
C[first_sample]=$'variant = "paper"\nsvdd_term = "first_sample"'
C[accumulate]=$'variant = "paper"\ncenter_grad = "accumulate"'
C[first_of_batch]=$'variant = "paper"\ngamma_norm = "first_of_batch"'
C[center_lr_0.1_decay_0.01]=$'variant = "paper"\ncenter_lr = 0.1\ncenter_lr_decay = 0.01'
C[weight_decay_0]=$'variant = "paper"\nweight_decay = 0.0'
C[gamma_0]=$'variant = "paper"\ngamma = 0.0'
for k in paper published-code first_sample accumulate first_of_batch center_lr_0.1_decay_0.01 weight_decay_0 gamma_0; do
  printf '[train]\n%s\n' "${C[$k]}" > "$k.toml"
  line="$k:"
  for s in 1 2 3 4 5 6; do
    "$B" train --quiet --data normal.csv --epochs 40 --seed $s --config "$k.toml" --out m.safetensors >/dev/null
    "$B" score --model m.safetensors --data new.csv --out s.csv >/dev/null
    line="$line $("$B" eval --json --scores s.csv --labels labels.csv | python3 -c 'import json,sys; print(round(100 * json.load(sys.stdin)["auroc"], 2))')"
  done
  echo "$line" | python3 -c 'import sys, statistics as st
k, v = sys.stdin.read().split(":"); v = [float(x) for x in v.split()]
runs = " ".join("%.1f" % x for x in v)
print(f"| {k} | {st.mean(v):.2f} | {st.stdev(v):.2f} | {min(v):.2f} | {runs} |")'
done
