#!/usr/bin/env bash
# Prompt benchmark (issue 3): the page-view decision the embed calls on every page
# (POST /e/v1/decide), at 64 concurrent clients, as a ratio to the hello-world route (/healthz) of the
# same server in the same run, with 1M people stored. Targets: ratio >= 0.5, p99 <= 10 ms.
#
# The 1M-person data directory is made once by `candor bench load --subjects 1000000` (default
# /tmp/candor-big). It is never written to: the benchmark works on a copy (reflinked where the file
# system can), because it adds three prompts, 2,000 visitors and identity links for 1,000 of them
# (identified as existing people, so decisions read real profiles through the visitor → person link).
# Usage: bash bench/prompts.sh [--data-dir DIR] [--seconds N] [--visitors N]
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=/tmp/candor-big; seconds=20; visitors=2000
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) source_dir=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --visitors) visitors=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$source_dir/candor.sqlite" ] || { echo "no data directory at $source_dir: run 'candor bench load --subjects 1000000 --data-dir $source_dir'" >&2; exit 2; }
source bench/lib.sh

echo "== copying $source_dir (the original stays untouched)"
cp -r --reflink=auto "$source_dir" "$work/big"

port=$(free_port)
# The rate limits guard real shops; a load generator from one address would trip them at once.
CANDOR_EMBED_IP_LIMIT=1000000000 CANDOR_EMBED_VISITOR_LIMIT=1000000000 CANDOR_LOG_LEVEL=warning serve "$work/big" "$port"
pid=${pids[-1]}
people=$(python3 -c "import sqlite3,sys; print(sqlite3.connect('file:$work/big/candor.sqlite?mode=ro', uri=True).execute('SELECT count(*) FROM subjects').fetchone()[0])")
echo "== $people people stored; preparing prompts and $visitors visitors"

python3 - "$work/big/demo-keys.json" "http://127.0.0.1:$port" "$visitors" "$work/visitors.txt" <<'PY'
import hashlib, hmac, json, sys, urllib.request
keys = json.load(open(sys.argv[1])); base = sys.argv[2]; count = int(sys.argv[3]); out = sys.argv[4]
origin = "http://127.0.0.1:8080"  # the origin `candor bench load` put on the publishable key
def call(method, path, body=None, key=keys["admin"], extra=None):
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    headers.update(extra or {})
    request = urllib.request.Request(base + path, method=method, headers=headers, data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request) as reply:
        return json.loads(reply.read() or b"null")
prompts = [
    {"name": "Shoe size on product pages", "field": "shoe_size", "frequency": "until_answered", "delay_seconds": 3, "priority": 10,
     "audience": "not set(shoe_size)", "triggers": [{"type": "page_view", "url": {"match": "prefix", "value": "/product/"}}], "status": "active"},
    {"name": "Interests half-way down", "field": "interests", "frequency": "up_to", "max_displays": 2, "priority": 5,
     "audience": "not set(interests) or not consent(\"newsletter\")", "triggers": [{"type": "scroll", "percent": 50}], "status": "active"},
    {"name": "Offer types after add to cart", "field": "offer_types", "frequency": "once", "sample_percent": 50,
     "triggers": [{"type": "event", "event": "added_to_cart"}], "status": "active"},
]
for prompt in prompts: call("POST", "/v1/prompts", prompt)
key_id = next(k["id"] for k in call("GET", "/v1/keys")["data"] if k["kind"] == "publishable")
secret = bytes.fromhex(call("GET", f"/v1/keys/{key_id}/identity-secret")["identity_secret"])
browser = {"Origin": origin}
ids = []
for index in range(count):
    visitor = call("POST", "/e/v1/visitors", {}, key=keys["publishable"], extra=browser)["visitor"]
    if index % 2 == 0:  # half are signed-in customers among the stored people
        person = "cus_%05d" % (1 + index * 397 % 1_000_000)
        signature = hmac.new(secret, person.encode(), hashlib.sha256).hexdigest()
        call("POST", "/e/v1/identify", {"visitor": visitor, "id": person, "signature": signature}, key=keys["publishable"], extra=browser)
    ids.append(visitor)
open(out, "w").write("\n".join(ids) + "\n")
PY

pk=$(python3 -c "import json; print(json.load(open('$work/big/demo-keys.json'))['publishable'])")
echo "== warm-up"
CANDOR_VISITORS="$work/visitors.txt" CANDOR_PK="$pk" CANDOR_ORIGIN="http://127.0.0.1:8080" wrk -t2 -c64 -d5s -s bench/prompts.lua "http://127.0.0.1:$port" >/dev/null
echo "== page-view decision (POST /e/v1/decide), 64 clients, ${seconds}s"
read -r d_rps d_p50 d_p99 d_bad < <(CANDOR_VISITORS="$work/visitors.txt" CANDOR_PK="$pk" CANDOR_ORIGIN="http://127.0.0.1:8080" load -s bench/prompts.lua "http://127.0.0.1:$port")
echo "== hello-world route (/healthz) of the same server, 64 clients, ${seconds}s"
read -r h_rps h_p50 h_p99 h_bad < <(load "http://127.0.0.1:$port/healthz")
rss=$(ps -o rss= -p "$pid" | awk '{printf "%.0f", $1/1024}')
python3 - "$d_rps" "$d_p50" "$d_p99" "$d_bad" "$h_rps" "$h_p50" "$h_p99" "$people" "$rss" <<'PY'
import sys
d_rps, d_p50, d_p99, d_bad, h_rps, h_p50, h_p99 = (float(x) for x in sys.argv[1:8])
people, rss = sys.argv[8], sys.argv[9]
ratio = d_rps / h_rps
print()
print(f"people stored                     {people}")
print(f"decide  req/s {d_rps:10.0f}   p50 {d_p50:6.2f} ms   p99 {d_p99:6.2f} ms   non-2xx {d_bad:.0f}")
print(f"hello   req/s {h_rps:10.0f}   p50 {h_p50:6.2f} ms   p99 {h_p99:6.2f} ms")
print(f"ratio decide/hello                {ratio:.2f}   (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
print(f"decide p99                        {d_p99:.2f} ms (target <= 10 ms: {'met' if d_p99 <= 10 else 'NOT met'})")
print(f"server resident memory            {rss} MB")
PY
