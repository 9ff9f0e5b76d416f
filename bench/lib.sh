# Shared by the benchmark scripts (source it from the repository root after parsing options; set
# `seconds` first). It builds the release binary, sets `bin` and a scratch directory `work`, and on exit
# stops every server started with `serve`, the PostgreSQL cluster of `start_postgres`, and removes `work`.
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# CANDOR_BENCH_BIN runs a given binary instead (to compare two builds in alternating runs).
if [ -n "${CANDOR_BENCH_BIN:-}" ]; then
  bin=$CANDOR_BENCH_BIN
else
  swift build -c release --scratch-path .build-release --product candor 2>&1 | grep -E 'error|Compiling candor|Build complete' || true
  bin=$(swift build -c release --scratch-path .build-release --show-bin-path)/candor
fi
work=$(mktemp -d /tmp/candor-bench.XXXXXX)
pids=()
bench_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${pgdir:-}" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
  [ -n "${pgdir:-}" ] && rm -rf "$pgdir"
  rm -rf "$work"
}
trap bench_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# key_of <demo-keys.json> <name>: one of the demo workspace's secret keys.
key_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# load [wrk args…] URL: runs wrk at 64 connections for $seconds (its report goes to stderr) and prints
# "<requests/s> <p50 ms> <p99 ms> <non-2xx>".
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

# serve <data-dir> <port> [extra args]: starts `candor serve` and waits until it is ready.
serve() {
  local dir=$1 port=$2; shift 2
  "$bin" serve --data-dir "$dir" --port "$port" "$@" >"$dir.serve.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.2; done
  echo "server did not start" >&2; cat "$dir.serve.log" >&2; exit 1
}

# stop_last_server: stops the server `serve` started last.
stop_last_server() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; }

# start_postgres: a throwaway PostgreSQL cluster on loopback; sets `pgurl`.
start_postgres() {
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pgdir=$(mktemp -d /tmp/candor-bench-pg.XXXXXX); chown postgres "$pgdir"
  local pgport; pgport=$(free_port)
  runuser -u postgres -- "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/pg.log" -o "-c listen_addresses=127.0.0.1 -p $pgport -k $pgdir" -w start >/dev/null
  pgurl="postgres://postgres@127.0.0.1:$pgport/postgres"
}
