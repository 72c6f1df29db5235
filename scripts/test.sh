#!/usr/bin/env bash
# The test command (README): unit, delivery and CLI end-to-end tests for the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fetch --locked 2>/dev/null || cargo fetch
cargo test --workspace --locked 2>&1 | tee .test-output.log
python3 -m py_compile scripts/local_receivers.py scripts/show_message.py
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' .test-output.log
