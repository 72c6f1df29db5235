#!/usr/bin/env bash
# The test command (README): `cargo fmt --check`, `cargo clippy -D warnings`, then every unit,
# delivery, CLI, architecture (import circles) and enrichment test of the workspace,
# the enrichment ones against emulated AWS (LocalStack + moto on loopback), which this script
# installs (Python venvs, once), starts, and stops by PID when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fetch --locked 2>/dev/null || cargo fetch
# Gates first, cheapest first: formatting (rustfmt.toml), then lints as errors on every target.
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Compile first: the emulators need not idle through the build.
cargo test --workspace --locked --no-run
scripts/emulators.sh install
scripts/emulators.sh start
trap 'scripts/emulators.sh stop' EXIT
set -a; source .emulators/env; set +a
# The emulator-backed tests fail instead of skipping when the emulators are missing.
export SAGEALARM_REQUIRE_EMULATORS=1
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee .test-output.log || status=$?
python3 -m py_compile scripts/local_receivers.py scripts/show_message.py scripts/check_template.py || status=$?
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' .test-output.log
exit "$status"
