#!/usr/bin/env bash
# virtio-blk throughput from a test guest: actorvm against QEMU on the same guest and image.
#
#   bench/blk-vs-qemu.sh [RUNS]
#
# The blk-bench guest does sequential 64 KiB reads and writes and 4 KiB random reads, one
# request in flight. Each VMM runs every mode with a small and a large amount of I/O; the rate is
# the difference in bytes (or requests) over the difference of the median whole-process times, so
# VMM start-up and guest boot cancel out. Guest code is emulated on kvm_pvm hosts, so these
# figures are dominated by exit costs there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
RUNS=${1:-3}
QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || { echo "bench: $QEMU not found (apt-get install qemu-system-x86)" >&2; exit 2; }
# ACTORVM_NO_BUILD=1 skips the build (inside the emulated KVM host Maven runs emulated too).
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
G=tests/guests/build
IMG=$(mktemp --suffix=.img)
trap 'rm -f "$IMG"' EXIT
head -c $((64 << 20)) /dev/urandom > "$IMG"

. bench/lib.sh
qemu_run() {
  "$QEMU" -accel kvm -M microvm -cpu host,-arch-capabilities -m 64 -nodefaults -no-user-config \
    -display none -serial stdio -no-reboot -device isa-debug-exit,iobase=0x501,iosize=1 \
    -global virtio-mmio.force-legacy=false -drive id=d0,file="$IMG",format=raw,if=none,cache=writeback,aio=threads \
    -device virtio-blk-device,drive=d0 -kernel "$G/blk-bench.elf" -append "$1"
}
actorvm_run() { ACTORVM_NO_BUILD=1 ./actorvm run --kernel "$G/blk-bench.elf" --memory 64M --disk "$IMG" --cmdline "$1"; }

rate() { # small-amount large-amount small-ms large-ms -> per second
  awk -v a="$1" -v b="$2" -v s="$3" -v l="$4" 'BEGIN { d = (l - s) / 1000; printf "%.1f", (d > 0 ? (b - a) / d : 0) }'
}

for spec in "seqread 65536 $((2 << 20)) $((32 << 20)) MB/s" "seqwrite 65536 $((2 << 20)) $((32 << 20)) MB/s" \
            "randread 4096 $((256 << 10)) $((4 << 20)) IOPS"; do
  set -- $spec
  mode=$1 bs=$2 small=$3 large=$4 unit=$5
  line="blk $mode bs=$bs:"
  for vmm in qemu actorvm; do
    want=0; [ $vmm = qemu ] && want=1   # QEMU's isa-debug-exit reports (status << 1) | 1
    t_small=$(time_ms $want ${vmm}_run "mode=$mode bs=$bs bytes=$small")
    t_large=$(time_ms $want ${vmm}_run "mode=$mode bs=$bs bytes=$large")
    if [ "$unit" = IOPS ]; then r=$(rate $((small / bs)) $((large / bs)) "$t_small" "$t_large")
    else r=$(rate $((small >> 20)) $((large >> 20)) "$t_small" "$t_large"); fi
    eval "${vmm}_rate=$r"
    line="$line $vmm $r $unit (${t_small}/${t_large} ms);"
  done
  echo "$line ratio actorvm/qemu $(awk -v a="$actorvm_rate" -v q="$qemu_rate" 'BEGIN {printf "%.2f", (q > 0 ? a / q : 0)}')"
done
