#!/usr/bin/env bash
# Survey answers benchmark (issue 3). Measures in ONE run, on a fresh SQLite data directory with 5000
# people: (a) survey answers/s through HTTP with 64 concurrent clients — each a declaration through the
# common write path (projection, ledger, audit, outbox) plus the survey progress row; (b) a hello-world
# route (/healthz) of the same server under the same load; and prints a/b with p50/p99 latencies.
# With --postgres it repeats (a) on a throwaway PostgreSQL cluster.
# Usage: bash bench/surveys.sh [--seconds N] [--postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=15; postgres=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --postgres) postgres=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
source bench/lib.sh

# Creates and publishes the benchmark survey; prints its id.
survey() { # survey <port> <key>
  local id
  id=$(curl -sf "http://127.0.0.1:$1/v1/surveys" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d \
    '{"title":{"en":"Bench"},"kind":"questionnaire","questions":[{"id":"sport","field":"interests"},{"id":"size","field":"shoe_size"}]}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -sf -X POST "http://127.0.0.1:$1/v1/surveys/$id/publish" -H "Authorization: Bearer $2" >/dev/null
  echo "$id"
}

echo "== (a) survey answers over HTTP on SQLite"
"$bin" bench load --data-dir "$work/sqlite" --subjects 5000 --declarations-per-subject 1 --ids-file "$work/ids-sqlite.txt" >/dev/null
port=$(free_port); serve "$work/sqlite" "$port"
key=$(key_of "$work/sqlite/demo-keys.json" admin)
sid=$(survey "$port" "$key")
read -r a_rps a_p50 a_p99 a_bad < <(CANDOR_IDS="$work/ids-sqlite.txt" CANDOR_KEY="$key" CANDOR_SURVEY="$sid" load -s bench/survey_answer.lua "http://127.0.0.1:$port")
echo "== (b) hello-world route of the same server"
read -r b_rps b_p50 b_p99 b_bad < <(load "http://127.0.0.1:$port/healthz")
"$bin" ledger verify --data-dir "$work/sqlite" | sed 's/^/after load: /'
stop_last_server

c_rps=0; c_p50=0; c_p99=0; c_bad=0
if [ "$postgres" -eq 1 ]; then
  echo "== (c) survey answers over HTTP on PostgreSQL"
  start_postgres
  "$bin" bench load --data-dir "$work/pg" --database-url "$pgurl" --subjects 5000 --declarations-per-subject 1 --ids-file "$work/ids-pg.txt" >/dev/null
  port=$(free_port); serve "$work/pg" "$port" --database-url "$pgurl"
  key=$(key_of "$work/pg/demo-keys.json" admin)
  sid=$(survey "$port" "$key")
  read -r c_rps c_p50 c_p99 c_bad < <(CANDOR_IDS="$work/ids-pg.txt" CANDOR_KEY="$key" CANDOR_SURVEY="$sid" load -s bench/survey_answer.lua "http://127.0.0.1:$port")
  stop_last_server
fi

python3 - "$a_rps" "$a_p50" "$a_p99" "$a_bad" "$b_rps" "$b_p50" "$b_p99" "$c_rps" "$c_p50" "$c_p99" "$c_bad" <<'PY'
import sys
a, a50, a99, abad, b, b50, b99, c, c50, c99, cbad = map(float, sys.argv[1:])
print()
print("survey answers benchmark (64 clients, wrk -t2 -c64, server and load generator share the machine)")
print(f"  (a) HTTP survey answers/s on SQLite     {a:10.0f}   p50 {a50:.2f} ms  p99 {a99:.2f} ms  non-2xx {abad:.0f}")
print(f"  (b) hello-world route requests/s        {b:10.0f}   p50 {b50:.2f} ms  p99 {b99:.2f} ms")
if c:
    print(f"  (c) HTTP survey answers/s on PostgreSQL {c:10.0f}   p50 {c50:.2f} ms  p99 {c99:.2f} ms  non-2xx {cbad:.0f}")
print(f"  a/b = {a/b:.3f}")
PY
