#!/usr/bin/env bash
# The test command (README): `cargo fmt --check`, clippy with warnings as errors, then every unit,
# delivery, CLI, architecture (import circles), enrichment and PromQL test of the workspace, the
# enrichment ones against emulated AWS (LocalStack + moto on loopback) and a real Prometheus,
# which this script installs (Python venvs and Debian packages, once), starts, and stops by PID
# when it ends. Then the library's tests once more with the clock a year ahead (libfaketime), so
# a test that only passes while its fixtures are young fails today, not in a month.
#
# Prints each step's seconds and each test binary's; with SAGEALARM_STEPS naming a file, appends
# them there too (CI's timing table, .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/steps.sh

# Tools the tests need, installed in the background while the workspace compiles (both take
# minutes on a fresh machine; together they take as long as the longer).
install_tools() {
    step "install: emulators (LocalStack, moto)" scripts/emulators.sh install
    step "install: Prometheus + promtool" scripts/prometheus.sh install
    step "install: libfaketime" install_faketime
}
install_faketime() {
    command -v faketime >/dev/null && return 0
    local sudo=""; [[ "$(id -u)" == 0 ]] || sudo=sudo
    $sudo apt-get install -y -q faketime >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q faketime >/dev/null; }
}
mkdir -p .test
install_tools >.test/install.log 2>&1 &
install_pid=$!

step "cargo fetch" bash -c 'cargo fetch --locked 2>/dev/null || cargo fetch'
step "fmt" cargo fmt --all --check

# Clippy and the test build in one compilation: clippy-driver stands in for rustc on the
# workspace's own crates (what `cargo clippy` does), lints them with warnings as errors and, unlike
# `cargo clippy`, also generates the code the tests run. Dependencies compile once, with rustc.
# The same variables stay set for every later cargo command, or cargo would rebuild our crates.
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
step "clippy -D warnings + build tests" \
    bash -c 'cargo test --workspace --all-targets --locked --no-run --message-format=json-render-diagnostics >.test/artifacts.jsonl'

if ! wait "$install_pid"; then
    cat .test/install.log >&2
    echo "test.sh: installing the test tools failed (above)" >&2
    exit 1
fi
grep '^==>' .test/install.log >&2 || true

start_servers() {
    scripts/emulators.sh start &
    local emu=$!
    local prom=0
    scripts/prometheus.sh start || prom=$?
    wait "$emu" && return "$prom"
}
trap 'scripts/emulators.sh stop; scripts/prometheus.sh stop' EXIT
step "start: emulators + Prometheus" start_servers
set -a; source .emulators/env; source .prometheus/env; set +a
# The emulator- and Prometheus-backed tests fail instead of skipping when their servers are missing.
export SAGEALARM_REQUIRE_EMULATORS=1

status=0
python3 scripts/run_tests.py .test/artifacts.jsonl --label test | tee .test/output.log || status=$?

# The same library tests with every clock in the process a year ahead (wall clock only: timers and
# timeouts keep the real monotonic clock).
echo "==> the library's tests with the clock a year ahead (faketime +365d)" >&2
FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1 \
    python3 scripts/run_tests.py .test/artifacts.jsonl --only sagealarm:lib --label "a year ahead:" \
    --wrap "faketime -f +365d" | tee -a .test/output.log || status=$?

python3 -m py_compile scripts/local_receivers.py scripts/show_message.py scripts/check_template.py \
    scripts/promql_world.py scripts/run_tests.py scripts/message_preview.py || status=$?
# One closing line for the whole run.
awk '/^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 } END { printf "all tests: %d passed, %d failed\n", p, f }' .test/output.log
exit "$status"
