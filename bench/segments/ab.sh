#!/usr/bin/env bash
# Runs two or more segments_bench binaries in turn, ROUNDS times, and prints one line of figures
# per run: the machines are shared and noisy, so compare binaries within one run of this script.
#   bench/segments/ab.sh ROUNDS BIN...
#   BENCH_ARGS="--customers 20000 --events 200000" bench/segments/ab.sh 1 /tmp/old /tmp/new
# Per run: events/s and writer CPU us/message of the unpaced phases (no segment, 50 segments)
# and the paced one, the IngestBatch -> membership change p50 and p99 in ms, OK or FAILED, and
# the load average.
set -uo pipefail
rounds=$1
shift
args=${BENCH_ARGS:---customers 5000 --events 50000 --probes 100 --probe-seconds 8 --rate-seconds 8}
for r in $(seq 1 "$rounds"); do
  for b in "$@"; do
    out=$("$b" $args 2>&1)
    bare=$(echo "$out" | awk '/^unpaced, no segments/{print $5, $NF}')
    segs=$(echo "$out" | awk '/^unpaced, [0-9]+ segments/{print $5, $NF}')
    paced=$(echo "$out" | awk '/^paced at/{print $8, $NF}')
    delay=$(echo "$out" | awk '/^IngestBatch called -> MembershipListener/{print $5, $6}')
    echo "r$r $(basename "$b"): no-segment=[$bare] segments=[$segs] paced=[$paced]" \
      "delay=[$delay] $(echo "$out" | tail -1) load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done
