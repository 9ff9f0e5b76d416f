#!/usr/bin/env bash
# Decide benchmark (issue: activation). With 1M stored people, measures in ONE run:
#   decide requests/s at 64 concurrent clients (POST /v1/decide, placement onsite, random people) and
#   the hello-world route (/healthz) of the same server under the same load; prints the ratio and p50/p99.
# The data directory is reused when it exists (made once by `candor bench load`, which takes a while).
# Usage: bash bench/decide.sh [--data-dir DIR] [--people N] [--seconds N] [--ranking priority|thompson]
set -euo pipefail
cd "$(dirname "$0")/.."
data=/tmp/candor-big; people=1000000; seconds=15; ranking=priority
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data=$2; shift ;;
    --people) people=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --ranking) ranking=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
source bench/lib.sh
if [ ! -f "$data/candor.sqlite" ]; then
  echo "== loading $people people into $data"
  "$bin" bench load --data-dir "$data" --subjects "$people" --declarations-per-subject 1 --concurrency 512
fi
port=$(free_port)
# The periodic ledger checkpoint (every 60 s by default; over 10M entries it takes seconds of CPU) is
# moved out of the measured minute, so decide and the hello-world route run under the same conditions.
started=$(date +%s)
CANDOR_OFFER_RANKING=$ranking CANDOR_CHECKPOINT_INTERVAL=3600 serve "$data" "$port"
pid=${pids[-1]}

# A catalog like a shop's: three personalized offers on saved segments and a generic fallback (made once).
python3 - "$data" "$port" "$work/ids.txt" <<'PY'
import json, random, sqlite3, sys, urllib.request
data, port, ids_file = sys.argv[1], sys.argv[2], sys.argv[3]
admin = json.load(open(f"{data}/demo-keys.json"))["admin"]
def call(method, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        return json.load(reply)
segments = {s["name"]: s["id"] for s in call("GET", "/v1/segments")["data"]}
offers = {o["name"] for o in call("GET", "/v1/offers")["data"]}
wanted = [
    ("Bench runners", 'interests has "running" and consent("offers")', "Bench trail shoes", 10),
    ("Bench big feet", 'shoe_size >= 44 and consent("offers")', "Bench wide fit", 5),
    ("Bench discount lovers", 'offer_types has "discounts" and consent("offers")', "Bench weekend sale", 1),
]
for segment, rule, offer, priority in wanted:
    if segment not in segments:
        segments[segment] = call("POST", "/v1/segments", {"name": segment, "rule": rule})["id"]
    if offer not in offers:
        call("POST", "/v1/offers", {"name": offer, "placements": ["onsite"], "segment_id": segments[segment], "purpose": "offers",
                                    "priority": priority, "content": {"en": {"title": offer, "body": "For you"}}})
if "Bench newsletter" not in offers:
    call("POST", "/v1/offers", {"name": "Bench newsletter", "placements": ["onsite"], "content": {"en": {"title": "Join the newsletter", "body": "Monthly"}}})
db = sqlite3.connect(f"file:{data}/candor.sqlite?mode=ro", uri=True)
total = db.execute("SELECT max(rowid) FROM subjects").fetchone()[0]
ids = [row[0] for row in db.execute("SELECT id FROM subjects WHERE rowid IN (%s) AND status = 'active'" % ",".join(str(random.randint(1, total)) for _ in range(20000)))]
open(ids_file, "w").write("\n".join(ids))
print(f"people stored: {total}; random people for the load: {len(ids)}")
PY

# A running server has its segment index loaded; loading it (≈ 30 s at 1M people) would otherwise
# share the measured seconds. The first count waits for the load (the catalog step above may have started it).
admin=$(key_of "$data/demo-keys.json" admin)
curl -sf -X POST "http://127.0.0.1:$port/v1/segments/count" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"rule":"consent(\"offers\")"}' >/dev/null
echo "segment index loaded $(( $(date +%s) - started )) s after the server started"
# The index logs its size once loaded (people, index bytes, the decision projection's bytes).
sizes=$(grep 'segment index loaded' "$data.serve.log" | tail -1 | grep -o '[a-z_]*=[0-9]*' | sort | tr '\n' ' ' || true)
echo "index: $sizes"
rss_loaded=$(grep VmRSS "/proc/$pid/status" | awk '{print $2}')
sales=$(key_of "$data/demo-keys.json" sales)
echo "== decide ($ranking ranking)"
read -r a_rps a_p50 a_p99 a_bad < <(CANDOR_IDS="$work/ids.txt" CANDOR_KEY=$sales load -s bench/decide.lua "http://127.0.0.1:$port")
echo "== hello-world route of the same server"
read -r h_rps h_p50 h_p99 h_bad < <(load "http://127.0.0.1:$port/healthz")
rss=$(grep VmRSS "/proc/$pid/status" | awk '{print $2}')
python3 - "$a_rps" "$a_p50" "$a_p99" "$a_bad" "$h_rps" "$h_p50" "$h_p99" "$rss" "$rss_loaded" $sizes <<'PY'
import sys
a, a50, a99, abad, h, h50, h99, rss, rss_loaded = map(float, sys.argv[1:10])
sizes = dict(item.split("=") for item in sys.argv[10:])
print()
print("decide benchmark (64 clients, wrk -t2 -c64, server and load generator share the machine)")
print(f"  decide requests/s        {a:10.0f}   p50 {a50:.2f} ms  p99 {a99:.2f} ms  non-2xx {abad:.0f}")
print(f"  hello-world requests/s   {h:10.0f}   p50 {h50:.2f} ms  p99 {h99:.2f} ms")
print(f"  decide/hello = {a/h:.2f}   (target >= 0.5)")
print(f"  decide p99 {a99:.2f} ms   (target <= 5 ms)")
print(f"  server resident memory {rss/1024:.0f} MiB ({rss_loaded/1024:.0f} MiB right after the index loaded)")
if "people" in sizes and int(sizes["people"]):
    people = int(sizes["people"])
    print(f"  decision projection {int(sizes['decision_projection_bytes'])/people:.0f} bytes/person, whole index {int(sizes['index_bytes'])/people:.0f} bytes/person ({people} people, estimated)")
PY
