#!/usr/bin/env bash
# The local demo: a SageMaker alarm through the real `enrich-alarm` Lambda (cargo lambda watch +
# invoke) against emulated AWS on loopback (LocalStack for CloudWatch, moto for Logs and
# SageMaker), seeded with a 3-instance endpoint whose GPU 2 on one instance runs hot and runs out
# of memory. Shows the Slack message and the PagerDuty event it sent to local stand-ins: Slack
# through the Slack app path (Web API stand-in, incident state in DynamoDB on moto), grouped by
# endpoint: the group's parent (a summary), the alarm's detail and its chart in the thread, the
# same ALARM redelivered (not posted again), a second alarm on the endpoint joining the group, then
# both OK (the parent resolves in place, each OK replies in the thread).
# The uploaded chart is kept as .demo/chart.png.
# Installs what it needs (Python venvs, the build) and stops everything it started.
# Usage: scripts/demo.sh [EVENT.json] (default: the endpoint-level GPU alarm)
#        SAGEALARM_DEMO_SCENARIO=even|enhanced-off|no-log-group|serverless|serverless-on-demand|inference-component|scaled-in-noisy|at-max|scaling
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="${SAGEALARM_DEMO_SCENARIO:-hot-gpu}"
# Each world's own alarm unless one is given: a GPU alarm means nothing to a serverless endpoint.
case "$SCENARIO" in
    serverless) DEFAULT_EVENT="events/sns-serverless-provisioned-concurrency-alarm.json" ;;
    serverless-on-demand) DEFAULT_EVENT="events/sns-serverless-concurrency-alarm.json" ;;
    *) DEFAULT_EVENT="events/sns-gpu-utilization-alarm.json" ;;
esac
EVENT_SRC="${1:-$DEFAULT_EVENT}"
WORK=".demo"
TARGET="${CARGO_TARGET_DIR:-target}"
CARGO_LAMBDA_VERSION="1.9.2"
rm -rf "$WORK" && mkdir -p "$WORK"
demo_start=$(date +%s)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.2; done; return 1; }

echo "==> setting up (first run: Python venvs for the emulators and cargo-lambda, then the build — several minutes)"
scripts/emulators.sh install
if [[ ! -f .venv/lambda/.installed-$CARGO_LAMBDA_VERSION ]]; then
    python3 -m venv .venv/lambda
    .venv/lambda/bin/pip install -q "cargo-lambda==$CARGO_LAMBDA_VERSION"
    touch ".venv/lambda/.installed-$CARGO_LAMBDA_VERSION"
fi
cargo build --quiet -p enrich-alarm -p sagealarm-testkit -p sagealarm-cli

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
    scripts/emulators.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "==> starting the emulators"
scripts/emulators.sh start
set -a; source .emulators/env; set +a

# The alarm as if it fired two minutes ago: the seeded world is built around its time.
python3 - "$EVENT_SRC" "$WORK/event.json" <<'PY'
import datetime, json, re, sys
raw = open(sys.argv[1]).read()
now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=2)
stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+0000" % (now.microsecond // 1000)
# The reason's datapoint times move by as much as the state change time did.
m = re.search(r"StateChangeTime\W+(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", raw) or re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{3}\+0000", raw)
if m:
    shift = now - datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    def moved(p):
        t = datetime.datetime.strptime(p.group(1), "%d/%m/%y %H:%M:%S") + shift
        return "(" + t.strftime("%d/%m/%y %H:%M:%S") + ")"
    raw = re.sub(r"\((\d\d/\d\d/\d\d \d\d:\d\d:\d\d)\)", moved, raw)
raw = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", stamp, raw)
open(sys.argv[2], "w").write(raw)
PY
echo "==> seeding the endpoint world ($SCENARIO)"
STATE_TABLE="sagealarm-demo-state-$$"
"$TARGET/debug/seed-world" --scenario "$SCENARIO" --event "$WORK/event.json" --state-table "$STATE_TABLE"

RPORT=$(free_port)
setsid python3 scripts/local_receivers.py "$RPORT" "$WORK" & PIDS+=($!)
wait_port "$RPORT"
cat > "$WORK/routes.yaml" <<YAML
receivers:
  - name: local-slack
    slack_app: { token: "env:DEMO_SLACK_BOT_TOKEN", channel: C0DEMO12345, api_url: "http://127.0.0.1:$RPORT/api" }
  - name: local-pagerduty
    pagerduty: { routing_key: "env:DEMO_PD_ROUTING_KEY", events_url: "http://127.0.0.1:$RPORT/pd" }
