#!/usr/bin/env bash
# Live migration: actorvm against QEMU on the same guest, idle and while dirtying memory.
#
#   bench/migration-vs-qemu.sh [MEM_MIB] [RUNS] [DOWNTIME_MS]   (defaults 256, 3, 50)
#
# The guest is `dirtier` (tests/guests): it fills all but 40 MiB of its RAM with non-zero words,
# prints "dirtier: filled", then dirties a fixed number of pages per pass of a fixed spin loop, so
# its dirty rate is the same under both VMMs on the same CPU. Each VMM migrates it over loopback
# TCP one second after "filled", with the same downtime target (QEMU's default is 300 ms; ours and
# this script's 50 ms):
#   QEMU: a target started with -incoming, `migrate` over QMP; total time, downtime and RAM
#         transferred as QEMU's query-migrate reports them (its downtime ends when the source
#         completes, before the target's vCPUs run).
#   actorvm: io.actorvm.bench.MigrationBench, two actor systems in one JVM (source and target, each
#         with its own data directory); downtime from the pause at the source until the target's
#         vCPUs run, total from the migration's start to then. A cluster's switch-over (journal
#         commit, shard hand-over) comes on top: ClusterNodeTest prints it.
# Needs KVM: run it natively or as `./actorvm kvm-host --memory 6G -- bench/migration-vs-qemu.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-jdk.sh
MEM=${1:-256}
RUNS=${2:-3}
DOWNTIME=${3:-50}
QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || { echo "bench: $QEMU not found (apt-get install qemu-system-x86)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: python3 not found (QMP client)" >&2; exit 2; }
[ "$MEM" -ge 48 ] || { echo "bench: at least 48 MiB of guest memory" >&2; exit 2; }

[ -n "${ACTORVM_NO_BUILD-}" ] || ./mvnw -B -q install -Dmaven.test.skip=true >&2
G=tests/guests/build
[ -f "$G/dirtier.elf" ] || make -s -C tests/guests >&2
FILL=$((MEM - 40))
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# qmp SOCKET CMD_JSON...: sends each command, prints the last answer's "return" as JSON.
qmp() {
  python3 - "$@" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile('rw')
json.loads(f.readline())
def cmd(c):
    f.write(json.dumps(c) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if 'error' in r: sys.exit("qmp: " + json.dumps(r['error']))
        if 'return' in r: return r['return']
cmd({"execute": "qmp_capabilities"})
out = None
for c in sys.argv[2:]: out = cmd(json.loads(c))
print(json.dumps(out))
PY
}

qemu_vm() { # name, cmdline, extra args...
  local name=$1 cmdline=$2; shift 2
  "$QEMU" -accel kvm -M microvm -cpu host,-arch-capabilities -m "$MEM" -nodefaults -no-user-config -display none \
    -serial "file:$work/$name.serial" -kernel "$G/dirtier.elf" -append "$cmdline" \
    -qmp "unix:$work/$name.qmp,server=on,wait=off" "$@" >/dev/null 2>&1 &
  pids+=($!)
}

await_line() { # file, text
  for _ in $(seq 1800); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "bench: no '$2' in $1" >&2; exit 1
}

# qemu_migrate CMDLINE: one migration; prints "total_ms downtime_ms transferred_bytes".
qemu_migrate() {
  rm -f "$work"/*.serial "$work"/*.qmp
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  qemu_vm target "$1" -incoming "tcp:127.0.0.1:$port"
  qemu_vm source "$1"
  await_line "$work/source.serial" "dirtier: filled"
  sleep 1
  qmp "$work/source.qmp" "{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"downtime-limit\": $DOWNTIME}}" \
    "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:$port\"}}" >/dev/null
  local state
  for _ in $(seq 6000); do
    state=$(qmp "$work/source.qmp" '{"execute": "query-migrate"}')
    case "$state" in *'"completed"'*|*'"failed"'*|*'"cancelled"'*) break ;; esac
    sleep 0.05
  done
  python3 -c 'import json,sys; m=json.loads(sys.argv[1]); assert m["status"]=="completed", m; print(m["total-time"], m["downtime"], m["ram"]["transferred"])' "$state"
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pids=()
}

run_case() { # label, cmdline
  local label=$1 cmdline=$2 q a
  echo "== $label: dirtier $cmdline, ${MEM} MiB, downtime target ${DOWNTIME} ms, $RUNS runs"
  q=$(for _ in $(seq "$RUNS"); do qemu_migrate "$cmdline"; done | sort -n -k2 | awk -v n="$RUNS" 'NR == int((n + 1) / 2)')
  read -r q_total q_down q_bytes <<< "$q"
  echo "qemu median (by downtime): total $q_total ms, downtime $q_down ms, $(awk -v b="$q_bytes" 'BEGIN {printf "%.1f", b / 1048576}') MiB sent"
  a=$("$JAVA_HOME/bin/java" $(cat scripts/jvm-flags) -cp "tests/target/tests-0.1.0-SNAPSHOT.jar:$(cat tests/target/classpath.txt)" \
      io.actorvm.bench.MigrationBench "$G/dirtier.elf" "$MEM" "$cmdline" "dirtier: filled" "$work/actorvm-$label" "$RUNS" "$DOWNTIME" \
      > "$work/actorvm-$label.out"; grep '^run' "$work/actorvm-$label.out"; grep '^actorvm median' "$work/actorvm-$label.out")
  local a_total a_down
  echo "$a"
  a=$(grep '^actorvm median' <<< "$a")
  a_total=$(sed -E 's/.*total ([0-9]+) ms.*/\1/' <<< "$a")
  a_down=$(sed -E 's/.*downtime ([0-9]+) ms.*/\1/' <<< "$a")
  awk -v at="$a_total" -v qt="$q_total" -v ad="$a_down" -v qd="$q_down" -v l="$label" 'BEGIN {
    printf "%s: actorvm/qemu total time %.2f, downtime %.2f\n", l, (qt > 0 ? at / qt : 0), (qd > 0 ? ad / qd : 0) }'
}

run_case idle "mb=$FILL pages=0 spin=100000"
run_case dirtying "mb=$FILL pages=64 spin=200000"
