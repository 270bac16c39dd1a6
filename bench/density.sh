#!/usr/bin/env bash
# Many small VMs in one JVM: creation rate, resident memory and threads per VM, time to stop them.
#   bench/density.sh [COUNT]      (default 100 counter guests of 16 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
# ACTORVM_NO_BUILD=1 skips the build (inside the emulated KVM host Maven runs emulated too).
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
"$JAVA_HOME/bin/java" $(cat scripts/jvm-flags) -cp "tests/target/tests-0.1.0-SNAPSHOT.jar:$(cat tests/target/classpath.txt)" \
  io.actorvm.bench.DensityBench tests/guests/build/counter.elf "${1:-100}"
