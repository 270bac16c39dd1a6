#!/usr/bin/env bash
# What a device recording (run --record) costs: the `exits` guest with port=1023 (COM1's scratch
# register, so every port write and read is a call into the UART model), run with and without
# --record, N_SMALL and N_LARGE accesses, median whole-process times of RUNS runs; the rate is
# the difference in recorded exits over the difference in time, so JVM start-up cancels out.
# Also prints the size of the recording per million recorded exits.
#
#   bench/record-overhead.sh [N_SMALL] [N_LARGE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
N_SMALL=${1:-1000}
N_LARGE=${2:-100000}
RUNS=${3:-5}
[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
G=tests/guests/build
. bench/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

plain() { ACTORVM_NO_BUILD=1 ./actorvm run --kernel "$G/exits.elf" --memory 16M --cmdline "n=$1 port=1023"; }
rec() { ACTORVM_NO_BUILD=1 ./actorvm run --kernel "$G/exits.elf" --memory 16M --cmdline "n=$1 port=1023" \
  --name "exits$1" --data-dir "$work" --record; }

p_small=$(time_ms 0 plain "$N_SMALL")
p_large=$(time_ms 0 plain "$N_LARGE")
r_small=$(time_ms 0 rec "$N_SMALL")
r_large=$(time_ms 0 rec "$N_LARGE")
exits=$(( 2 * (N_LARGE - N_SMALL) )) # port writes and reads reach the UART; the MMIO phase is unclaimed
p_rate=$(awk -v e=$exits -v a=$p_small -v b=$p_large 'BEGIN {printf "%.0f", e / ((b - a) / 1000)}')
r_rate=$(awk -v e=$exits -v a=$r_small -v b=$r_large 'BEGIN {printf "%.0f", e / ((b - a) / 1000)}')
small_log=$(ls -1 "$work/recordings/exits$N_SMALL"/*.avmdlog | head -n 1)
large_log=$(ls -1 "$work/recordings/exits$N_LARGE"/*.avmdlog | head -n 1)
s_bytes=$(stat -c %s "$small_log")
l_bytes=$(stat -c %s "$large_log")
echo "exits guest on the UART's scratch register, $exits device exits between n=$N_SMALL and n=$N_LARGE, median of $RUNS runs:"
echo "  plain:     n=$N_SMALL ${p_small} ms, n=$N_LARGE ${p_large} ms -> $p_rate exits/s"
echo "  --record:  n=$N_SMALL ${r_small} ms, n=$N_LARGE ${r_large} ms -> $r_rate exits/s"
awk -v a=$r_rate -v p=$p_rate 'BEGIN {printf "  recorded/plain: %.2f\n", a / p}'
awk -v s=$s_bytes -v l=$l_bytes -v e=$exits 'BEGIN {printf "  recording: %d bytes at n=%d, %d at the larger n: %.1f MB per million exits\n", s, '"$N_SMALL"', l, (l - s) / e}'
ACTORVM_NO_BUILD=1 ./actorvm replay-devices --data-dir "$work" --name "exits$N_LARGE" | head -n 1
