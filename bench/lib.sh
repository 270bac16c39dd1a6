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

# stamped WANT STAMPS CMD...: runs CMD once, writing each output line to STAMPS behind the time it
# arrived (ns); fails the bench unless CMD exits with WANT.
stamped() {
  local want=$1 stamps=$2 rc; shift 2
  set +e
  "$@" 2>/dev/null </dev/null | while IFS= read -r line; do printf '%s %s\n' "$(date +%s%N)" "$line"; done > "$stamps"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = "$want" ] || { echo "bench: '$*' exited $rc, expected $want" >&2; rm -f "$stamps"; exit 1; }
}

# between_ms WANT START END CMD...: runs CMD $RUNS times (exit status WANT each time) and prints the
# median time in ms from the first output line containing START to the first containing END, as
# the lines arrive: VMM start-up and guest boot do not count, only what the guest does in between.
between_ms() {
  local want=$1 start=$2 end=$3; shift 3
  for _ in $(seq "$RUNS"); do
    local stamps; stamps=$(mktemp)
    stamped "$want" "$stamps" "$@"
    awk -v s="$start" -v e="$end" 'index($0, s) && !t0 {t0 = $1} index($0, e) && t0 && !t1 {t1 = $1}
        END { if (!t0 || !t1) exit 1; printf "%d\n", (t1 - t0) / 1000000 }' "$stamps" \
      || { echo "bench: no '$start' ... '$end' in the output of '$*'" >&2; rm -f "$stamps"; exit 1; }
    rm -f "$stamps"
  done | median
}

# phases_ms WANT CMD... -- M1 M2 ... Mk: runs CMD $RUNS times (exit status WANT each time) and prints
# the median time in ms between each pair of successive marker lines (k-1 numbers on one line), as
# the lines arrive: one run times every phase of a guest that announces its phases on the console.
phases_ms() {
  local want=$1; shift
  local cmd=() markers=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do cmd+=("$1"); shift; done
  shift
  markers=("$@")
  local results; results=$(mktemp)
  for _ in $(seq "$RUNS"); do
    local stamps; stamps=$(mktemp)
    stamped "$want" "$stamps" "${cmd[@]}"
    awk -v m="$(IFS='|'; echo "${markers[*]}")" 'BEGIN { k = split(m, ms, "|") }
        { for (i = 1; i <= k; i++) if (!t[i] && index($0, ms[i])) t[i] = $1 }
        END { for (i = 1; i <= k; i++) if (!t[i]) exit 1
              for (i = 2; i <= k; i++) printf "%s%d", (i > 2 ? " " : ""), (t[i] - t[i-1]) / 1000000; print "" }' "$stamps" >> "$results" \
      || { echo "bench: not every one of '${markers[*]}' in the output of '${cmd[*]}'" >&2; rm -f "$stamps" "$results"; exit 1; }
    rm -f "$stamps"
  done
  local cols; cols=$(( ${#markers[@]} - 1 ))
  local out=()
  for c in $(seq "$cols"); do out+=("$(awk -v c="$c" '{print $c}' "$results" | median)"); done
  rm -f "$results"
  echo "${out[*]}"
}
