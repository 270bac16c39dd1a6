#!/usr/bin/env bash
# Snapshot figures: full and incremental snapshot time and size for a 256 MiB guest, and restore
# to running in a warm JVM, from the page store and from a memory file mapped copy-on-write
# (anchor: Firecracker restores in 3-8.5 ms).
#   bench/snapshot.sh [MEMORY_MIB] [RESTORES]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
# ACTORVM_NO_BUILD=1 skips the build (inside the emulated KVM host Maven runs emulated too).
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
"$JAVA_HOME/bin/java" $(cat scripts/jvm-flags) -cp "tests/target/tests-0.1.0-SNAPSHOT.jar:$(cat tests/target/classpath.txt)" \
  io.actorvm.bench.SnapshotBench tests/guests/build/counter.elf "${1:-256}" "${2:-10}"
