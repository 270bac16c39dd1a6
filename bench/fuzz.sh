#!/usr/bin/env bash
# The seeded fuzz tests at benchmark strength: 10^6 inputs each (./mvnw verify runs 10^5 of the
# new ones), counting what was refused and taken. Needs no KVM.
#   bench/fuzz.sh [STEPS] [SEED]
# A failure prints the seed and step that reproduce it.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-1000000}
seed=${2:-0x5eedf00d}
./mvnw -B -q install -DskipTests >&2
# -Dsurefire.failIfNoSpecifiedTests=false: each module runs only the fuzz classes it has.
./mvnw -B -o test -pl io-buffering,devices,persistence,vmm-actors -Dsurefire.failIfNoSpecifiedTests=false \
  -Dtest='VirtQueueFuzzTest,DeviceRegisterFuzzTest,SnapshotDecoderFuzzTest,MachineStateFuzzTest' \
  -Dactorvm.fuzz.steps="$steps" -Dactorvm.fuzz.seed="$((seed))" -Dvirtq.fuzz.iterations="$steps" \
  | grep -E 'fuzz:|Tests run:|FAIL|seed' || true
