#!/usr/bin/env bash
# Exit-handling throughput and start-up latency: actorvm against QEMU on the same test guests.
#
#   bench/exits-vs-qemu.sh [N] [RUNS]          (N exits of each kind, default 100000; RUNS default 5)
#
# Time per exit: the `exits` guest does N port writes, N port reads (COM1's scratch register) and
# N MMIO writes (unclaimed), announcing each phase on the console; each phase is timed between
# its lines, so start-up costs nothing to either VMM.
# Start-up: actorvm's create-VM-to-first-serial-byte in a warm JVM (FirstByteLatency) beside
# QEMU's whole-process time for the `hello` guest (QEMU has no warm mode to compare with).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
N=${1:-100000}
RUNS=${2:-5}
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
# The exits guest announces each phase on the console; the phases are timed from those lines, so
# process start and guest boot do not count. Port writes and reads go to COM1's scratch register
# (port 1023: a device model in both VMMs), MMIO writes to an address nobody claims.
phases="exits: out|exits: in|exits: mmio|exits: done"
IFS='|' read -r -a marks <<< "$phases"
q_phases=$(phases_ms 1 qemu_run exits "n=$N port=1023" -- "${marks[@]}")   # set -e: a failed run ends the bench
a_phases=$(phases_ms 0 actorvm_run exits "n=$N port=1023" -- "${marks[@]}")
read -r q_out q_in q_mmio <<< "$q_phases"
read -r a_out a_in a_mmio <<< "$a_phases"
echo "exits guest, $N exits per kind, each phase timed between its console lines, median of $RUNS runs:"
for kind in out in mmio; do
  q=$(eval echo "\$q_$kind"); a=$(eval echo "\$a_$kind")
  awk -v k=$kind -v q=$q -v a=$a -v n=$N 'BEGIN {
    name = (k == "out") ? "port write (scratch)" : (k == "in") ? "port read (scratch) " : "MMIO write (nobody) "
    printf "  %s qemu %8.2f us/exit, actorvm %8.2f us/exit: actorvm/qemu time %.2f, exits/s ratio %.2f\n",
      name, q * 1000 / n, a * 1000 / n, (q > 0 ? a / q : 0), (a > 0 ? q / a : 0) }'
done

q_hello=$(time_ms 1 qemu_run hello "")
a_hello=$(time_ms 0 actorvm_run hello "")
echo "hello guest, whole process, median of $RUNS runs: qemu ${q_hello} ms, actorvm ${a_hello} ms (JVM start included)"
"$JAVA_HOME/bin/java" $(cat scripts/jvm-flags) -cp "tests/target/tests-0.1.0-SNAPSHOT.jar:$(cat tests/target/classpath.txt)" \
  io.actorvm.bench.FirstByteLatency "$G/hello.elf" 5 20
