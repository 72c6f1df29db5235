#!/usr/bin/env bash
# Offline checks of the SAM application (no AWS account, no credentials, no Docker):
#   1. cfn-lint template.yaml                     zero findings
#   2. sam validate --lint                        the SAM CLI's own validation
#   3. scripts/check_template.py --self-test      the policy test catches every planted bad template
#   4. scripts/check_template.py template.yaml    enrichment role read-only and scoped, no secrets
#   5. sam build                                  what `sam build && sam deploy` runs: cargo-lambda
#                                                builds each function for arm64 (release profile,
#                                                into ./target), and each packaged bootstrap must be
#                                                an aarch64 ELF executable (ET_EXEC, not a PIE: see
#                                                functions/build.rs)
# Installs its tools itself into .venv/deploy (pinned; reinstalled only when the pins change).
# Usage: scripts/check_deploy.sh [--no-build | --install-only]
#   --no-build      checks 1-4 only, seconds instead of minutes
#   --install-only  install the tools and stop (.ci/run does this while the tests run)
# Respects CARGO_TARGET_DIR. Each check's seconds go to SAGEALARM_STEPS when set (scripts/lib/steps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
source scripts/lib/steps.sh

BUILD=1
INSTALL_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --install-only) INSTALL_ONLY=1 ;;
    *) echo "usage: scripts/check_deploy.sh [--no-build | --install-only]" >&2; exit 2 ;;
  esac
done

# Versions checked together on this project (cargo-lambda finds zig through `python3 -m ziglang`).
PINS=(cfn-lint==1.58.0 aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang==0.17.1)
VENV="$ROOT/.venv/deploy"
STAMP="$VENV/.installed"
WANT="$(python3 --version 2>&1) ${PINS[*]}"

say() { printf '==> %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; FAILED=$((FAILED + 1)); }
FAILED=0

# --- tools ---------------------------------------------------------------------------------------
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  ok "tools: .venv/deploy already has ${PINS[*]}"
else
  say "installing ${PINS[*]} into .venv/deploy (about two minutes, once)"
  install_tools() {
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
    printf '%s' "$WANT" >"$STAMP"
  }
  step "install: deploy tools (cfn-lint, SAM CLI, cargo-lambda, zig)" install_tools
  ok "tools: installed ${PINS[*]}"
fi
PY="$VENV/bin/python"
if [[ "$INSTALL_ONLY" == 1 ]]; then exit 0; fi

# Offline and credential-free: a region is all the validators need; no telemetry, no IMDS probe.
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true

# --- 1. cfn-lint -----------------------------------------------------------------------------------
t0=$EPOCHREALTIME
if out="$("$VENV/bin/cfn-lint" template.yaml 2>&1)"; then
  ok "cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}'): template.yaml has no errors or warnings"
else
  printf '%s\n' "$out"
  fail "cfn-lint: template.yaml has findings (above)"
fi

record "deploy: cfn-lint" "$(since "$t0")"

# --- 2. sam validate --lint ------------------------------------------------------------------------
t0=$EPOCHREALTIME
if out="$("$VENV/bin/sam" validate --lint --template-file template.yaml 2>&1)"; then
  ok "sam validate --lint: $(printf '%s' "$out" | tail -n 1)"
else
  printf '%s\n' "$out"
  fail "sam validate --lint failed (above)"
fi

record "deploy: sam validate --lint" "$(since "$t0")"

# --- 3 + 4. the policy test ------------------------------------------------------------------------
t0=$EPOCHREALTIME
if out="$("$PY" scripts/check_template.py --self-test 2>&1)"; then
  ok "policy test self-test: $(printf '%s' "$out" | tail -n 1)"
else
  printf '%s\n' "$out"
  fail "policy test self-test: a planted bad template was not caught (above)"
fi
if out="$("$PY" scripts/check_template.py template.yaml 2>&1)"; then
  printf '%s\n' "$out" | sed -n 's/^     /     /p'
  ok "policy test: template.yaml (as written and after the SAM transform)"
else
  printf '%s\n' "$out"
  fail "policy test: template.yaml (above)"
fi
record "deploy: policy test (self-test + template)" "$(since "$t0")"

# An aarch64 ELF (magic, 64-bit, e_machine 183 = EM_AARCH64); prints its size (and zipped size).
elf_check() {
  "$PY" - "$1" <<'PY'
import io, os, sys, zipfile
path = sys.argv[1]
if not os.path.isfile(path):
    print(f"{path} is missing"); sys.exit(1)
with open(path, "rb") as f:
    head = f.read(20)
if head[:4] != b"\x7fELF":
    print(f"{path} is not an ELF file"); sys.exit(1)
machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
if head[4] != 2 or machine != 183:
    print(f"{path} is an ELF for e_machine {machine} (class {head[4]}), not aarch64 (183)"); sys.exit(1)
# ET_EXEC (2), not a PIE (ET_DYN, 3): functions/build.rs links without PIE, so the loader has no
# relative relocations to apply at each cold start.
kind = int.from_bytes(head[16:18], "little" if head[5] == 1 else "big")
if kind != 2:
    print(f"{path} is ELF type {kind}, not a position-dependent executable (2): is functions/build.rs in effect?"); sys.exit(1)
size = os.path.getsize(path)
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(path, "bootstrap")
print(f"{path}: aarch64 ELF executable (no PIE), {size:,} bytes ({size / 2**20:.1f} MiB), {buf.tell() / 2**20:.1f} MiB zipped")
PY
}

# --- 5. sam build: what `sam build && sam deploy` runs ---------------------------------------------
# One arm64 build, the one that ships: cargo-lambda (called by SAM, in place, into ./target) builds
# each function with the release profile; the bootstraps SAM packages are the ones checked.
if [[ "$BUILD" == 1 ]]; then
  rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || rustup target add aarch64-unknown-linux-gnu
  ok "rustup: target aarch64-unknown-linux-gnu installed"
  say "sam build: cargo lambda build --release --arm64 of each function (the first build compiles the AWS SDK: minutes)"
  SAMDIR="$(mktemp -d)"
  trap 'rm -rf "$SAMDIR"' EXIT
  t0=$EPOCHREALTIME
  # The venv first on PATH: SAM runs cargo-lambda, which runs `python3 -m ziglang` for its linker.
  if PATH="$VENV/bin:$PATH" "$VENV/bin/sam" build --build-dir "$SAMDIR/build" --cache-dir "$SAMDIR/cache" >"$SAMDIR/sam-build.log" 2>&1; then
    record "arm64 build: sam build (3 functions, release)" "$(since "$t0")"
    ok "sam build: $(since "$t0") s"
    for fn in EnrichAlarmFunction RemediateEndpointFunction SlackActionsFunction; do
      if out="$(elf_check "$SAMDIR/build/$fn/bootstrap")"; then ok "$fn bootstrap: $out"; else fail "$fn bootstrap: $out"; fi
    done
  else
    record "arm64 build: sam build (3 functions, release)" "$(since "$t0")" 1
    tail -n 60 "$SAMDIR/sam-build.log"
    fail "sam build failed (above)"
  fi
else
  ok "arm64 build skipped (--no-build)"
fi

if [[ "$FAILED" -gt 0 ]]; then
  echo "check_deploy: $FAILED check(s) FAILED"
  exit 1
fi
echo "check_deploy: all checks passed"
