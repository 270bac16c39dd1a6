#!/usr/bin/env bash
# virtio-blk throughput from a test guest: actorvm against QEMU on the same guest and image.
#
#   bench/blk-vs-qemu.sh [RUNS]
#
# The blk-bench guest does sequential 64 KiB reads and writes and 4 KiB random reads, one
# request in flight. Each VMM runs every mode once per run; the rate is the amount of I/O over
# the median time between the guest's "blk-bench start" and "blk-bench mode=" console lines, as
# they arrive on the host, so VMM start-up and guest boot do not count (under emulation a JVM
# start varies by more than the I/O takes, which made whole-process differences meaningless).
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

rate() { # amount ms -> per second
  awk -v a="$1" -v t="$2" 'BEGIN { printf "%.1f", (t > 0 ? a * 1000 / t : 0) }'
}

for spec in "seqread 65536 $((2 << 20)) $((32 << 20)) MB/s" "seqwrite 65536 $((2 << 20)) $((32 << 20)) MB/s" \
            "randread 4096 $((256 << 10)) $((4 << 20)) IOPS"; do
  set -- $spec
  mode=$1 bs=$2 small=$3 large=$4 unit=$5
  line="blk $mode bs=$bs:"
  for vmm in qemu actorvm; do
    want=0; [ $vmm = qemu ] && want=1   # QEMU's isa-debug-exit reports (status << 1) | 1
    t=$(between_ms $want "blk-bench start" "blk-bench mode=" ${vmm}_run "mode=$mode bs=$bs bytes=$large")
    if [ "$unit" = IOPS ]; then r=$(rate $((large / bs)) "$t")
    else r=$(rate $((large >> 20)) "$t"); fi
    eval "${vmm}_rate=$r"
    line="$line $vmm $r $unit (${t} ms);"
  done
  echo "$line ratio actorvm/qemu $(awk -v a="$actorvm_rate" -v q="$qemu_rate" 'BEGIN {printf "%.2f", (q > 0 ? a / q : 0)}')"
done
