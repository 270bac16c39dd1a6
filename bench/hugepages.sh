#!/usr/bin/env bash
# What host huge pages do for a guest that uses much memory: the `memtouch` guest first touches
# MB MiB page by page (every page a host page fault), then reads ROUNDS x MB*256 random pages
# (TLB-bound), under --hugepages none, thp and 2M. Each phase is timed between the guest's console
# lines, median of RUNS runs, so JVM start does not count. For 2M the hugetlbfs pool
# (/proc/sys/vm/nr_hugepages) is grown for the run and put back after it (needs root).
#
#   bench/hugepages.sh [MB] [ROUNDS] [RUNS]      (where /dev/kvm has no hardware virtualization:
#   ./actorvm kvm-host -- bench/hugepages.sh ...)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
MB=${1:-512}
ROUNDS=${2:-4}
RUNS=${3:-3}
[ -e /dev/kvm ] || { echo "bench: no /dev/kvm (run it as ./actorvm kvm-host -- $0)" >&2; exit 2; }
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
G=tests/guests/build
. bench/lib.sh
MEM=$(( MB + 32 ))
MEM=$(( (MEM + 1) / 2 * 2 ))  # whole 2 MiB pages

run() { ACTORVM_NO_BUILD=1 ./actorvm run --kernel "$G/memtouch.elf" --memory "${MEM}M" --hugepages "$1" --cmdline "mb=$MB rounds=$ROUNDS"; }

pool=/proc/sys/vm/nr_hugepages
before=$(cat "$pool")
trap 'echo "$before" > "$pool"' EXIT

echo "memtouch guest, $MB MiB touched then $ROUNDS x $((MB * 256)) random page reads, ${MEM} MiB of RAM, median of $RUNS runs:"
for kind in none thp 2M; do
  if [ "$kind" = 2M ]; then
    echo $(( before + MEM / 2 )) > "$pool"
    free=$(awk '/^HugePages_Free/ {print $2}' /proc/meminfo)
    [ "$free" -ge $(( MEM / 2 )) ] || { echo "  2M: the kernel found only $free free huge pages (needs $(( MEM / 2 ))); skipped"; continue; }
  fi
  phases=$(phases_ms 0 run "$kind" -- "memtouch: touch" "memtouch: random" "memtouch: done")  # set -e: a failed run ends it
  read -r touch random <<< "$phases"
  awk -v k="$kind" -v t="$touch" -v r="$random" -v mb="$MB" -v n=$((ROUNDS * MB * 256)) 'BEGIN {
    printf "  %-4s first touch %6d ms (%6.2f us per 4 KiB page)   random reads %6d ms (%6.1f ns per read)\n",
      k, t, t * 1000 / (mb * 256), r, r * 1e6 / n }'
done