route:
  receivers: [local-slack, local-pagerduty]
  severity: critical
  group: { by: [endpoint] }
YAML

echo "==> starting enrich-alarm in the Lambda runtime emulator (cargo lambda watch)"
LPORT=$(free_port)
export PATH="$PWD/.venv/lambda/bin:$PATH"
SAGEALARM_ROUTES_FILE="$PWD/$WORK/routes.yaml" SAGEALARM_ALLOW_PLAINTEXT_SECRETS=1 SAGEALARM_LOG=info \
SAGEALARM_STATE_TABLE="$STATE_TABLE" \
DEMO_SLACK_BOT_TOKEN="xoxb-demo-0000-not-a-real-token" DEMO_PD_ROUTING_KEY="0123456789abcdef0123456789abcdef" \
  setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$LPORT" -p enrich-alarm >"$WORK/function.log" 2>&1 & PIDS+=($!)
wait_port "$LPORT" || { tail -20 "$WORK/function.log"; exit 1; }

echo "==> cargo lambda invoke enrich-alarm --data-file $EVENT_SRC (time moved to now)"
start=$(date +%s%N)
cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LPORT" --data-file "$WORK/event.json" enrich-alarm >"$WORK/invoke.json" 2>"$WORK/invoke.err" || true
took=$(( ($(date +%s%N) - start) / 1000000 ))
# `invoke` exits 0 even when the function failed: read what it returned.
if ! python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if "deliveries" in d else 1)' "$WORK/invoke.json" 2>/dev/null; then
    echo "the function did not return a delivery summary:"; cat "$WORK/invoke.json" "$WORK/invoke.err"; tail -30 "$WORK/function.log"; exit 1
fi
enriched=$(python3 - "$WORK/function.log" <<'PY'
import json, sys
for line in open(sys.argv[1], errors="replace"):
    i = line.find("{")
    if i < 0: continue
    try: d = json.loads(line[i:])
    except ValueError: continue
    f = d.get("fields", {})
    if f.get("message") == "enriched":
        print("%s AWS calls in %s ms" % (f.get("calls"), f.get("elapsed_ms")), end="; ")
    if f.get("message") == "handled":
        print("whole handler (enrich + render + deliver) %s ms" % f.get("elapsed_ms"), end="")
PY
)
echo "    invocation took ${took} ms (the first call includes building and starting the function); enrichment: ${enriched:-not logged}"


# The same alarm again (an SNS redelivery), then its OK: one thread, updated in place.
invoke() { # name event-file
    cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LPORT" --data-file "$2" enrich-alarm >"$WORK/invoke-$1.json" 2>>"$WORK/invoke.err" || true
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if "deliveries" in d else 1)' "$WORK/invoke-$1.json" 2>/dev/null \
        || { echo "the $1 invocation did not return a delivery summary:"; cat "$WORK/invoke-$1.json"; tail -30 "$WORK/function.log"; exit 1; }
}
if python3 - "$WORK" <<'PY'
import copy, datetime, json, sys
work = sys.argv[1]
ev = json.load(open(work + "/event.json"))
sns = (ev.get("Records") or [{}])[0].get("Sns")
if not sns:
    sys.exit(1)  # an EventBridge or direct-action event: the later steps are shown for SNS only
first = json.loads(sns["Message"])

