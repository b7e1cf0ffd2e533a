#!/bin/bash
# Before/after timings, same machine, one run, of the source trees /tmp/<version>/src named
# on the command line (default: old new), e.g. `timing.sh old mid new` with old = 26bac93
# (before issue 27's work), mid = 9f9f3ba (session 13's start), new = HEAD.
cd /tmp/timing
PY=/work/main/.venv/bin/python
cat > base.yaml <<'Y'
system: {name: ks}
data: {train_values: [8.0, 9.6], interpolation_values: [8.8], extrapolation_values: [11.2], trajectories_per_value: 2, frames: 24, transient: 20}
model: {architecture: conv, width: 8, depth: 2}
modality: {name: NOG, unroll: 2}
training: {updates: 200, seeds: [0, 1], batch_size: 8, log_every: 50, checkpoint_every: 50}
evaluation: {rollout_steps: 12, horizon: 6, gradient_unrolls: [1, 2], plots: true, stability_steps: 2000}
Y
cat > study.yaml <<'Y'
name: six
base: base.yaml
grid: {modality.name: [ONE, NOG, WIG], simulator.setup: [prediction, correction]}
Y
for round in 1 2; do
for v in ${@:-old new}; do
  export PYTHONPATH=/tmp/$v/src
  rm -rf s-$v r-$v
  t0=$(date +%s.%N); $PY -m stablesim.cli study study.yaml --out s-$v --quiet > /dev/null 2>&1; t1=$(date +%s.%N)
  $PY -m stablesim.cli train base.yaml --out r-$v --quiet > /dev/null 2>&1
  t2=$(date +%s.%N); $PY -m stablesim.cli diagnose r-$v --verify --quiet > /dev/null 2>&1; rc=$?; t3=$(date +%s.%N)
  echo "round $round $v study6 $(echo "$t1 - $t0" | bc) s; diagnose --verify $(echo "$t3 - $t2" | bc) s (rc $rc)"
done
done
