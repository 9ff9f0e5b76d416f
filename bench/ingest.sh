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
source bench/lib.sh

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
echo "== (b') declarations again, with the segment index loaded (every write then also refreshes it)"
curl -sf -X POST -H "Authorization: Bearer $(key_of "$work/sqlite/demo-keys.json" admin)" -H 'Content-Type: application/json' \
  -d '{"rule":"set(shoe_size)"}' "http://127.0.0.1:$port/v1/segments/count" >/dev/null
read -r bi_rps bi_p50 bi_p99 bi_bad < <(CANDOR_IDS="$work/ids-sqlite.txt" CANDOR_KEY=$(key_of "$work/sqlite/demo-keys.json" admin) load -s bench/declare.lua "http://127.0.0.1:$port")
"$bin" ledger verify --data-dir "$work/sqlite" | sed 's/^/after load: /'
stop_last_server

echo "== (c) declarations over HTTP on PostgreSQL"
start_postgres
"$bin" bench load --data-dir "$work/pg" --database-url "$pgurl" --subjects 5000 --declarations-per-subject 1 --ids-file "$work/ids-pg.txt" >/dev/null
port=$(free_port); serve "$work/pg" "$port" --database-url "$pgurl"
read -r c_rps c_p50 c_p99 c_bad < <(CANDOR_IDS="$work/ids-pg.txt" CANDOR_KEY=$(key_of "$work/pg/demo-keys.json" admin) load -s bench/declare.lua "http://127.0.0.1:$port")
stop_last_server

python3 - "$raw_single" "$raw_batch" "$b_rps" "$b_p50" "$b_p99" "$b_bad" "$c_rps" "$c_p50" "$c_p99" "$c_bad" "$d_rps" "$d_p50" "$d_p99" "$bi_rps" "$bi_p50" "$bi_p99" "$bi_bad" <<'PY'
import sys
raw, batch, b, b50, b99, bbad, c, c50, c99, cbad, d, d50, d99, bi, bi50, bi99, bibad = map(float, sys.argv[1:])
print()
print("ingest benchmark (64 clients, wrk -t2 -c64, server and load generator share the machine)")
print(f"  (a) raw SQLite single-row durable tx/s  {raw:10.0f}   batched rows/s {batch:10.0f}")
print(f"  (b) HTTP declarations/s on SQLite       {b:10.0f}   p50 {b50:.2f} ms  p99 {b99:.2f} ms  non-2xx {bbad:.0f}")
print(f"  (b') the same, segment index loaded     {bi:10.0f}   p50 {bi50:.2f} ms  p99 {bi99:.2f} ms  non-2xx {bibad:.0f}")
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
