#!/usr/bin/env bash
# The benchmarks (issue 5): prints one table of figures (not pass/fail), each the median of
# repeated runs with min and max. Usage: scripts/bench.sh
#   1. cold start: exec → first GET /runtime/invocation/next, Rust vs a Python/boto3 baseline, and
#      exec → the first alarm delivered; per alarm with the state table off and on (DynamoDB on
#      moto); the cold start again with moto serving https (1c)
#   2. one enriched alarm with 100 ms added to every AWS call, 3/16/64 instances × 4 GPUs, without
#      and with the LLM signals read through PromQL
#   3. peak memory of the function handling the 64-instance alarm
#   4. size of the arm64 bootstrap and its zip (cargo lambda build --release --arm64)
#   5. CPU per event (parse + route + render) in instructions, under callgrind
#   6. rendering the chart of a 64 × 4-GPU fleet (render::chart::draw), in milliseconds
#   7. alarm storms against the real AWS quotas (issue 18): 30 and 200 alarms over 1, 3 and 20
#      endpoints, concurrency 10, shared evidence off and on (LocalStack + moto behind the quota
#      stand-in, scripts/emulators.sh); SAGEALARM_BENCH_STORMS=0 skips it (~15 min)
# Installs what it needs itself (.venv/bench, .venv/moto, .venv/deploy, valgrind), builds the
# release binaries once (CARGO_TARGET_DIR is honoured), stops everything it started (by PID).
# Run counts: SAGEALARM_BENCH_RUNS (default 10 cold starts, 5 enriched runs per size).
# SAGEALARM_BENCH_PROFILES=1 adds the rejected release profile (fat LTO, 1 codegen unit): its
# arm64 size and cold build time (a cold build of its own, ~30 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$ROOT/.bench"
ROWS="$WORK/rows.tsv"
COLD_RUNS="${SAGEALARM_BENCH_RUNS:-10}"
ENRICH_RUNS="${SAGEALARM_BENCH_ENRICH_RUNS:-5}"
LATENCY_MS="${SAGEALARM_BENCH_LATENCY_MS:-100}"
log() { echo "bench: $*" >&2; }
started=$(date +%s)