def write(name, msg, message_id):
    out = copy.deepcopy(ev)
    out["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    out["Records"][0]["Sns"]["MessageId"] = message_id
    json.dump(out, open("%s/%s" % (work, name), "w"))

# A second alarm on the same endpoint (the same alarm's copy, renamed): it joins the group.
second = dict(first, AlarmName=first["AlarmName"] + "-2", AlarmArn=first.get("AlarmArn", "") + "-2")
write("event-2.json", second, sns.get("MessageId", "m") + "-2")
now = datetime.datetime.now(datetime.timezone.utc)
ok = dict(OldStateValue="ALARM", NewStateValue="OK",
          StateChangeTime=now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+0000" % (now.microsecond // 1000),
          NewStateReason="Threshold Crossed: 3 out of the last 3 datapoints were not greater than or equal to the threshold.")
write("event-ok.json", dict(first, **ok), sns.get("MessageId", "m") + "-ok")
write("event-2-ok.json", dict(second, **ok), sns.get("MessageId", "m") + "-2-ok")
PY
then
    # 3 s apart: a group's parent is updated at most every 3 s, and the local runtime gives each
    # invocation a short deadline (Lambda's 3 s default, the template says 300 s), too short to
    # wait for the next update slot.
    sleep 3; echo "==> the same ALARM again (as an SNS redelivery would bring it)"; invoke repeat "$WORK/event.json"
    echo "==> a second alarm on the same endpoint"; invoke second "$WORK/event-2.json"
    sleep 3; echo "==> both OK, a moment later"; invoke ok "$WORK/event-ok.json"; sleep 3; invoke ok2 "$WORK/event-2-ok.json"
fi

echo
echo "==> Slack Web API calls, in order (incident state in DynamoDB table $STATE_TABLE on moto):"
python3 - "$WORK/slack-api.jsonl" "$WORK/slack.jsonl" <<'PY'
import json, sys
calls = [json.loads(l) for l in open(sys.argv[1])]
for i, c in enumerate(calls, 1):
    b, a = c["body"], c.get("answer", {})
    if c["method"] == "files.getUploadURLExternal":
        print("  %d. %-17s %-34s → %s" % (i, "files.getUpload…", "the chart: %s bytes" % b.get("length"), a.get("file_id")))
        continue
    if c["method"] == "upload":
        print("  %d. %-17s %-34s → saved as %s.png" % (i, "(upload URL)", "%d bytes of PNG" % b["bytes"], b["file_id"]))
        continue
    if c["method"] == "files.completeUploadExternal":
        print("  %d. %-17s %-34s" % (i, "files.complete…", "shared into thread %s" % b.get("thread_ts")))
        continue
    where = "reply in thread %s" % b["thread_ts"] if b.get("thread_ts") else ("parent %s" % b.get("ts") if c["method"] == "chat.update" else "new parent")
    first = (b.get("blocks") or [{}])[0]
    text = (first.get("text") or {}).get("text", "") if isinstance(first.get("text"), dict) else ""
    print("  %d. %-17s %-34s → ts %s  %s" % (i, c["method"], where, a.get("ts"), text[:70].replace("\n", " ")))
print("  (%d calls: the repeated ALARM posted nothing)" % len(calls))
def header(body):
    return " ".join(b["text"]["text"] for b in body.get("blocks", []) if b.get("type") == "header")
parents = [c for c in calls if c["method"] in ("chat.postMessage", "chat.update") and not c["body"].get("thread_ts")]
if parents:
    print("  the group's parent, as posted and as each update left it:")
    for c in parents:
        print("    - " + header(c["body"]))
detail = next((c for c in calls if c["method"] == "chat.postMessage" and c["body"].get("thread_ts")), calls[0])
with open(sys.argv[2], "w") as f:
    f.write(json.dumps(detail["body"]) + "\n")
PY
echo
echo "==> Slack: the first alarm's message, as posted in the group's thread:"
python3 scripts/show_message.py "$WORK/slack.jsonl" "$WORK/block-kit-builder.url"
echo
echo "==> PagerDuty received:"
python3 - "$WORK/pagerduty.jsonl" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
print(json.dumps(events[0], indent=2, ensure_ascii=False))
for e in events[1:]:
    print("then: %s (dedup_key %s)" % (e.get("event_action"), e.get("dedup_key")))
PY
echo
echo "==> the chart the function uploaded into the thread:"
uploaded=$(ls "$WORK"/F*.png 2>/dev/null | head -1 || true)
if [[ -n "$uploaded" ]]; then
    cp "$uploaded" "$WORK/chart.png"
    echo "    $uploaded ($(( $(stat -c %s "$uploaded") / 1024 )) KB), also copied to $WORK/chart.png"
elif "$TARGET/debug/sagealarm" graph "$WORK/event.json" --out "$WORK/chart.png" >"$WORK/chart.json" 2>"$WORK/chart.err"; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("    %s (%d KB): %s" % (d["out"], d["bytes"] // 1024, d["title"]))' "$WORK/chart.json"
else
    echo "    no chart: $(cat "$WORK/chart.err")"
fi
echo
echo "==> demo took $(( $(date +%s) - demo_start )) s; the function's logs are in $WORK/function.log"
