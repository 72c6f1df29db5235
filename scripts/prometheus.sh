#!/usr/bin/env bash
# A real Prometheus (Debian's package, 2.42) on loopback, no Docker, seeded with the synthetic LLM
# endpoint worlds of scripts/promql_world.py around an anchor time: the worlds are written as
# OpenMetrics, backfilled into TSDB blocks with promtool, and served from a fresh data directory by
# a Prometheus with no scrape jobs (it reaches nothing; it only answers the HTTP API).
# Usage: scripts/prometheus.sh install|start [--anchor RFC3339]|stop|env
#   install  Debian's prometheus package (prometheus + promtool) when either is missing; stops and
#            disables the system service its postinst may have started (nothing stays on :9090)
#   start    generate, backfill, start on a free loopback port (SAGEALARM_PROMETHEUS_PORT when
#            set), wait until ready and the anchor answers, write .prometheus/env. Anchor from
#            --anchor, else SAGEALARM_PROMQL_ANCHOR, else 2026-11-20T14:07:31Z. Backfilled blocks
#            are cached in $XDG_CACHE_HOME/sagealarm/prometheus (key: both scripts, the anchor, the promtool binary).
#   stop     stop what start started (by recorded PID / process group), remove .prometheus/env
#   env      print the export lines: eval "$(scripts/prometheus.sh env)"
# Timeout for readiness: SAGEALARM_PROMETHEUS_TIMEOUT (seconds, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

DIR=".prometheus"
ENV_FILE="$DIR/env"
DATA="$DIR/data"
# Under XDG_CACHE_HOME (like every cache of the test command), so a cold run can be forced.
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/sagealarm/prometheus"
CONFIG="$ROOT/$DIR/prometheus.yml"
WORLDS="scripts/promql_world.py"
TIMEOUT="${SAGEALARM_PROMETHEUS_TIMEOUT:-60}"
DEFAULT_ANCHOR="2026-11-20T14:07:31Z"

log() { echo "prometheus: $*" >&2; }

as_root() { if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi; }

# Wall-clock phase timing (bash 5's EPOCHREALTIME; no subprocess).
phase_start() { PHASE_T0="$EPOCHREALTIME"; }
phase_end() { # name
    local now="${EPOCHREALTIME//[.,]/}" then="${PHASE_T0//[.,]/}"
    local us=$((10#$now - 10#$then))
    log "$(printf '%-9s %d.%03d s' "$1" $((us / 1000000)) $(((us % 1000000) / 1000)))"
}

# The package's own Prometheus: /usr/bin/prometheus run as the package's user "prometheus" (both
# its systemd unit and its init script say so), and not on our config.
is_package_prometheus() { # pid
    local pid="$1" exe owner
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    [[ "$exe" == /usr/bin/prometheus ]] || return 1
    owner="$(stat -c %U "/proc/$pid" 2>/dev/null || true)"
    [[ "$owner" == prometheus ]] || return 1
    ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CONFIG"
}

package_prometheus_pids() {
    local pid
    for pid in $(pgrep -x prometheus 2>/dev/null || true); do
        if is_package_prometheus "$pid"; then echo "$pid"; fi
    done
}

stop_system_service() {
    local pids pid i
    pids="$(package_prometheus_pids)"
    [[ -n "$pids" ]] || return 0
    log "the package's prometheus service is running (PID $(echo $pids)); stopping and disabling it"
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        as_root systemctl stop prometheus.service || true
        as_root systemctl disable --quiet prometheus.service || true
    else
        if command -v service >/dev/null; then as_root service prometheus stop >/dev/null 2>&1 || true; fi
        if command -v update-rc.d >/dev/null; then as_root update-rc.d prometheus disable >/dev/null 2>&1 || true; fi
    fi
    for i in $(seq 50); do [[ -z "$(package_prometheus_pids)" ]] && return 0; sleep 0.1; done
    # Still there (no service manager that knows it): signal exactly those processes.
    for pid in $(package_prometheus_pids); do
        log "sending TERM to the package's prometheus (PID $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline"))"
        as_root kill -TERM "$pid" 2>/dev/null || true
    done
    for i in $(seq 100); do [[ -z "$(package_prometheus_pids)" ]] && return 0; sleep 0.1; done
    log "the package's prometheus did not stop"; return 1
}

installed() { command -v prometheus >/dev/null && command -v promtool >/dev/null; }

cmd_install() {
    if installed; then
        log "prometheus and promtool already installed ($(prometheus --version 2>&1 | head -n1))"
    else
        log "installing Debian's prometheus package ..."
        local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus)
        if ! as_root "${apt[@]}" >"$DIR/apt.log" 2>&1; then
            log "install failed; running apt-get update and trying again"
            as_root apt-get update -q >>"$DIR/apt.log" 2>&1
            as_root "${apt[@]}" >>"$DIR/apt.log" 2>&1 || { tail -n 20 "$DIR/apt.log" >&2; exit 1; }
        fi
        installed || { log "prometheus/promtool still missing after the install"; exit 1; }
        log "installed $(prometheus --version 2>&1 | head -n1)"
    fi
    stop_system_service
}

source scripts/lib/servers.sh

cmd_stop() {
    # The recorded leader is prometheus itself (exec'd), started on our config.
    stop_one prometheus "$CONFIG"
    rm -f "$ENV_FILE"
}

fail_start() { # reason
    log "$1; last lines of $DIR/prometheus.log:"
    tail -n 40 "$DIR/prometheus.log" >&2 || true
    cmd_stop
    exit 1
}

