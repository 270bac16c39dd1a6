#!/usr/bin/env bash
# Reliability: N Linux boots per kernel format (vmlinux through PVH, bzImage) in one warm JVM,
# each to /init, a command and a clean reset; prints failures with their console, then the count
# that passed and Vm.Start-to-/init times. Exit status 1 if any boot failed.
#
#   bench/linux-boot-loop.sh [N] [CPUS]       (default 20 boots of 1 vCPU per format)
#
# On a machine without /dev/kvm: ./actorvm kvm-host -- bench/linux-boot-loop.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
[ -e /dev/kvm ] || { echo "bench: no /dev/kvm (run it as ./actorvm kvm-host -- $0)" >&2; exit 2; }
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
# shellcheck disable=SC2046,SC2086
exec "$JAVA_HOME/bin/java" $(cat scripts/jvm-flags) ${ACTORVM_JVM_OPTS-} \
  -cp "tests/target/tests-0.1.0-SNAPSHOT.jar:$(cat tests/target/classpath.txt)" io.actorvm.bench.LinuxBootLoop "${1:-20}" "${2:-1}"
