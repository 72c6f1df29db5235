#!/usr/bin/env bash
# The local demo: one alarm from events/ through sagealarm's delivery path to local stand-ins for
# Slack and PagerDuty on loopback, then shows what they received. Starts and stops everything
# itself. Usage: scripts/demo.sh [EVENT.json]
set -euo pipefail
cd "$(dirname "$0")/.."
EVENT="${1:-events/sns-instance-gpu-normalized-alarm.json}"
WORK=".demo"
rm -rf "$WORK" && mkdir -p "$WORK"

echo "==> building the sagealarm CLI (first build compiles the AWS SDK: a few minutes)"
cargo build --quiet -p sagealarm-cli
BIN="${CARGO_TARGET_DIR:-target}/debug/sagealarm"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 scripts/local_receivers.py "$PORT" "$WORK" & RECV_PID=$!
trap 'kill "$RECV_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break; sleep 0.1; done

cat > "$WORK/routes.yaml" <<YAML
receivers:
  - name: local-slack
    slack: { webhook_url: "env:DEMO_SLACK_WEBHOOK" }
  - name: local-pagerduty
    pagerduty: { routing_key: "env:DEMO_PD_ROUTING_KEY", events_url: "http://127.0.0.1:$PORT/pd" }
route:
  receivers: [local-slack, local-pagerduty]
  severity: critical
YAML

echo "==> sagealarm send $EVENT"
start=$(date +%s%N)
DEMO_SLACK_WEBHOOK="http://127.0.0.1:$PORT/slack" DEMO_PD_ROUTING_KEY="0123456789abcdef0123456789abcdef" \
SAGEALARM_ALLOW_PLAINTEXT_SECRETS=1 SAGEALARM_LOG=info \
  "$BIN" send "$EVENT" --config "$WORK/routes.yaml" --no-enrich 2>"$WORK/function.log"
echo "    (took $(( ($(date +%s%N) - start) / 1000000 )) ms; structured logs in $WORK/function.log)"

echo
echo "==> Slack received:"
python3 scripts/show_message.py "$WORK/slack.jsonl"
echo
echo "==> PagerDuty received:"
python3 -m json.tool < "$WORK/pagerduty.jsonl"