rm -rf "$WORK" && mkdir -p "$WORK/logs"
MOTO_PID=""
cleanup() {
    if [[ -n "$MOTO_PID" ]] && kill -0 -- "-$MOTO_PID" 2>/dev/null; then
        kill -TERM -- "-$MOTO_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# --- tools ------------------------------------------------------------------------------------
venv() { # dir stamp pip-args...
    local dir="$1" stamp="$2"; shift 2
    if [[ -x "$dir/bin/python" && -f "$dir/$stamp" ]]; then return; fi
    log "installing $* into $dir"
    rm -rf "$dir" && python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "$@"
    touch "$dir/$stamp"
}
REQ_HASH="$(sha256sum bench/python/requirements.txt | cut -c1-12)"
venv .venv/bench ".installed-$REQ_HASH" -r bench/python/requirements.txt
# Same pin and stamp as scripts/emulators.sh.
venv .venv/moto ".installed-5.2.5" "moto[server]==5.2.5"
# Same pins and stamp as scripts/check_deploy.sh, so either script reuses the other's venv.
PINS=(cfn-lint==1.58.0 aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang==0.17.1)
WANT="$(python3 --version 2>&1) ${PINS[*]}"
if ! [[ -x .venv/deploy/bin/python && -f .venv/deploy/.installed && "$(cat .venv/deploy/.installed)" == "$WANT" ]]; then
    log "installing ${PINS[*]} into .venv/deploy"
    rm -rf .venv/deploy && python3 -m venv .venv/deploy
    .venv/deploy/bin/python -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
    printf '%s' "$WANT" >.venv/deploy/.installed
fi
if ! command -v valgrind >/dev/null; then
    log "installing valgrind (apt)"
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi

# --- build ------------------------------------------------------------------------------------
log "cargo build --release (the first build compiles the AWS SDK: ~10-30 min on 2 cores)"
cargo build --release -q -p enrich-alarm -p sagealarm-bench
BENCH="$TARGET/release/sagealarm-bench"
BOOTSTRAP="$TARGET/release/enrich-alarm"

# --- 1. cold start: moto on loopback for SSM and Secrets Manager --------------------------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
setsid sh -c 'echo $$ > "$0"; exec "$@"' "$WORK/moto.pid" .venv/moto/bin/moto_server -H 127.0.0.1 -p "$PORT" >"$WORK/logs/moto.log" 2>&1 </dev/null &
for _ in $(seq 100); do [[ -s "$WORK/moto.pid" ]] && break; sleep 0.1; done
MOTO_PID="$(cat "$WORK/moto.pid")"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.2; done
log "cold start ($COLD_RUNS runs each)"
"$BENCH" cold-start --bootstrap "$BOOTSTRAP" --python .venv/bench/bin/python --python-dir bench/python \
    --aws "http://127.0.0.1:$PORT" --event events/sns-gpu-utilization-alarm.json --runs "$COLD_RUNS" --out "$ROWS" --logs "$WORK/logs"
log "state table off and on (DynamoDB on the same moto), one alarm and its OK through App::handle"
"$BENCH" state --aws "http://127.0.0.1:$PORT" --runs "${SAGEALARM_BENCH_STATE_RUNS:-20}" --out "$ROWS"
log "cost per 1,000 alarms (calls counted against the fake AWS and this moto's DynamoDB)"
"$BENCH" cost --aws "http://127.0.0.1:$PORT" --latency-ms "$LATENCY_MS" --out "$ROWS" | tee "$WORK/cost.md"
cleanup; MOTO_PID=""

# --- 1c. cold start over TLS: Lambda's AWS calls are HTTPS, and a process's first handshake has
# costs plain http never shows (aws-lc's entropy seeding, see .cargo/config.toml). moto serves
# https with a throwaway CA made here; the functions trust it through SSL_CERT_FILE / AWS_CA_BUNDLE.
TLS="$WORK/tls"
mkdir -p "$TLS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "/CN=sagealarm bench CA" \
    -keyout "$TLS/ca.key" -out "$TLS/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$TLS/moto.key" -out "$TLS/moto.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$TLS/ext.cnf"
openssl x509 -req -in "$TLS/moto.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial -days 1 \
    -extfile "$TLS/ext.cnf" -out "$TLS/moto.pem" 2>/dev/null
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
rm -f "$WORK/moto.pid"
setsid sh -c 'echo $$ > "$0"; exec "$@"' "$WORK/moto.pid" .venv/moto/bin/moto_server -H 127.0.0.1 -p "$PORT" \
    -c "$TLS/moto.pem" -k "$TLS/moto.key" >"$WORK/logs/moto-tls.log" 2>&1 </dev/null &
for _ in $(seq 100); do [[ -s "$WORK/moto.pid" ]] && break; sleep 0.1; done
MOTO_PID="$(cat "$WORK/moto.pid")"
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$TLS/ca.pem" "https://127.0.0.1:$PORT/" && break; sleep 0.2; done
log "cold start over TLS ($COLD_RUNS runs each)"
"$BENCH" cold-start --bootstrap "$BOOTSTRAP" --python .venv/bench/bin/python --python-dir bench/python \
    --aws "https://127.0.0.1:$PORT" --ca "$TLS/ca.pem" --event events/sns-gpu-utilization-alarm.json --runs "$COLD_RUNS" \
    --out "$ROWS" --logs "$WORK/logs"
cleanup; MOTO_PID=""

# --- 2, 3. enriched alarm under injected latency; peak memory -----------------------------------
log "enriched alarm, ${LATENCY_MS} ms per AWS call ($ENRICH_RUNS runs per size)"
"$BENCH" enriched --bootstrap "$BOOTSTRAP" --event events/sns-gpu-utilization-alarm.json --latency-ms "$LATENCY_MS" \
    --sizes 3,16,64 --gpus 4 --runs "$ENRICH_RUNS" --out "$ROWS" --logs "$WORK/logs"
log "enriched alarm with the LLM signals read through PromQL (the fake's PromQL API, same latency)"
"$BENCH" enriched --bootstrap "$BOOTSTRAP" --event events/sns-gpu-utilization-alarm.json --latency-ms "$LATENCY_MS" \
    --sizes 3,16,64 --gpus 4 --runs "$ENRICH_RUNS" --promql --out "$ROWS" --logs "$WORK/logs"

# --- 4. size of the arm64 bootstrap and its zip -------------------------------------------------
log "cargo lambda build --release --arm64"
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true
PATH="$ROOT/.venv/deploy/bin:$PATH" cargo lambda build --release --arm64 -p enrich-alarm >"$WORK/logs/lambda-build.log" 2>&1
ARM="$TARGET/lambda/enrich-alarm/bootstrap"
file -b "$ARM" | grep -q aarch64 || { log "$ARM is not an aarch64 binary"; exit 1; }
# The deployment package: `bootstrap` at the zip's root, deflated at the highest level.
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED, compresslevel=9).write(sys.argv[1], "bootstrap")' "$ARM" "$WORK/bootstrap.zip"
mib() { python3 -c 'import os, sys; print(round(os.path.getsize(sys.argv[1]) / 1048576, 2))' "$1"; }
PROFILE='release profile: lto = "thin", codegen-units = 16, strip = true, opt-level 3'
"$BENCH" row --out "$ROWS" --figure "Size: arm64 bootstrap" --how "cargo lambda build --release --arm64; $PROFILE" --unit MiB --values "$(mib "$ARM")"
"$BENCH" row --out "$ROWS" --figure "Size: arm64 deployment zip" --how "bootstrap deflated (level 9), as uploaded to Lambda" --unit MiB --values "$(mib "$WORK/bootstrap.zip")"