# Ready: /-/ready answers 200 and the anchor's instant query returns a non-empty vector.
prometheus_ready() { # port anchor-unix
    [[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/-/ready" 2>/dev/null)" == 200 ]] || return 1
    curl -fsS --max-time 2 -G "http://127.0.0.1:$1/api/v1/query" \
        --data-urlencode 'query=count(vllm:kv_cache_usage_perc)' --data-urlencode "time=$2" 2>/dev/null \
        | grep -q '"result":\[{'
}

# Backfills the worlds into $DATA, from the cache when this (worlds script, this script, anchor,
# promtool) was backfilled before. promtool re-parses its whole input once per 2h block (plus a
# pass for the time range), so the generator writes one file per block and one promtool per file
# runs in parallel: ~2 parses of the data in all instead of ~4 in a row, each block its own file.
backfill() { # anchor
    local anchor="$1" key om="$DIR/om" f pids=() pid failed=0
    key="$( { sha256sum "$WORLDS" "$0"; echo "$anchor"; stat -L -c '%s %Y' "$(command -v promtool)"; } | sha256sum | cut -c1-16)"
    rm -rf "$DATA" "$om" && mkdir -p "$DATA" "$CACHE"
    if [[ -f "$CACHE/$key/.complete" ]]; then
        phase_start
        cp -r "$CACHE/$key/." "$DATA/" && rm -f "$DATA/.complete"
        phase_end "backfill"
        log "(blocks from the cache $CACHE/$key)"
        return
    fi
    phase_start
    python3 -I -S "$WORLDS" --anchor "$anchor" --split-blocks "$om"
    phase_end "generate"
    phase_start
    for f in "$om"/*.om; do
        promtool tsdb create-blocks-from openmetrics --quiet "$f" "${f%.om}.blocks" >"${f%.om}.log" 2>&1 &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    if ((failed)); then
        log "promtool failed:"; tail -n 20 "$om"/*.log >&2; exit 1
    fi
    mv "$om"/*.blocks/* "$DATA/"
    phase_end "backfill"
    rm -rf "$om"
    # Keep one cached set of blocks (each is ~0.5 MiB); a new key replaces the old ones.
    rm -rf "${CACHE:?}"/* && mkdir -p "$CACHE/$key" && cp -r "$DATA/." "$CACHE/$key/" && touch "$CACHE/$key/.complete"
}

cmd_start() {
    local anchor="${SAGEALARM_PROMQL_ANCHOR:-$DEFAULT_ANCHOR}" pid
    while (($#)); do
        case "$1" in
            --anchor) anchor="${2:?--anchor needs a value}"; shift 2 ;;
            --anchor=*) anchor="${1#--anchor=}"; shift ;;
            *) log "unknown argument: $1"; exit 2 ;;
        esac
    done
    local anchor_unix
    anchor_unix="$(date -u -d "$anchor" +%s.%3N 2>/dev/null)" || { log "not an RFC 3339 time: $anchor"; exit 2; }

    pid="$(pid_of prometheus || true)"
    if [[ -n "$pid" ]] && group_alive "$pid"; then
        log "already running (PID $pid); run '$0 stop' first"
        exit 1
    fi
    local t_start="$EPOCHREALTIME"
    mkdir -p "$DIR"
    rm -f "$ENV_FILE"

    phase_start
    if ! installed; then cmd_install; fi
    phase_end "install"

    backfill "$anchor"

    cat >"$CONFIG" <<EOF
# Written by scripts/prometheus.sh: no scrape jobs, no rules, no alerting; only backfilled blocks.
global:
  scrape_interval: 1m
  evaluation_interval: 1m
EOF

    local port="${SAGEALARM_PROMETHEUS_PORT:-}"
    if [[ -z "$port" ]]; then port="$(free_port)"
    elif port_in_use "$port"; then log "127.0.0.1:$port is already in use"; exit 1; fi

    phase_start
    log "starting prometheus on 127.0.0.1:$port (anchor $anchor)"
    # Retention is measured back from the newest block, so 100y keeps any backfilled block; the
    # block durations keep the 2h backfilled blocks as they are (no compaction while tests run).
    spawn prometheus prometheus \
        --config.file="$CONFIG" \
        --storage.tsdb.path="$ROOT/$DATA" \
        --storage.tsdb.retention.time=100y \
        --storage.tsdb.min-block-duration=2h \
        --storage.tsdb.max-block-duration=2h \
        --web.listen-address="127.0.0.1:$port" \
        --web.external-url="http://127.0.0.1:$port/" \
        || { cmd_stop; exit 1; }
    local deadline=$((SECONDS + TIMEOUT))
    pid="$(pid_of prometheus)"
    while ! prometheus_ready "$port" "$anchor_unix"; do
        group_alive "$pid" || fail_start "prometheus exited during start-up"
        ((SECONDS < deadline)) || fail_start "not ready (or no data at the anchor) within ${TIMEOUT}s"
        sleep 0.1
    done
    phase_end "start"

    cat >"$ENV_FILE" <<EOF
export SAGEALARM_TEST_PROMETHEUS_URL=http://127.0.0.1:$port
export SAGEALARM_PROMQL_ANCHOR=$anchor
EOF
    PHASE_T0="$t_start"; phase_end "total"
    log "ready (PID $pid) on http://127.0.0.1:$port; env in $ENV_FILE"
}

cmd_env() {
    if [[ ! -f "$ENV_FILE" ]]; then log "not running: no $ENV_FILE (run '$0 start')"; exit 1; fi
    cat "$ENV_FILE"
}

case "${1:-}" in
    install) mkdir -p "$DIR"; phase_start; cmd_install; phase_end "install" ;;
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop ;;
    env) cmd_env ;;
    *) echo "usage: $0 install|start [--anchor RFC3339]|stop|env" >&2; exit 2 ;;
esac
