#!/usr/bin/env bash
# Exit-handling throughput and start-up latency: actorvm against QEMU on the same test guests.
#
#   bench/exits-vs-qemu.sh [N_SMALL] [N_LARGE] [RUNS]
#
# Exits per second: the `exits` guest does 3*N exits (N port writes, N port reads, N MMIO
# writes). Each VMM runs it with N_SMALL and N_LARGE; the rate is 3*(N_LARGE-N_SMALL) divided by
# the difference of the median whole-process times, so start-up cost cancels out for both.
# Start-up: actorvm's create-VM-to-first-serial-byte in a warm JVM (FirstByteLatency) beside
# QEMU's whole-process time for the `hello` guest (QEMU has no warm mode to compare with).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
N_SMALL=${1:-1000}
N_LARGE=${2:-20000}
RUNS=${3:-5}
QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || { echo "bench: $QEMU not found (apt-get install qemu-system-x86)" >&2; exit 2; }

# ACTORVM_NO_BUILD=1 skips the build (inside the emulated KVM host Maven runs emulated too).
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
G=tests/guests/build

. bench/lib.sh

qemu_run() { # guest, append
  "$QEMU" -accel kvm -M microvm -cpu host,-arch-capabilities -m 16 -nodefaults -no-user-config \
    -display none -serial stdio -no-reboot -device isa-debug-exit,iobase=0x501,iosize=1 \
    -kernel "$G/$1.elf" -append "$2"
}
actorvm_run() { ACTORVM_NO_BUILD=1 ./actorvm run --kernel "$G/$1.elf" --memory 16M --cmdline "$2"; }

# QEMU's isa-debug-exit reports status (v << 1) | 1: a guest exiting 0 ends QEMU with 1.
q_small=$(time_ms 1 qemu_run exits "n=$N_SMALL")
q_large=$(time_ms 1 qemu_run exits "n=$N_LARGE")
a_small=$(time_ms 0 actorvm_run exits "n=$N_SMALL")
a_large=$(time_ms 0 actorvm_run exits "n=$N_LARGE")
exits=$(( 3 * (N_LARGE - N_SMALL) ))
q_rate=$(awk -v e=$exits -v a=$q_small -v b=$q_large 'BEGIN {printf "%.0f", e / ((b - a) / 1000)}')
a_rate=$(awk -v e=$exits -v a=$a_small -v b=$a_large 'BEGIN {printf "%.0f", e / ((b - a) / 1000)}')
echo "exits guest, $exits exits between n=$N_SMALL and n=$N_LARGE, median of $RUNS runs:"
echo "  qemu:    n=$N_SMALL ${q_small} ms, n=$N_LARGE ${q_large} ms -> $q_rate exits/s"
echo "  actorvm: n=$N_SMALL ${a_small} ms, n=$N_LARGE ${a_large} ms -> $a_rate exits/s"
awk -v a=$a_rate -v q=$q_rate 'BEGIN {printf "  ratio actorvm/qemu: %.2f\n", a / q}'

q_hello=$(time_ms 1 qemu_run hello "")
a_hello=$(time_ms 0 actorvm_run hello "")
echo "hello guest, whole process, median of $RUNS runs: qemu ${q_hello} ms, actorvm ${a_hello} ms (JVM start included)"
"$JAVA_HOME/bin/java" $(cat scripts/jvm-flags) -cp "tests/target/tests-0.1.0-SNAPSHOT.jar:$(cat tests/target/classpath.txt)" \
  io.actorvm.bench.FirstByteLatency "$G/hello.elf" 5 20
