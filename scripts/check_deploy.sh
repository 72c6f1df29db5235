#!/usr/bin/env bash
# Offline checks of the SAM application (no AWS account, no credentials, no Docker):
#   1. cfn-lint template.yaml                     zero findings
#   2. sam validate --lint                        the SAM CLI's own validation
#   3. scripts/check_template.py --self-test      the policy test catches every planted bad template
#   4. scripts/check_template.py template.yaml    enrichment role read-only and scoped, no secrets
#   5. cargo lambda build --release --arm64       target/lambda/<function>/bootstrap is an aarch64 ELF executable
#                                                (not a PIE, see functions/build.rs), each function
#   6. sam build                                  (into a temporary dir) the packaged bootstrap is one too
# Installs its tools itself into .venv/deploy (pinned; reinstalled only when the pins change).
# Usage: scripts/check_deploy.sh [--no-build]    (--no-build: checks 1-4 only, seconds instead of minutes)
# Respects CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

BUILD=1
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    *) echo "usage: scripts/check_deploy.sh [--no-build]" >&2; exit 2 ;;
  esac
done

# Versions checked together on this project (cargo-lambda finds zig through `python3 -m ziglang`).
PINS=(cfn-lint==1.58.0 aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang==0.17.1)
VENV="$ROOT/.venv/deploy"
STAMP="$VENV/.installed"
WANT="$(python3 --version 2>&1) ${PINS[*]}"

step() { printf '==> %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; FAILED=$((FAILED + 1)); }
FAILED=0

# --- tools ---------------------------------------------------------------------------------------
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  ok "tools: .venv/deploy already has ${PINS[*]}"
else
  step "installing ${PINS[*]} into .venv/deploy (about a minute, once)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
  printf '%s' "$WANT" >"$STAMP"
  ok "tools: installed ${PINS[*]}"
fi
PY="$VENV/bin/python"

# Offline and credential-free: a region is all the validators need; no telemetry, no IMDS probe.
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true

# --- 1. cfn-lint -----------------------------------------------------------------------------------
if out="$("$VENV/bin/cfn-lint" template.yaml 2>&1)"; then
  ok "cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}'): template.yaml has no errors or warnings"
else
  printf '%s\n' "$out"
  fail "cfn-lint: template.yaml has findings (above)"
fi

# --- 2. sam validate --lint ------------------------------------------------------------------------
if out="$("$VENV/bin/sam" validate --lint --template-file template.yaml 2>&1)"; then
  ok "sam validate --lint: $(printf '%s' "$out" | tail -n 1)"
else
  printf '%s\n' "$out"
  fail "sam validate --lint failed (above)"
fi

# --- 3 + 4. the policy test ------------------------------------------------------------------------
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

# --- 5. the arm64 build ----------------------------------------------------------------------------
if [[ "$BUILD" == 1 ]]; then
  TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
  FUNCTIONS=(enrich-alarm remediate-endpoint slack-actions)
  rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || rustup target add aarch64-unknown-linux-gnu
  ok "rustup: target aarch64-unknown-linux-gnu installed"
  step "cargo lambda build --release --arm64 for ${FUNCTIONS[*]} (the first build compiles the AWS SDK: minutes)"
  for f in "${FUNCTIONS[@]}"; do rm -f "$TARGET_DIR/lambda/$f/bootstrap"; done
  start=$(date +%s)
  # The venv first on PATH: cargo-lambda runs `python3 -m ziglang` for its zig linker.
  if PATH="$VENV/bin:$PATH" cargo lambda build --release --arm64 "${FUNCTIONS[@]/#/--package=}"; then
    ok "cargo lambda build --release --arm64: $(( $(date +%s) - start )) s"
  else
    fail "cargo lambda build --release --arm64 failed after $(( $(date +%s) - start )) s"
  fi
  for f in "${FUNCTIONS[@]}"; do
    if out="$(elf_check "$TARGET_DIR/lambda/$f/bootstrap")"; then ok "$f bootstrap: $out"; else fail "$f bootstrap: $out"; fi
  done

  # --- 6. sam build: what `sam build && sam deploy` runs (builds in place, reuses the target dir) ---
  SAMDIR="$(mktemp -d)"
  trap 'rm -rf "$SAMDIR"' EXIT
  start=$(date +%s)
  if out="$(PATH="$VENV/bin:$PATH" "$VENV/bin/sam" build --build-dir "$SAMDIR/build" --cache-dir "$SAMDIR/cache" 2>&1)" \
     && built="$(for fn in EnrichAlarmFunction RemediateEndpointFunction SlackActionsFunction; do elf_check "$SAMDIR/build/$fn/bootstrap" || exit 1; done)"; then
    ok "sam build: $(( $(date +%s) - start )) s, each function's bootstrap is an aarch64 ELF"
  else
    printf '%s\n%s\n' "$out" "${built:-}"
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
