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
#        SAGEALARM_DEMO_SCENARIO=even|enhanced-off|no-log-group|serverless|serverless-on-demand|inference-component|scaled-in-noisy|at-max|scaling|llm-kv-cache|capacity-error
# The LLM worlds (llm-kv-cache, capacity-error) also start a local Prometheus (Debian's package,
# installed once) holding their detailed-observability metrics, served as CloudWatch's PromQL API.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="${SAGEALARM_DEMO_SCENARIO:-hot-gpu}"
# Each world's own alarm unless one is given: a GPU alarm means nothing to a serverless endpoint.
case "$SCENARIO" in
    serverless) DEFAULT_EVENT="events/sns-serverless-provisioned-concurrency-alarm.json" ;;
    serverless-on-demand) DEFAULT_EVENT="events/sns-serverless-concurrency-alarm.json" ;;
    llm-kv-cache|capacity-error) DEFAULT_EVENT="events/sns-llm-model-latency-p99-alarm.json" ;;
    *) DEFAULT_EVENT="events/sns-gpu-utilization-alarm.json" ;;
esac
LLM=0; [[ "$SCENARIO" == llm-kv-cache || "$SCENARIO" == capacity-error ]] && LLM=1
# The endpoint each LLM world's PromQL metrics are about (scripts/promql_world.py).
case "$SCENARIO" in
    capacity-error) ENDPOINT_AS="llm-capacity" ;;
    *) ENDPOINT_AS="" ;;
esac
EVENT_SRC="${1:-$DEFAULT_EVENT}"
WORK=".demo"
TARGET="${CARGO_TARGET_DIR:-target}"
CARGO_LAMBDA_VERSION="1.9.2"
rm -rf "$WORK" && mkdir -p "$WORK"
demo_start=$(date +%s)
# Scenarios whose point is a degraded answer: their message may carry a ⚠️ note (any other fails).
# scaled-in-noisy's container floods its log faster than the read budget, as it would on AWS.
DEGRADED_SCENARIOS=" enhanced-off no-log-group scaled-in-noisy "