# 4b. (SAGEALARM_BENCH_PROFILES=1) the profile we did not pick, to justify the one we did: fat LTO
# and one codegen unit, built cold in a target dir of its own (the warm release build is left as
# it is), all three functions like scripts/check_deploy.sh, so its build time compares with CI's.
if [[ "${SAGEALARM_BENCH_PROFILES:-0}" == 1 ]]; then
    ALT_TARGET="$TARGET/bench-profile-fat"
    ALT_PROFILE='lto = "fat", codegen-units = 1, strip = true, opt-level 3'
    log "cargo lambda build --release --arm64 with $ALT_PROFILE (cold, into $ALT_TARGET: tens of minutes)"
    rm -rf "$ALT_TARGET"
    build_start=$(date +%s)
    CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_TARGET_DIR="$ALT_TARGET" PATH="$ROOT/.venv/deploy/bin:$PATH" \
        cargo lambda build --release --arm64 -p enrich-alarm -p remediate-endpoint -p slack-actions >"$WORK/logs/lambda-build-fat.log" 2>&1
    build_s=$(( $(date +%s) - build_start ))
    ALT_ARM="$ALT_TARGET/lambda/enrich-alarm/bootstrap"
    file -b "$ALT_ARM" | grep -q aarch64 || { log "$ALT_ARM is not an aarch64 binary"; exit 1; }
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED, compresslevel=9).write(sys.argv[1], "bootstrap")' "$ALT_ARM" "$WORK/bootstrap-fat.zip"
    "$BENCH" row --out "$ROWS" --figure "Size: arm64 bootstrap, alternative profile" --how "as above with $ALT_PROFILE" --unit MiB --values "$(mib "$ALT_ARM")"
    "$BENCH" row --out "$ROWS" --figure "Size: arm64 deployment zip, alternative profile" --how "as above" --unit MiB --values "$(mib "$WORK/bootstrap-fat.zip")"
    "$BENCH" row --out "$ROWS" --figure "Build time: arm64, alternative profile, cold" --how "the three functions from an empty target dir (compare the chosen profile's cold build in scripts/check_deploy.sh)" --unit s --values "$build_s"
    rm -rf "$ALT_TARGET"
fi

# --- 5. CPU per event, in instructions -----------------------------------------------------------
instructions() { # args for cpu-per-event → total instructions of the process
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$TARGET/release/cpu-per-event" "$@" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_event() { # figure how args...
    local figure="$1" how="$2"; shift 2
    local values=() one eleven
    for _ in 1 2 3; do
        one="$(instructions "$@" --iterations 1)"; eleven="$(instructions "$@" --iterations 11)"
        values+=("$(( (eleven - one) / 10 ))")
    done
    "$BENCH" row --out "$ROWS" --figure "$figure" --how "$how" --unit instr --values "$(IFS=,; echo "${values[*]}")"
}
LARGEST="$(ls -S $(find events -name '*.json') | head -1)"
log "CPU per event (callgrind): $LARGEST and the GPU alarm with a 64-instance fleet"
per_event "CPU per event: largest event ($(basename "$LARGEST"), $(stat -c %s "$LARGEST") B)" \
    "callgrind instructions, (11 iterations − 1) / 10: parse + route (config/routes.example.yaml) + render and serialise every routed Slack/PagerDuty body; enrichment off" \
    "$LARGEST" config/routes.example.yaml
per_event "CPU per event: GPU alarm with a 64 × 4 GPU fleet report" \
    "as above, with a synthetic 64-instance × 4-GPU series set analysed (fleet outlier, table, sparklines) and rendered" \
    events/sns-gpu-utilization-alarm.json config/routes.example.yaml --fleet 64

# --- 6. the chart of a 64 × 4-GPU fleet ---------------------------------------------------------
log "chart render (64 × 4 GPUs), written to $WORK/chart-64x4.png"
"$BENCH" chart --event events/sns-gpu-utilization-alarm.json --instances 64 --runs 21 --out "$ROWS" --png "$WORK/chart-64x4.png"

# --- 7. alarm storms against the real AWS quotas -------------------------------------------------
if [[ "${SAGEALARM_BENCH_STORMS:-1}" == 1 ]]; then
    log "alarm storms behind the quota stand-in (emulators started here, stopped at the end)"
    scripts/emulators.sh install
    scripts/emulators.sh start
    (
        set -a; source .emulators/env; set +a
        "$BENCH" quota-storm --alarms 30,200 --endpoints 1,3,20 --concurrency 10 --out "$ROWS"
    ) || { scripts/emulators.sh stop; exit 1; }
    scripts/emulators.sh stop
fi

# --- the table ----------------------------------------------------------------------------------
echo
echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; $(date -u +%Y-%m-%d)"
echo
"$BENCH" table --rows "$ROWS"
log "done in $(( $(date +%s) - started )) s"
