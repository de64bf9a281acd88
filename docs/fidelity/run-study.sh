#!/usr/bin/env bash
# The fidelity study of docs/fidelity.md, one stage after another; every stage writes its cells
# to its results folder as they finish, and a re-run skips the finished ones.
# Usage: docs/fidelity/run-study.sh XTASK_BINARY STAGE...   (stages: see the case below)
set -u
X=$1; shift
export DASVDD_DATA=${DASVDD_DATA:-/work/shared/data}
R=${RESULTS:-results/fidelity}
PROFILES=dasvdd-paper,dasvdd-code,dasvdd:gamma=0
SWITCHES=dasvdd:svdd_term=first_sample,dasvdd:center_grad=accumulate,dasvdd:gamma_norm=first_of_batch,dasvdd:center_lr_decay=0.01,dasvdd:weight_decay=0
ALL=0,1,2,3,4,5,6,7,8,9
fm() { # training images, epochs, methods, classes
  nice -n 10 "$X" bench-all --quick --config "configs/fidelity/fmnist-n$1.toml" --datasets fmnist \
    --classes "$4" --seeds 3 --epochs "$2" --methods "$3" --results "$R/fmnist-n$1-e$2"
}
quick() { # training images, epochs[, seeds, methods]: the quick run's subsets (1,000 test images)
  nice -n 10 "$X" bench-all --quick --config "configs/fidelity/quick-n$1.toml" --datasets fmnist \
    --seeds "${3:-2}" --epochs "$2" --methods "${4:-dasvdd-paper,dasvdd-code}" --results "$R/quick-n$1-e$2"
}
full() { # classes, methods: full Fashion-MNIST (6,000 training images, 300 epochs)
  nice -n 10 "$X" bench-all --datasets fmnist --classes "$1" --seeds 3 --methods "$2" \
    --results "$R/fmnist-full"
}
REST=0,1,2,3,4,6,7,9
for stage in "$@"; do
  echo "=== stage $stage $(date -u +%H:%M:%S)"
  case $stage in
    n300) fm 300 300 $PROFILES $ALL ;;
    n700) fm 700 100 $PROFILES $ALL ;;
    n700-even) fm 700 100 dasvdd-paper,dasvdd-code 0,2,4,6,8 ;;
    n700-even-gamma0) fm 700 100 dasvdd:gamma=0 0,2,4,6,8 ;;
    n2000) fm 2000 30 $PROFILES $ALL ;;
    switches300) fm 300 300 $SWITCHES 0,2,4,6,8 ;;
    curve2000) quick 2000 50 ;;
    curve6000) quick 6000 17 ;;
    curve500) quick 500 200 ;;
    curve500-s1) quick 500 200 1 dasvdd-paper ;;
    curve6000-s1) quick 6000 17 1 dasvdd-paper ;;
    switches300-key) fm 300 300 dasvdd:svdd_term=first_sample,dasvdd:center_grad=accumulate 0,5,8 ;;
    odds)
      nice -n 10 "$X" bench-all --datasets odds:cardio,odds:ionosphere,odds:satellite,odds:thyroid \
        --seeds 3 --methods $PROFILES,$SWITCHES --results "$R/odds" ;;
    synthetic)
      nice -n 10 "$X" bench-all --datasets synthetic --seeds 3 --epochs 100 \
        --methods $PROFILES,$SWITCHES --results "$R/synthetic" ;;
    # Every single switch beside both variants and the control, all ten classes, at the three
    # subset sizes (300 network steps each), and the fifth ODDS file.
    sw300) fm 300 300 $PROFILES,$SWITCHES $ALL ;;
    sw700) fm 700 100 $PROFILES,$SWITCHES $ALL ;;
    sw2000) fm 2000 30 $PROFILES,$SWITCHES $ALL ;;
    odds-smtp)
      nice -n 10 "$X" bench-all --datasets odds:smtp --seeds 3 --methods $PROFILES,$SWITCHES \
        --results "$R/odds" ;;
    full58) full 5,8 dasvdd-paper,dasvdd-code,dasvdd:gamma=0 ;;
    full-rest-code) full $REST dasvdd-code ;;
    full-rest-gamma0) full $REST dasvdd:gamma=0 ;;
    *) echo "unknown stage $stage" ;;
  esac
done
echo "=== done $(date -u +%H:%M:%S)"
