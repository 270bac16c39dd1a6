# Shared by the bench scripts (sourced): timing whole processes.

# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# time_ms WANT CMD...: runs CMD $RUNS times, checks each exit status is WANT, prints the median wall time in ms.
time_ms() {
  local want=$1; shift
  for _ in $(seq "$RUNS"); do
    local t0 t1 rc
    t0=$(date +%s%N)
    set +e; "$@" >/dev/null 2>&1 </dev/null; rc=$?; set -e
    t1=$(date +%s%N)
    [ "$rc" = "$want" ] || { echo "bench: '$*' exited $rc, expected $want" >&2; exit 1; }
    echo $(( (t1 - t0) / 1000000 ))
  done | median
}
