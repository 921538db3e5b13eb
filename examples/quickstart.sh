#!/usr/bin/env bash
# Xoal quick start, end to end on a fresh data directory (README.md, "Quick start"):
#   1. start `xoal dev smtp-sink` (a local SMTP server that prints every email it receives)
#   2. start `xoal serve` on a fresh data dir and read the two keys it prints
#   3. point the email channel at the sink
#   4. send the Segment payloads of ../shared/fixtures/segment (or examples/segment-sample) to
#      the Segment endpoint
#   5. create a segment of everyone with an email address
#   6. create and activate a welcome workflow on entering that segment, then sign up someone new
#   7. send a broadcast to the segment and watch the emails arrive at the sink
#   8. read the welcome workflow's analytics and logs
# Both servers listen on 127.0.0.1 with ports the kernel picks. Every wait is a bounded poll.
# Exits non-zero if a step fails; CI runs it as a test (ctest -R examples.quickstart).
#
# Usage: examples/quickstart.sh [--xoal PATH] [--fixtures DIR] [--keep]
#   --xoal PATH     the xoal binary (default build/src/xoal)
#   --fixtures DIR  the Segment payloads to send (default ../shared/fixtures/segment when it
#                   exists, else examples/segment-sample)
#   --keep          keep the temp dir (data dir, logs, received emails) and print where it is
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
xoal="$repo/build/src/xoal"
fixtures="$repo/../shared/fixtures/segment"
[[ -d "$fixtures" ]] || fixtures="$repo/examples/segment-sample"
keep=0
while (($#)); do
  case "$1" in
    --xoal) xoal="$2"; shift 2 ;;
    --fixtures) fixtures="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--xoal PATH] [--fixtures DIR] [--keep]" >&2; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "quickstart needs jq (apt-get install jq)" >&2; exit 2; }
[[ -x "$xoal" ]] || { echo "no xoal binary at $xoal: build it first (scripts/build.sh)" >&2; exit 2; }

work="$(mktemp -d /tmp/xoal-quickstart-XXXXXX)"
sink_pid=""
serve_pid=""
cleanup() {
  [[ -n "$serve_pid" ]] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" || true
  [[ -n "$sink_pid" ]] && kill -TERM "$sink_pid" 2>/dev/null && wait "$sink_pid" || true
  if ((keep)); then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "quickstart FAILED: $*" >&2
  echo "--- server log (tail) ---" >&2
  tail -n 30 "$work/serve.log" >&2 || true
  exit 1
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds, at most SECONDS.
wait_for() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

listening_address() { grep -o 'listening address=[0-9.]*:[0-9]*' "$1" 2>/dev/null | head -1 | cut -d= -f2; }

api() {  # api METHOD PATH [BODY]: a management API call; prints the JSON answer
  local method=$1 path=$2 body=${3:-}
  local args=(-sS -X "$method" -H "Authorization: Bearer $sk" -w '\n%{http_code}')
  [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  local out
  out=$(curl "${args[@]}" "$base$path")
  local code=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ "$code" =~ ^2 ]] || fail "$method $path answered $code: $out"
  printf '%s' "$out"
}

step "1. a local SMTP sink for development: xoal dev smtp-sink"
"$xoal" dev smtp-sink --listen 127.0.0.1:0 --dir "$work/mail" >"$work/sink.out" 2>"$work/sink.log" &
sink_pid=$!
wait_for 10 listening_address "$work/sink.out" >/dev/null || fail "the SMTP sink did not start"
sink_addr=$(listening_address "$work/sink.out")
echo "SMTP sink on $sink_addr"

step "2. xoal serve on a fresh data dir"
"$xoal" serve --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.log" &
serve_pid=$!
wait_for 30 listening_address "$work/serve.out" >/dev/null || fail "xoal serve did not start"
base="http://$(listening_address "$work/serve.out")"
ing=$(grep -o 'ing_[a-z0-9]\{32\}' "$work/serve.out" | head -1)
sk=$(grep -o 'sk_[a-z0-9]\{32\}' "$work/serve.out" | head -1)
[[ -n "$ing" && -n "$sk" ]] || fail "no keys in the first start's output"
echo "API on $base; keys ${ing:0:8}... and ${sk:0:7}..."
curl -sS "$base/healthz"; echo

step "3. the email channel points at the sink"
api PUT /api/v1/channels/email "$(jq -n --arg host "${sink_addr%:*}" --argjson port "${sink_addr##*:}" \
  '{from: "Xoal Quickstart <hello@example.com>", smtp: {host: $host, port: $port, tls: "none"}}')" \
  | jq -c '{channel, configured}'

