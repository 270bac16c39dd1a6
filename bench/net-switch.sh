#!/usr/bin/env bash
# Round trips per second between two VMs over the in-JVM virtual switch (net-peer guests).
#   bench/net-switch.sh [SMALL] [LARGE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
# ACTORVM_NO_BUILD=1 skips the build (inside the emulated KVM host Maven runs emulated too).
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
"$JAVA_HOME/bin/java" $(cat scripts/jvm-flags) -cp "tests/target/tests-0.1.0-SNAPSHOT.jar:$(cat tests/target/classpath.txt)" \
  io.actorvm.bench.SwitchThroughput tests/guests/build/net-peer.elf "${1:-20}" "${2:-200}" "${3:-3}"
