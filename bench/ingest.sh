#!/usr/bin/env bash
# Ingest benchmark (issue: core platform). Measures in ONE run, on fresh data directories:
#   (a) the raw SQLite ceiling on this disk with Candor's pragmas (single-row durable transactions/s,
#       batched rows/s);
#   (b) declarations/s through HTTP with 64 concurrent clients on SQLite (ledger, audit, outbox included);
#   (c) the same on PostgreSQL;
#   (d) a hello-world route (/healthz) of the same server under the same load;
# and prints b/a, b/d, c/a with p50/p99 latencies. With --big it also loads 1M people with 10M
# declarations and reports store size, `ledger verify` time and the server's resident memory.
# Usage: bash bench/ingest.sh [--big | --only-big] [--seconds N]
set -euo pipefail
cd "$(dirname "$0")/.."
big=0; only_big=0; seconds=15
while [ $# -gt 0 ]; do
  case "$1" in
    --big) big=1 ;;
    --only-big) big=1; only_big=1 ;;
    --seconds) seconds=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
swift build -c release --scratch-path .build-release --product candor 2>&1 | grep -E 'error|Compiling candor|Build complete' || true
bin=$(swift build -c release --scratch-path .build-release --show-bin-path)/candor
work=$(mktemp -d /tmp/candor-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${pgdir:-}" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
key_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['$2'])" "$1"; }

# Runs wrk and prints "<requests/s> <p50 ms> <p99 ms> <non-2xx>".
load() {
  local out
  out=$(wrk -t2 -c64 -d"${seconds}s" --latency "$@")
  echo "$out" >&2
  python3 - "$out" <<'PY'
import re, sys
text = sys.argv[1]
def ms(label):
    m = re.search(r'^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$' % label, text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r'Requests/sec:\s+([\d.]+)', text).group(1))
bad = re.search(r'Non-2xx or 3xx responses:\s+(\d+)', text)
print(f"{rps:.0f} {ms('50'):.2f} {ms('99'):.2f} {bad.group(1) if bad else 0}")
PY
}

serve() { # serve <data-dir> <port> [extra args]; waits until ready
  local dir=$1 port=$2; shift 2
  "$bin" serve --data-dir "$dir" --port "$port" "$@" >"$dir.serve.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.2; done
  echo "server did not start" >&2; cat "$dir.serve.log" >&2; exit 1
}

if [ "$only_big" -eq 0 ]; then
echo "== (a) raw SQLite ceiling"
read -r raw_single raw_batch < <("$bin" bench raw-sqlite --data-dir "$work/raw" | awk '{print $2}' | paste -sd' ')
echo "raw single-row durable tx/s: $raw_single   batched rows/s: $raw_batch"

echo "== (b) declarations over HTTP on SQLite"
"$bin" bench load --data-dir "$work/sqlite" --subjects 5000 --declarations-per-subject 1 --ids-file "$work/ids-sqlite.txt" >/dev/null
port=$(free_port); serve "$work/sqlite" "$port"
read -r b_rps b_p50 b_p99 b_bad < <(CANDOR_IDS="$work/ids-sqlite.txt" CANDOR_KEY=$(key_of "$work/sqlite/demo-keys.json" admin) load -s bench/declare.lua "http://127.0.0.1:$port")
echo "== (d) hello-world route of the same server"
read -r d_rps d_p50 d_p99 d_bad < <(load "http://127.0.0.1:$port/healthz")
"$bin" ledger verify --data-dir "$work/sqlite" | sed 's/^/after load: /'
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

echo "== (c) declarations over HTTP on PostgreSQL"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgdir=$(mktemp -d /tmp/candor-bench-pg.XXXXXX); chown postgres "$pgdir"
pgport=$(free_port)
runuser -u postgres -- "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/pg.log" -o "-c listen_addresses=127.0.0.1 -p $pgport -k $pgdir" -w start >/dev/null
pgurl="postgres://postgres@127.0.0.1:$pgport/postgres"
"$bin" bench load --data-dir "$work/pg" --database-url "$pgurl" --subjects 5000 --declarations-per-subject 1 --ids-file "$work/ids-pg.txt" >/dev/null
port=$(free_port); serve "$work/pg" "$port" --database-url "$pgurl"
read -r c_rps c_p50 c_p99 c_bad < <(CANDOR_IDS="$work/ids-pg.txt" CANDOR_KEY=$(key_of "$work/pg/demo-keys.json" admin) load -s bench/declare.lua "http://127.0.0.1:$port")
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

python3 - "$raw_single" "$raw_batch" "$b_rps" "$b_p50" "$b_p99" "$b_bad" "$c_rps" "$c_p50" "$c_p99" "$c_bad" "$d_rps" "$d_p50" "$d_p99" <<'PY'
import sys
raw, batch, b, b50, b99, bbad, c, c50, c99, cbad, d, d50, d99 = map(float, sys.argv[1:])
print()
print("ingest benchmark (64 clients, wrk -t2 -c64, server and load generator share the machine)")
print(f"  (a) raw SQLite single-row durable tx/s  {raw:10.0f}   batched rows/s {batch:10.0f}")
print(f"  (b) HTTP declarations/s on SQLite       {b:10.0f}   p50 {b50:.2f} ms  p99 {b99:.2f} ms  non-2xx {bbad:.0f}")
print(f"  (c) HTTP declarations/s on PostgreSQL   {c:10.0f}   p50 {c50:.2f} ms  p99 {c99:.2f} ms  non-2xx {cbad:.0f}")
print(f"  (d) hello-world route requests/s        {d:10.0f}   p50 {d50:.2f} ms  p99 {d99:.2f} ms")
print(f"  b/a = {b/raw:.2f}   (target >= 2)")
print(f"  b/d = {b/d:.2f}   (target >= 0.3)")
print(f"  c/a = {c/raw:.2f}")
print(f"  b p99 {b99:.2f} ms (target <= 20 ms)")
PY
fi

if [ "$big" -eq 1 ]; then
  echo "== 1M people, 10M declarations on SQLite"
  start=$(date +%s)
  "$bin" bench load --data-dir "$work/big" --subjects 1000000 --declarations-per-subject 10 --concurrency 512
  echo "load wall time: $(( $(date +%s) - start )) s"
  du -sh "$work/big"; ls -la "$work/big"
  start=$(date +%s.%N)
  "$bin" ledger verify --data-dir "$work/big"
  echo "ledger verify wall time: $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s"
  port=$(free_port); serve "$work/big" "$port"
  key=$(key_of "$work/big/demo-keys.json" marketing)
  for _ in $(seq 1 200); do curl -s "http://127.0.0.1:$port/v1/subjects?limit=100" -H "Authorization: Bearer $key" -H "Candor-Purpose: offers" >/dev/null; done
  grep VmRSS "/proc/${pids[-1]}/status" | sed 's/^/server resident memory after 200 list reads: /'
fi