step "4. Segment payloads to POST /ingest/v1/segment/event"
echo "from $fixtures"
for f in "$fixtures"/*.json; do
  answer=$(curl -sS -H "Authorization: Bearer $ing" -H 'Content-Type: application/json' \
    --data-binary "@$f" "$base/ingest/v1/segment/event")
  printf '  %-36s %s\n' "$(basename "$f")" "$(jq -c '{accepted, duplicates, rejected: (.rejected // [] | length)}' <<<"$answer")"
done
api GET '/api/v1/customers?limit=100' | jq -r '.data[] | "  customer \(.usid) \(.email // "(no email)")"'

step "5. a segment: everyone with an email address"
segment=$(api POST /api/v1/segments \
  '{"name": "Has email", "type": "dynamic", "conditions": {"attribute": "email", "op": "exists"}}' | jq -r .id)
segment_ready() { [[ $(api GET "/api/v1/segments/$segment" | jq -r .status) == ready ]]; }
wait_for 20 segment_ready || fail "the segment did not finish computing"
api GET "/api/v1/segments/$segment" | jq -c '{id, name, status, size}'

step "6. a welcome workflow on entering the segment, activated; then a new sign-up"
workflow=$(api POST /api/v1/workflows "$(jq -n --arg seg "$segment" '{
  name: "Welcome",
  trigger: {type: "segment_entered", segment_id: $seg},
  entry: {re_entry: "never"},
  start: "welcome",
  steps: {welcome: {type: "send_email", message: {
    subject: "Welcome, {{ customer.first_name | default: \"friend\" }}!",
    text: "Hi {{ customer.first_name | default: \"there\" }}, thanks for signing up.",
    unsubscribe_url: "https://example.com/unsubscribe"}}}}')" | jq -r .id)
api POST "/api/v1/workflows/$workflow/activate" | jq -c '{id, name, status}'
curl -sS -H "Authorization: Bearer $ing" -H 'Content-Type: application/json' --data-binary \
  '{"type": "identify", "messageId": "quickstart-signup-ada", "userId": "user-ada",
    "traits": {"email": "ada@example.com", "firstName": "Ada", "timezone": "Europe/London"}}' \
  "$base/ingest/v1/segment/event" | jq -c .

step "7. a broadcast to the segment, sent now"
broadcast=$(api POST /api/v1/broadcasts "$(jq -n --arg seg "$segment" '{
  name: "December news", segment_id: $seg, channel: "email",
  message: {subject: "December news for {{ customer.first_name | default: \"you\" }}",
            text: "What is new this month.", unsubscribe_url: "https://example.com/unsubscribe"}}')" \
  | jq -r .id)
api POST "/api/v1/broadcasts/$broadcast/send" | jq -c '{id, status}'
broadcast_done() {
  api GET "/api/v1/broadcasts/$broadcast" >"$work/broadcast.json"
  jq -e '.status == "sent" and .counts.pending == 0' "$work/broadcast.json" >/dev/null
}
wait_for 30 broadcast_done || fail "the broadcast did not finish: $(cat "$work/broadcast.json")"
jq -c '{id, status, counts}' "$work/broadcast.json"
recipients=$(jq .counts.recipients "$work/broadcast.json")
sent=$(jq .counts.sent "$work/broadcast.json")
((recipients > 0 && sent == recipients - $(jq '[.counts.skipped[]] | add // 0' "$work/broadcast.json"))) \
  || fail "expected every recipient sent or skipped"

step "   what the sink received"
welcome_arrived() { grep -q 'to=ada@example.com subject="Welcome' "$work/sink.out"; }
wait_for 30 welcome_arrived || fail "the welcome email did not arrive"
grep '^received' "$work/sink.out" | sed 's/^/  /'
received=$(grep -c '^received' "$work/sink.out")
((received >= sent + 1)) || fail "the sink has $received emails, expected at least $((sent + 1))"

step "8. the welcome workflow's analytics and logs"
analytics_show_welcome() {
  api GET "/api/v1/workflows/$workflow/analytics" >"$work/analytics.json"
  jq -e '.entered >= 1 and .messages_sent.email >= 1' "$work/analytics.json" >/dev/null
}
wait_for 10 analytics_show_welcome || fail "no welcome email in the analytics: $(cat "$work/analytics.json")"
jq -c . "$work/analytics.json"
api GET "/api/v1/workflows/$workflow/logs?limit=5" \
  | jq -c '.data[] | {usid, status, steps: [.steps[] | {step, outcome, channel, at}]}'

echo
echo "quickstart OK: $sent broadcast emails and $((received - sent)) welcome email(s) reached the sink"
