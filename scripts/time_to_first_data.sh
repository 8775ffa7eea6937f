#!/usr/bin/env bash
# Time from `make demo` on a fresh clone to the first simulated reading visible through the
# API (the simulator issue's "within a minute"). Usage: scripts/time_to_first_data.sh [PORT]
# Clones this repository into a temporary folder, runs `make demo` there, polls until a
# street light has reported, prints the seconds, then stops the demo.
set -euo pipefail
port="${1:-8011}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
git clone -q "$repo" "$work/bocage"
cd "$work/bocage"
t0=$(date +%s.%N)
make demo DEMO_ARGS="--port $port" > "$work/demo.log" 2>&1 &
demo=$!
trap 'pkill -P $demo 2>/dev/null; kill $demo 2>/dev/null; rm -rf "$work"' EXIT
while true; do
  if [ -f bocage-data/demo-keys.env ]; then
    # shellcheck disable=SC1091
    source bocage-data/demo-keys.env
    n=$(curl -s -m 2 -D - -o /dev/null -H "Authorization: Bearer $BOCAGE_ADMIN_KEY" \
      "http://127.0.0.1:$port/ngsi-ld/v1/entities?type=Streetlight&q=powerState&count=true&limit=0" \
      | tr -d '\r' | awk 'tolower($1) == "ngsild-results-count:" {print $2}' || true)
    if [ -n "$n" ] && [ "$n" -gt 0 ]; then
      t1=$(date +%s.%N)
      echo "first data after $(echo "$t1 - $t0" | bc) s ($n street lights reporting)"
      break
    fi
  fi
  sleep 0.5
done
