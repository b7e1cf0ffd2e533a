#!/usr/bin/env bash
# The example's commands, from a temporary working directory (small and quick).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
S="${STABLESIM:-stablesim}"
WORK="$(mktemp -d)"
python "$HERE/make_data.py" --out "$HERE" --per-value 2
cd "$WORK"
short=(--set training.updates=300 --set training.log_every=100 --set training.checkpoint_every=300)
$S train "$HERE/prediction.yaml" --out pred "${short[@]}"
$S train "$HERE/correction.yaml" --out corr "${short[@]}"
$S evaluate pred
$S evaluate corr
$S diagnose corr
$S study "$HERE/study.yaml" --out study "${short[@]}"
$S rollout corr --initial "$HERE/initial.h5" --rollout-steps 100 --out mine.h5 --with-solver
echo "results in $WORK (study/report.html, corr/diagnose/diagnose.html, mine.h5)"
