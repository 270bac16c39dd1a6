#!/usr/bin/env bash
# Linux boot time: actorvm against QEMU with the same kernel, initramfs, command line and memory.
#
#   bench/linux-boot-vs-qemu.sh [RUNS]          (on a machine without /dev/kvm:
#   ./actorvm kvm-host -- bench/linux-boot-vs-qemu.sh [RUNS])
#
# For each VMM and kernel format (vmlinux through PVH, bzImage through the Linux boot protocol),
# the median over RUNS of the time from process start to the guest's /init marker
# ("actorvm-guest: init started") and to its last line ("actorvm-guest: powering off"; the guest
# runs `true` first).
# QEMU runs microvm, as close to our platform as QEMU has (no firmware, no PCI). Inside the
# emulated KVM host the figures compare the VMMs with each other; they are no absolute reference.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
RUNS=${1:-3}
MEM=${MEM:-256}
TIMEOUT=${TIMEOUT:-600}
QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || { echo "bench: $QEMU not found (apt-get install qemu-system-x86)" >&2; exit 2; }
[ -e /dev/kvm ] || { echo "bench: no /dev/kvm (run it as ./actorvm kvm-host -- $0)" >&2; exit 2; }
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
export ACTORVM_NO_BUILD=1
# GUEST=DIR skips 'guest build' (a JVM start, slow in the emulated host).
G=${GUEST:-$(./actorvm guest build 2>/dev/null | awk '/^vmlinux:/ {print $2}' | xargs dirname)}
CMDLINE="console=ttyS0 reboot=k panic=-1 pci=off quiet -- /bin/busybox true"
MARKER="actorvm-guest: init started"

. bench/lib.sh
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

# boot_ms CMD...: runs CMD once; prints "MS_TO_INIT MS_TO_POWEROFF": from process start to the
# guest's /init marker and to its "powering off" line (- if never seen). The VMM is then stopped:
# QEMU microvm has no i8042 to reset through, so the guest's final reboot would not end it.
boot_ms() {
  # Lines are read as they come, timed with $EPOCHREALTIME: no process per line or per poll,
  # which on the emulated host's single vCPU would slow the guest being measured.
  local t0=${EPOCHREALTIME/./} init=- off=- line now
  coproc VMM { "$@" 2>&1 </dev/null; }
  local pid=$VMM_PID
  while IFS= read -r -t "$TIMEOUT" line <&"${VMM[0]}"; do
    now=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
    if [ "$init" = - ] && [[ $line == *"$MARKER"* ]]; then init=$now; fi
    if [[ $line == *"actorvm-guest: powering off"* ]]; then off=$now; break; fi
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$init $off"
}

# Both exec, so that the coprocess is the VMM itself and boot_ms can stop it.
qemu_boot() { # kernel
  exec "$QEMU" -accel kvm -M microvm -cpu host -m "$MEM" -nodefaults -no-user-config -display none \
    -serial stdio -no-reboot -kernel "$1" -initrd "$G/initramfs.cpio.gz" -append "$CMDLINE"
}
actorvm_boot() { # kernel
  exec ./actorvm run --kernel "$1" --initrd "$G/initramfs.cpio.gz" --memory "${MEM}M" --cmdline "$CMDLINE"
}

report() { # label, then lines "marker total" on stdin
  local all; all=$(cat)
  local m t
  m=$(echo "$all" | awk '{print $1}' | median); t=$(echo "$all" | awk '{print $2}' | median)
  printf '  %-22s /init %6s ms   powering off %6s ms   (runs: %s)\n' "$1" "$m" "$t" "$(echo "$all" | awk '{printf "%s/%s ", $1, $2}')"
  echo "$m $t" > "$TMP/$1"
}

echo "Linux boot, $MEM MiB, median of $RUNS runs, guest $G:"
for kernel in vmlinux vmlinuz; do
  for _ in $(seq "$RUNS"); do boot_ms qemu_boot "$G/$kernel"; done | report "qemu-microvm-$kernel"
  for _ in $(seq "$RUNS"); do boot_ms actorvm_boot "$G/$kernel"; done | report "actorvm-$kernel"
  awk -v k=$kernel '{a[FILENAME]=$1; b[FILENAME]=$2} END {printf "  ratio actorvm/qemu (%s): to /init %.2f, to powering off %.2f\n", k, a[ARGV[2]]/a[ARGV[1]], b[ARGV[2]]/b[ARGV[1]]}' \
    "$TMP/qemu-microvm-$kernel" "$TMP/actorvm-$kernel"
done
