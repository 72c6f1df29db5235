#!/usr/bin/env bash
# Fuzzes intake (and the routing/rendering of whatever parses) with cargo-fuzz / libFuzzer.
#   scripts/fuzz.sh [SECONDS]     default 600; not part of CI.
# Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets it accept the sanitizer flags cargo-fuzz passes.
# The first build instruments every crate, the AWS SDKs included: 10–20 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
export PATH="$HOME/.cargo/bin:$PATH" RUSTC_BOOTSTRAP=1
# Instrumented artefacts never mix with the normal build: fuzz/target only.
unset CARGO_TARGET_DIR

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (once)…" >&2
  cargo install cargo-fuzz --locked
fi

# Seeds: every sample event, real-world captures included. libFuzzer adds what it finds here.
corpus=fuzz/corpus/intake
mkdir -p "$corpus"
cp events/*.json events/real/*.json "$corpus/"

cargo fuzz build intake
cargo fuzz run intake "$corpus" -- \
  -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
