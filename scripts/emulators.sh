#!/usr/bin/env bash
# Local AWS emulators on loopback, no Docker: LocalStack for CloudWatch metrics (it speaks the
# SDK's CBOR protocol), moto for CloudWatch Logs, SageMaker, Application Auto Scaling and DynamoDB.
# LocalStack runs with GATEWAY_SERVER=hypercorn: its default (twisted) server ignores the host in
# GATEWAY_LISTEN and listens on 0.0.0.0; DNS_ADDRESS=0 keeps its DNS server off.
# Usage: scripts/emulators.sh install|start|stop|env
#   install  create .venv/localstack and .venv/moto (skipped when already installed)
#   start    start both on free loopback ports, wait until ready, write .emulators/env
#            (ports from SAGEALARM_LOCALSTACK_PORT / SAGEALARM_MOTO_PORT when set)
#   stop     stop what start started (by recorded PID / process group)
#   env      print the export lines: eval "$(scripts/emulators.sh env)"
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

LOCALSTACK_VERSION="4.13.1"
MOTO_VERSION="5.2.5"
LS_VENV=".venv/localstack"
MOTO_VENV=".venv/moto"
DIR=".emulators"
ENV_FILE="$DIR/env"
TIMEOUT="${SAGEALARM_EMULATORS_TIMEOUT:-60}"

log() { echo "emulators: $*" >&2; }

install_venv() { # dir version pip-args...
    local venv="$1" version="$2"; shift 2
    local stamp="$venv/.installed-$version"
    if [[ -f "$stamp" ]]; then
        log "$venv ($version) already installed"
        return
    fi
    log "installing $venv ($version) ..."
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$@"
    touch "$stamp"
}

cmd_install() {
    install_venv "$LS_VENV" "$LOCALSTACK_VERSION" \
        "localstack-core[runtime]==$LOCALSTACK_VERSION" "cbor2<6" "pyopenssl<25" "cryptography<45" "service-identity<25"
    install_venv "$MOTO_VENV" "$MOTO_VERSION" "moto[server]==$MOTO_VERSION"
}

source scripts/lib/servers.sh

cmd_stop() {
    stop_one localstack localstack
    stop_one moto moto_server
    rm -f "$ENV_FILE"
}

localstack_ready() {
    curl -fsS --max-time 2 "http://127.0.0.1:$1/_localstack/health" 2>/dev/null | python3 -c '
import json, sys
state = json.load(sys.stdin).get("services", {}).get("cloudwatch")
sys.exit(0 if state in ("available", "running") else 1)' 2>/dev/null
}

moto_ready() {
    # Any HTTP answer counts (moto's root path answers 200/404).
    [[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null)" =~ ^[1-5][0-9][0-9]$ ]]
}

fail_start() { # name
    log "$1 did not become ready within ${TIMEOUT}s; last lines of $DIR/$1.log:"
    tail -n 40 "$DIR/$1.log" >&2 || true
    cmd_stop
    exit 1
}

wait_ready() { # name port check-fn
    local name="$1" port="$2" check="$3" deadline=$((SECONDS + TIMEOUT)) pid
    pid="$(pid_of "$name")"
    while ! "$check" "$port"; do
        if ! group_alive "$pid"; then log "$name exited during start-up"; fail_start "$name"; fi
        if ((SECONDS >= deadline)); then fail_start "$name"; fi
        sleep 0.3
    done
}

cmd_start() {
    local name pid
    for name in localstack moto; do
        pid="$(pid_of "$name" || true)"
        if [[ -n "$pid" ]] && group_alive "$pid"; then
            log "$name already running (PID $pid); run '$0 stop' first"
            exit 1
        fi
    done
    if [[ ! -f "$LS_VENV/.installed-$LOCALSTACK_VERSION" || ! -f "$MOTO_VENV/.installed-$MOTO_VERSION" ]]; then
        cmd_install
    fi
    mkdir -p "$DIR"
    rm -f "$ENV_FILE"
    rm -rf "$DIR/localstack" && mkdir -p "$DIR/localstack"

    local ls_port="${SAGEALARM_LOCALSTACK_PORT:-$(free_port)}"
    local moto_port="${SAGEALARM_MOTO_PORT:-$(free_port)}"
    if [[ "$ls_port" == "$moto_port" ]]; then moto_port="$(free_port)"; fi
    local port
    for port in "$ls_port" "$moto_port"; do
        if port_in_use "$port"; then log "127.0.0.1:$port is already in use"; exit 1; fi
    done

    log "starting LocalStack (cloudwatch) on 127.0.0.1:$ls_port and moto on 127.0.0.1:$moto_port"
    spawn localstack env OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$ROOT/$DIR/localstack" \
        GATEWAY_LISTEN="127.0.0.1:$ls_port" GATEWAY_SERVER=hypercorn DNS_ADDRESS=0 SERVICES=cloudwatch DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 \
        "$LS_VENV/bin/python" -m localstack.runtime.main || { cmd_stop; exit 1; }
    spawn moto "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" || { cmd_stop; exit 1; }

    wait_ready localstack "$ls_port" localstack_ready
    wait_ready moto "$moto_port" moto_ready

    cat >"$ENV_FILE" <<EOF
export AWS_ENDPOINT_URL_CLOUDWATCH=http://127.0.0.1:$ls_port
export AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_SAGEMAKER=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_SNS=http://127.0.0.1:$moto_port
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$moto_port
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export SAGEALARM_EMULATORS=1
EOF
    log "ready (PIDs: localstack $(pid_of localstack), moto $(pid_of moto)); env in $ENV_FILE"
}

cmd_env() {
    if [[ ! -f "$ENV_FILE" ]]; then log "not running: no $ENV_FILE (run '$0 start')"; exit 1; fi
    cat "$ENV_FILE"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    env) cmd_env ;;
    *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
