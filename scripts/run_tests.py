#!/usr/bin/env python3
"""Runs the workspace's test binaries side by side and times each one (scripts/test.sh).

Input: the JSON lines of `cargo test --no-run --message-format=json`. Every test executable is
run as `cargo test` would run it (from its package's directory, with cargo's CARGO_* variables),
`--jobs` at a time (default 2), the slowest first. The slowest, the 200-alarm storm, mostly
waits on a stand-in paced like Slack (one message a second): the others run one after another
beside it, so the whole run takes about as long as the storm. More lanes do not help on two
cores: the emulators (one LocalStack, one moto) are the bottleneck, and under that load the
enrichment deadlines of the emulator tests are missed.

Prints one line per binary as it ends (seconds, result, counts), the full output of any that
failed, and a closing `N passed, M failed` line. With SAGEALARM_STEPS set, appends
`test <binary><TAB>seconds<TAB>status` lines to that file for CI's timing table.
Exit status: 0 when every binary passed, 1 otherwise.

Usage: run_tests.py ARTIFACTS.jsonl [--jobs N] [--only PACKAGE:KIND] [--label TEXT] [--wrap CMD] [-- TEST-ARGS...]
"""

import argparse
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time

# Seconds each binary took on the last measured run, so the slowest start first (unknown: 0).
# Only an ordering hint: a wrong figure costs a few seconds, never a result.
SLOW_FIRST = {"storm": 210, "grouping": 40, "emulated": 25, "quota_storm": 23, "llm": 15, "sagealarm": 12}


def package_name(package_id):
    """`path+file:///w/shared#sagealarm@0.1.0` → sagealarm; `path+file:///w/cli#0.1.0` → cli."""
    url, _, frag = package_id.partition("#")
    if "@" in frag:
        return frag.split("@")[0]
    return url.rstrip("/").rsplit("/", 1)[-1]


def binaries(artifacts_file, only):
    seen = set()
    with open(artifacts_file, encoding="utf-8") as f:
        for line in f:
            try:
                m = json.loads(line)
            except json.JSONDecodeError:
                continue
            if m.get("reason") != "compiler-artifact" or not m.get("profile", {}).get("test") or not m.get("executable"):
                continue
            target = m["target"]
            package = m["package_id"]
            manifest = m["manifest_path"]
            pkg_name = package_name(package)
            kind = target["kind"][0]
            if only and f"{pkg_name}:{kind}" not in only:
                continue
            exe = m["executable"]
            if exe in seen:
                continue
            seen.add(exe)
            name = f"{pkg_name}::{target['name']}" if target["name"] != pkg_name.replace("-", "_") else pkg_name
            yield {"name": name, "target": target["name"], "exe": exe, "dir": os.path.dirname(manifest), "package": pkg_name}


def run(b, wrap, test_args, env):
    e = dict(env)
    e["CARGO_MANIFEST_DIR"] = b["dir"]
    e["CARGO_PKG_NAME"] = b["package"]
    e["CARGO_CRATE_NAME"] = b["target"].replace("-", "_")
    started = time.monotonic()
    p = subprocess.run([*wrap, b["exe"], *test_args], cwd=b["dir"], env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    took = time.monotonic() - started
    out = p.stdout.decode("utf-8", "replace")
    passed = failed = 0
    for m in re.finditer(r"^test result: \w+\. (\d+) passed; (\d+) failed", out, re.M):
        passed += int(m.group(1))
        failed += int(m.group(2))
    if p.returncode != 0 and failed == 0:
        failed = 1  # crashed or timed out before its summary: count the binary as one failure
    return b, p.returncode, took, passed, failed, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("artifacts")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--label", default="test")
    ap.add_argument("--wrap", default="", help="a command each binary runs under, e.g. 'faketime -f +365d'")
    ap.add_argument("test_args", nargs="*")
    a = ap.parse_args()

    todo = sorted(binaries(a.artifacts, a.only), key=lambda b: -SLOW_FIRST.get(b["target"], 0))
    if not todo:
        print(f"run_tests: no test binaries in {a.artifacts}", file=sys.stderr)
        return 1
    steps = os.environ.get("SAGEALARM_STEPS")
    lock = threading.Lock()
    total_passed = total_failed = 0
    failures = []
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(run, b, shlex.split(a.wrap), a.test_args, os.environ) for b in todo]
        for fut in concurrent.futures.as_completed(futures):
            b, rc, took, passed, failed, out = fut.result()
            with lock:
                total_passed += passed
                total_failed += failed
                status = "ok" if rc == 0 else f"FAILED (exit {rc})"
                print(f"{took:8.1f} s  {status:<6} {a.label} {b['name']}: {passed} passed, {failed} failed", flush=True)
                if rc != 0:
                    failures.append((b["name"], out))
                if steps:
                    with open(steps, "a", encoding="utf-8") as f:
                        f.write(f"{a.label} {b['name']}\t{took:.1f}\t{rc}\n")
    for name, out in failures:
        print(f"\n---- output of {name} ----\n{out}", flush=True)
    print(f"{a.label}: {len(todo)} binaries in {time.monotonic() - started:.1f} s")
    print(f"{total_passed} passed, {total_failed} failed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
