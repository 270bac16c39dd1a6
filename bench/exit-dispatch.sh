#!/usr/bin/env bash
# JMH: what routing one port/MMIO exit to its device actor costs the vCPU thread, against a direct
# call on the same model, with bytes allocated per exit (-prof gc). No KVM needed.
#   bench/exit-dispatch.sh [JMH OPTIONS...]   (e.g. -f 1 -wi 2 -i 3 for a shorter run)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
"$JAVA_HOME/bin/java" $(cat scripts/jvm-flags) -cp "tests/target/tests-0.1.0-SNAPSHOT.jar:$(cat tests/target/classpath.txt)" \
  org.openjdk.jmh.Main 'io.actorvm.bench.ExitDispatchBench' -prof gc "$@"