# Each phase's wall time, printed as it ends and again at the end (the README's "about 10 minutes").
PHASES=()
phase_t0=$EPOCHREALTIME
phase() { # name: ends the phase running since the last call
    local took
    took=$(awk -v a="${phase_t0/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }')
    PHASES+=("$(printf '%-52s %7s s' "$1" "$took")")
    echo "    ($1: $took s)"
    phase_t0=$EPOCHREALTIME
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.2; done; return 1; }

echo "==> setting up (first run: Python venvs for the emulators and cargo-lambda, then the build — several minutes)"
scripts/emulators.sh install
if [[ "$LLM" == 1 ]]; then scripts/prometheus.sh install; fi
if [[ ! -f .venv/lambda/.installed-$CARGO_LAMBDA_VERSION ]]; then
    python3 -m venv .venv/lambda
    .venv/lambda/bin/pip install -q "cargo-lambda==$CARGO_LAMBDA_VERSION"
    touch ".venv/lambda/.installed-$CARGO_LAMBDA_VERSION"
fi
phase "Python venvs (emulators, cargo-lambda)"
cargo build --quiet -p enrich-alarm -p sagealarm-testkit -p sagealarm-cli
phase "build (enrich-alarm, seed-world, stand-in, CLI)"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
    scripts/emulators.sh stop >/dev/null 2>&1 || true
    if [[ "$LLM" == 1 ]]; then scripts/prometheus.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

echo "==> starting the emulators"
scripts/emulators.sh start
set -a; source .emulators/env; set +a
phase "emulators start (LocalStack, moto)"

# The alarm as if it fired two minutes ago: the seeded world is built around its time.
python3 - "$EVENT_SRC" "$WORK/event.json" "$ENDPOINT_AS" <<'PY'
import datetime, json, re, sys
raw = open(sys.argv[1]).read()
if sys.argv[3]:
    raw = raw.replace("llm-prod", sys.argv[3])
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

# What moto cannot answer for this world goes through the tests' stand-in (at AWS's quotas):
# DescribeScalingActivities (not implemented by moto: AWS answers a quiet target with none), and
# the endpoint's creation time (moto stamps the moment it was seeded, after the alarm; the world's
# endpoint has served for 30 days), and an instance type newer than moto's list (the LLM worlds'
# ml.g6e and ml.p5 are seeded as ml.g4dn.12xlarge and described as what they are).
created=$(python3 -c 'import datetime,json,re,sys
t=re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", open(sys.argv[1]).read()).group(1)
print((datetime.datetime.fromisoformat(t) - datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$WORK/event.json")
STAND_IN_ARGS=(--upstream "$AWS_ENDPOINT_URL_SAGEMAKER" --scenario "$SCENARIO" --endpoint-created "$created" --url-file "$WORK/stand-in.url")
PROMQL_ENV=(SAGEALARM_PROMQL=off)
if [[ "$LLM" == 1 ]]; then
    # The world's PromQL metrics around the alarm's time, in a Prometheus, behind the tests'
    # CloudWatch PromQL stand-in (CloudWatch's dialect; the function's SigV4 signature checked).
    anchor=$(python3 -c 'import json,sys; m=json.loads(json.load(open(sys.argv[1]))["Records"][0]["Sns"]["Message"]); t=m["StateChangeTime"]; print(t[:19] + "Z")' "$WORK/event.json")
    scripts/prometheus.sh start --anchor "$anchor"
    set -a; source .prometheus/env; set +a
    STAND_IN_ARGS+=(--prometheus "$SAGEALARM_TEST_PROMETHEUS_URL" --promql-url-file "$WORK/promql.url")
    if [[ "$SCENARIO" == capacity-error ]]; then
        # The scale-out to 4 that found no capacity, 5 minutes before the alarm.
        failed_at=$(python3 -c 'import datetime,sys; t=datetime.datetime.fromisoformat(sys.argv[1].replace("Z","+00:00")); print((t - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$anchor")
        STAND_IN_ARGS+=(--scale-out-failed-at "$failed_at" --scalable-target "endpoint/llm-capacity/variant/AllTraffic")
    fi
fi
setsid "$TARGET/debug/aws-stand-in" "${STAND_IN_ARGS[@]}" >"$WORK/stand-in.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do [[ -s "$WORK/stand-in.url" ]] && break; sleep 0.1; done
[[ -s "$WORK/stand-in.url" ]] || { echo "the AWS stand-in did not start:"; cat "$WORK/stand-in.log"; exit 1; }
STAND_IN=$(cat "$WORK/stand-in.url")
if [[ "$LLM" == 1 ]]; then PROMQL_ENV=(SAGEALARM_PROMQL=cloudwatch SAGEALARM_PROMQL_URL="$(cat "$WORK/promql.url")"); fi
phase "seeding the world, stand-in start"

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
# SAGEALARM_SLACK_BUTTONS: the message shows Acknowledge / Snooze as a deployment with the Slack
# actions function does (nothing answers a click here). PROMQL_ENV: the LLM worlds' PromQL through
# the stand-in; the other worlds have no detailed-observability metrics (SAGEALARM_PROMQL=off).
env "${PROMQL_ENV[@]}" SAGEALARM_ROUTES_FILE="$PWD/$WORK/routes.yaml" SAGEALARM_ALLOW_PLAINTEXT_SECRETS=1 SAGEALARM_LOG=info SAGEALARM_SLACK_BUTTONS=true \
SAGEALARM_STATE_TABLE="$STATE_TABLE" \
AWS_ENDPOINT_URL_SAGEMAKER="$STAND_IN" AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING="$STAND_IN" \
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
phase "function start + first invocation"


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
    phase "redelivery, second alarm, both OK (with 3 s pauses)"
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
printf '    %s\n' "${PHASES[@]}"

# The first message a newcomer sees must not carry a warning a real deployment of this world would
# not show (an emulator gap, a world that contradicts itself).
if [[ "$DEGRADED_SCENARIOS" != *" $SCENARIO "* ]]; then
    if warnings=$(python3 - "$WORK/slack-api.jsonl" "$WORK/pagerduty.jsonl" <<'PY'
import json, sys
found = []
for path in sys.argv[1:]:
    for line in open(path):
        text = json.dumps(json.loads(line), ensure_ascii=False)
        for part in text.split("⚠️")[1:]:
            found.append(part[:110].split("\\n")[0].strip())
for f in dict.fromkeys(found):
    print("    ⚠️ " + f)
sys.exit(0 if found else 1)
PY
    ); then
        echo
        echo "demo: FAILED — the message carries warnings this world would not show on AWS:"
        echo "$warnings"
        exit 1
    fi
    echo "==> no ⚠️ notes in what Slack and PagerDuty received"
fi
