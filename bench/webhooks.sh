#!/usr/bin/env bash
# Webhook deliveries per second to a local receiver that verifies every signature, as a ratio to bare
# POSTs to the same receiver with the same client and concurrency (docs/delivery.md).
# Usage: bench/webhooks.sh [people] [postgres-url]
set -euo pipefail
cd "$(dirname "$0")/.."
PEOPLE="${1:-5000}"
swift build -c release --scratch-path .build-release --product candor >/dev/null
ARGS=(bench webhooks --people "$PEOPLE" --data-dir "${TMPDIR:-/tmp}/candor-webhooks-bench")
if [[ -n "${2:-}" ]]; then ARGS+=(--postgres-url "$2"); fi
.build-release/release/candor "${ARGS[@]}"
