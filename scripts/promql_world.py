#!/usr/bin/env python3
"""Synthetic "LLM endpoint worlds" for a real Prometheus, as an OpenMetrics text exposition.

Prints samples (with timestamps) from anchor-3h to anchor+15min, one every --step seconds on a grid
that passes through the anchor itself, ready for `promtool tsdb create-blocks-from openmetrics`.
Deterministic: no randomness, every wiggle is a sine whose phase comes from a CRC of the series.

Label names are the legacy Prometheus form of SageMaker detailed-observability labels, as an
OpenTelemetry Prometheus exporter writes them with resource_to_telemetry_conversion (dots become
underscores, resource attributes lose their "@resource." prefix). vLLM metric names keep their
colons; counters end in _total; histograms are classic _bucket{le}/_sum/_count.

Worlds (see scripts/prometheus.sh, which backfills them):
  llm-kv-cache    endpoint llm-prod, 2 x ml.g6e.12xlarge (us-east-1a, us-east-1b), ic-llama-3-8b
                  (GPUs 0-1) and ic-mistral-7b (GPUs 2-3) on each. ic-llama-3-8b on
                  i-0a1b2c3d4e5f60002 runs out of KV cache: 0.45 at anchor-40min -> 0.99 at
                  anchor-15min, batch full (24 running) and a queue (0 -> 38 waiting) from
                  anchor-20min, TTFT p99 5-10 s, ITL p99 0.15-0.3 s, fewer tokens and ~2 preemptions
                  a minute from anchor-15min. A copy of ic-mistral-7b started on
                  i-0a1b2c3d4e5f60001 at anchor-70min (its vLLM series begin once it is up, counters
                  from 0; cold-start phase gauges at anchor-70min).
  capacity-error  endpoint llm-capacity, 2 x ml.p5.48xlarge both in us-east-1a, ic-llama-70b on
                  both, saturated evenly (queue of 10-20 from anchor-25min, TTFT p99 3-4 s); the
                  fleet could not grow: ice_count events (12 errors: 1a 4, 1b 3, 1c 3, 1d 2 in 6
                  events, anchor-18min .. anchor-2min). Cold-start phases of the copy that did
                  start on i-0c1d2e3f4a5b60002 at anchor-95min.

Usage: scripts/promql_world.py --anchor 2026-11-20T14:07:31Z [--world NAME]... [--step 30] [--split-blocks DIR]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import zlib
from datetime import datetime, timezone

MIN = 60.0
BEFORE = 3 * 3600.0
AFTER = 15 * MIN

TTFT_LE = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
           10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
ITL_LE = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
          20.0, 40.0, 80.0]

# Cumulative fractions of requests at or below each finite bucket (the +Inf bucket is 1).
# histogram_quantile interpolates linearly inside a bucket; the comments give what it answers.
TTFT_CDF = {
    # p50 ~0.07 s, p99 ~0.24 s (between the 0.1 and 0.25 buckets)
    "normal": {0.01: 0.002, 0.02: 0.02, 0.04: 0.15, 0.06: 0.40, 0.08: 0.65, 0.1: 0.90, 0.25: 0.995,
               0.5: 0.999},
    # p50 ~3.3 s, p99 ~7.4 s: most requests in the 2.5-10 s buckets
    "hot": {0.1: 0.005, 0.25: 0.02, 0.5: 0.04, 0.75: 0.06, 1.0: 0.10, 2.5: 0.30, 5.0: 0.90,
            7.5: 0.992, 10.0: 0.999},
    # p50 ~1.1 s, p99 ~3.6 s
    "saturated": {0.1: 0.01, 0.25: 0.05, 0.5: 0.15, 0.75: 0.28, 1.0: 0.45, 2.5: 0.983,
                  5.0: 0.9995},
}
ITL_CDF = {
    # p99 ~0.073 s
    "normal": {0.01: 0.05, 0.025: 0.55, 0.05: 0.93, 0.075: 0.995, 0.1: 0.999},
    # p99 ~0.24 s
    "hot": {0.01: 0.01, 0.025: 0.15, 0.05: 0.50, 0.075: 0.75, 0.1: 0.88, 0.15: 0.96, 0.2: 0.985,
            0.3: 0.998},
    # p99 ~0.13 s
    "saturated": {0.01: 0.02, 0.025: 0.30, 0.05: 0.75, 0.075: 0.92, 0.1: 0.975, 0.15: 0.996,
                  0.2: 0.9995},
}


def cdf_vector(points: dict[float, float], les: list[float]) -> list[float]:
    """Cumulative fraction at each finite le, then 1.0 for +Inf (step function of `points`)."""
    out, last = [], 0.0
    for le in les:
        last = points.get(le, 1.0 if le > max(points) else last)
        out.append(last)
    out.append(1.0)
    return out


def cdf_mean(cdf: list[float], les: list[float]) -> float:
    """Mean observation of a bucketed distribution (bucket midpoints; +Inf as 1.5 x last le)."""
    mean, prev_f, prev_le = 0.0, 0.0, 0.0
    for f, le in zip(cdf, les + [les[-1] * 1.5]):
        mean += (f - prev_f) * (prev_le + le) / 2
        prev_f, prev_le = f, le
    return mean


def blend(a: list[float], b: list[float], w: float) -> list[float]:
    return [x + (y - x) * w for x, y in zip(a, b)]


def ramp(r: float, start: float, end: float) -> float:
    """0 before start, 1 after end, linear between (times relative to the anchor, seconds)."""
    if r <= start:
        return 0.0
    if r >= end:
        return 1.0
    return (r - start) / (end - start)


def phase(*key: str) -> float:
    return zlib.crc32("|".join(key).encode()) / 2**32 * 2 * math.pi


def wave(r: float, period: float, ph: float) -> float:
    return math.sin(2 * math.pi * r / period + ph)


def fmt(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4f}".rstrip("0").rstrip(".")


def labelstr(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


BLOCK_MS = 2 * 3600 * 1000  # promtool's block duration; its blocks start at multiples of it


class Out:
    """Collects series by metric family so each family is written once, contiguously.

    Each family holds (block, line) pairs in emission order (series by series, each in time
    order); block is the 2h promtool block the line's timestamp falls in."""

    def __init__(self) -> None:
        self.families: dict[str, tuple[str, str, list[tuple[int, str]]]] = {}

    def family(self, name: str, mtype: str, help_: str) -> list[tuple[int, str]]:
        if name not in self.families:
            self.families[name] = (mtype, help_, [])
        return self.families[name][2]

    def blocks(self) -> list[int]:
        return sorted({b for _, _, lines in self.families.values() for b, _ in lines})

    def write(self, stream, block: int | None = None) -> None:
        """The whole exposition, or only the samples of one block."""
        for name, (mtype, help_, lines) in self.families.items():
            chosen = [line for b, line in lines if block is None or b == block]
            if chosen:
                stream.write(f"# TYPE {name} {mtype}\n# HELP {name} {help_}\n")
                stream.writelines(chosen)
        stream.write("# EOF\n")


class Clock:
    def __init__(self, anchor: float, step: float) -> None:
        self.anchor = anchor
        n_before = int(BEFORE // step)
        n_after = int(AFTER // step)
        # Offsets from the anchor; the anchor itself is a grid point.
        self.rel = [k * step for k in range(-n_before, n_after + 1)]
        self.step = step

    def ts(self, r: float) -> str:
        t = self.anchor + r
        return str(int(t)) if t == int(t) else f"{t:.3f}"

    def block(self, r: float) -> int:
        return round((self.anchor + r) * 1000) // BLOCK_MS


class Pair:
    """One copy of an inference component on one host, and how its load evolves."""

    def __init__(self, world, ic, model, host, az, *, profile, start=None, uptime=8 * 3600.0):
        self.world, self.ic, self.model, self.host, self.az = world, ic, model, host, az
        self.profile = profile  # "normal" | "hot" | "saturated"
        self.start = start  # relative time the copy became ready (None: before the window)
        self.uptime = uptime  # seconds it had been running at the window's start
        self.labels = labelstr({
            "aws_sagemaker_endpoint_name": world.endpoint,
            "aws_sagemaker_variant_name": world.variant,
            "aws_sagemaker_inference_component_name": ic,
            "aws_sagemaker_inference_framework": "vllm",
            "host_id": host,
            "cloud_availability_zone": az,
            "host_type": world.itype,
            "model_name": model,
        })
        self.ph = phase(world.endpoint, ic, host)

    # --- gauges ------------------------------------------------------------------------------
    def kv(self, r: float) -> float:
        if self.profile == "saturated":
            return 0.89 + 0.04 * wave(r, 11 * MIN, self.ph)
        normal = 0.375 + 0.075 * wave(r, 17 * MIN, self.ph)
        if self.profile == "hot":
            if r >= -15 * MIN:
                return 0.985 + 0.015 * wave(r, 3.7 * MIN, self.ph)
            if r >= -40 * MIN:
                return 0.45 + (0.99 - 0.45) * ramp(r, -40 * MIN, -15 * MIN)
        return normal

    def running(self, r: float) -> float:
        if self.profile == "saturated":
            return float(round(31 + 1.2 * wave(r, 7 * MIN, self.ph)))
        normal = round(8 + 2.2 * wave(r, 13 * MIN, self.ph + 1))
        normal = max(6, min(10, normal))
        if self.profile == "hot":
            return float(round(normal + (24 - normal) * ramp(r, -40 * MIN, -20 * MIN)))
        return float(normal)

    def waiting(self, r: float) -> float:
        if self.profile == "saturated":
            return float(round(15 + 5 * wave(r, 6 * MIN, self.ph))) if r >= -25 * MIN else 0.0
        if self.profile == "hot":
            if r >= 0:
                return float(round(37.5 + 2.5 * wave(r, 3 * MIN, self.ph)))
            return float(round(38 * ramp(r, -20 * MIN, 0)))
        return 0.0

    # --- rates and distributions -----------------------------------------------------------
    def degrade(self, r: float) -> float:
        if self.profile == "hot":
            return ramp(r, -20 * MIN, -15 * MIN)
        if self.profile == "saturated":
            return ramp(r, -30 * MIN, -25 * MIN)
        return 0.0

    def ttft_cdf(self, r: float) -> list[float]:
        bad = "hot" if self.profile == "hot" else "saturated"
        return blend(TTFT_N, TTFT_V[bad], self.degrade(r))

    def itl_cdf(self, r: float) -> list[float]:
        bad = "hot" if self.profile == "hot" else "saturated"
        return blend(ITL_N, ITL_V[bad], self.degrade(r))

    def req_rate(self, r: float) -> float:
        base = 1.0 if self.profile == "saturated" else 3.0
        return base * (1 + 0.06 * wave(r, 23 * MIN, self.ph + 2))

    def tok_rate(self, r: float) -> float:
        if self.profile == "saturated":
            return 900 * (1 + 0.03 * wave(r, 19 * MIN, self.ph + 3))
        normal = 400 * (1 + 0.05 * wave(r, 19 * MIN, self.ph + 3))
        if self.profile == "hot":
            return normal + (250 - normal) * self.degrade(r)
        return normal

    def preempt_rate(self, r: float) -> float:
        return 2 / MIN if self.profile == "hot" and r >= -15 * MIN else 0.0


def hist_prefixes(name: str, labels: str, les: list[float]) -> tuple[list[str], str, str]:
    """Sample-line prefixes of one histogram series: per bucket, _sum, _count."""
    buckets = [f'{name}_bucket{{{labels},le="{le}"}} ' for le in [fmt(le) for le in les] + ["+Inf"]]
    return buckets, f"{name}_sum{{{labels}}} ", f"{name}_count{{{labels}}} "


def hist_lines(out_lines, prefixes, block, ts, cumulative, total) -> None:
    """One histogram MetricPoint (every bucket, _sum and _count at one timestamp). Counts are the
    floor of the cumulative float counts: integers, monotonic in time and in le, +Inf = _count."""
    buckets, sum_p, count_p = prefixes
    end = f" {ts}\n"
    counts = [str(math.floor(c + 1e-9)) for c in cumulative]
    out_lines.extend([(block, p + c + end) for p, c in zip(buckets, counts)])
    out_lines.append((block, f"{sum_p}{total:.3f}{end}"))
    out_lines.append((block, count_p + counts[-1] + end))


TTFT_N = cdf_vector(TTFT_CDF["normal"], TTFT_LE)
TTFT_V = {k: cdf_vector(v, TTFT_LE) for k, v in TTFT_CDF.items()}
ITL_N = cdf_vector(ITL_CDF["normal"], ITL_LE)
ITL_V = {k: cdf_vector(v, ITL_LE) for k, v in ITL_CDF.items()}


def emit_pair(out: Out, clock: Clock, p: Pair) -> None:
    step = clock.step
    rel = [r for r in clock.rel if p.start is None or r >= p.start]
    g_kv = out.family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.")
    g_run = out.family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.")
    g_wait = out.family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.")
    h_ttft = out.family("vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.")
    h_itl = out.family("vllm:inter_token_latency_seconds", "histogram", "Histogram of inter-token latency in seconds.")
    c_tok = out.family("vllm:generation_tokens", "counter", "Number of generation tokens processed.")
    c_pre = out.family("vllm:num_preemptions", "counter", "Cumulative number of preemption from the engine.")
    L = p.labels

    # Cumulative (float) state; what is written is its floor, so counts stay integers, monotonic
    # in time and in le (the fractions are cumulative), and +Inf equals _count.
    if p.start is None:
        n0 = p.uptime * p.req_rate(-BEFORE)
        tok0 = p.uptime * p.tok_rate(-BEFORE)
        ttft = [n0 * f for f in TTFT_N]
        ttft_sum = n0 * cdf_mean(TTFT_N, TTFT_LE)
        itl = [tok0 * f for f in ITL_N]
        itl_sum = tok0 * cdf_mean(ITL_N, ITL_LE)
        tok = tok0
        pre = float(3 + zlib.crc32(L.encode()) % 5)
    else:
        ttft, ttft_sum, itl, itl_sum, tok, pre = [0.0] * len(TTFT_N), 0.0, [0.0] * len(ITL_N), 0.0, 0.0, 0.0

    ttft_p = hist_prefixes("vllm:time_to_first_token_seconds", L, TTFT_LE)
    itl_p = hist_prefixes("vllm:inter_token_latency_seconds", L, ITL_LE)
    first = True
    for r in rel:
        if not first:
            mid = r - step / 2
            n = p.req_rate(mid) * step
            cdf = p.ttft_cdf(mid)
            ttft = [c + n * f for c, f in zip(ttft, cdf)]
            ttft_sum += n * cdf_mean(cdf, TTFT_LE)
            k = p.tok_rate(mid) * step
            cdf = p.itl_cdf(mid)
            itl = [c + k * f for c, f in zip(itl, cdf)]
            itl_sum += k * cdf_mean(cdf, ITL_LE)
            tok += k
            pre += p.preempt_rate(mid) * step
        first = False
        ts, b = clock.ts(r), clock.block(r)
        g_kv.append((b, f"vllm:kv_cache_usage_perc{{{L}}} {fmt(round(p.kv(r), 4))} {ts}\n"))
        g_run.append((b, f"vllm:num_requests_running{{{L}}} {fmt(p.running(r))} {ts}\n"))
        g_wait.append((b, f"vllm:num_requests_waiting{{{L}}} {fmt(p.waiting(r))} {ts}\n"))
        hist_lines(h_ttft, ttft_p, b, ts, ttft, ttft_sum)
        hist_lines(h_itl, itl_p, b, ts, itl, itl_sum)
        c_tok.append((b, f"vllm:generation_tokens_total{{{L}}} {math.floor(tok + 1e-9)} {ts}\n"))
        c_pre.append((b, f"vllm:num_preemptions_total{{{L}}} {math.floor(pre + 1e-9)} {ts}\n"))


def emit_gpus(out: Out, clock: Clock, world, host, az, gpu_ics, total_mib, util_fn) -> None:
    used_f = out.family("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).")
    free_f = out.family("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB).")
    util_f = out.family("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).")
    for gpu, ic in enumerate(gpu_ics):
        L = labelstr({
            "aws_sagemaker_endpoint_name": world.endpoint,
            "aws_sagemaker_variant_name": world.variant,
            "aws_sagemaker_inference_component_name": ic,
            "host_id": host,
            "cloud_availability_zone": az,
            "host_type": world.itype,
            "gpu": str(gpu),
        })
        ph = phase(world.endpoint, host, str(gpu))
        for r in clock.rel:
            ts, b = clock.ts(r), clock.block(r)
            # vLLM preallocates ~90 % of the framebuffer; constant within +-0.5 %.
            used = round(total_mib * 0.9 * (1 + 0.004 * wave(r, 29 * MIN, ph)))
            used_f.append((b, f"DCGM_FI_DEV_FB_USED{{{L}}} {used} {ts}\n"))
            free_f.append((b, f"DCGM_FI_DEV_FB_FREE{{{L}}} {total_mib - used} {ts}\n"))
            util_f.append((b, f"DCGM_FI_DEV_GPU_UTIL{{{L}}} {round(util_fn(gpu, r, ph))} {ts}\n"))


def emit_event(out: Out, clock: Clock, name: str, help_: str, labels: dict[str, str], r: float, value: float) -> None:
    out.family(name, "gauge", help_).append((clock.block(r), f"{name}{{{labelstr(labels)}}} {fmt(value)} {clock.ts(r)}\n"))


COLD_HELP = {
    "model_download_time": "Seconds to download the model artifacts (event-driven, one sample per start).",
    "gpu_load_time": "Seconds to load the model onto the GPUs (event-driven, one sample per start).",
    "container_start_time": "Seconds to start the inference container (event-driven, one sample per start).",
}


def emit_cold_start(out: Out, clock: Clock, world, ic, host, az, r, phases) -> None:
    labels = {
        "aws_sagemaker_endpoint_name": world.endpoint,
        "aws_sagemaker_variant_name": world.variant,
        "aws_sagemaker_inference_component_name": ic,
        "host_id": host,
        "cloud_availability_zone": az,
        "host_type": world.itype,
    }
    for name, value in phases.items():
        emit_event(out, clock, name, COLD_HELP[name], labels, r, value)


class World:
    def __init__(self, endpoint, variant, itype):
        self.endpoint, self.variant, self.itype = endpoint, variant, itype


def world_llm_kv_cache(out: Out, clock: Clock) -> None:
    w = World("llm-prod", "AllTraffic", "ml.g6e.12xlarge")
    hosts = [("i-0a1b2c3d4e5f60001", "us-east-1a"), ("i-0a1b2c3d4e5f60002", "us-east-1b")]
    llama = ("ic-llama-3-8b", "meta-llama/Llama-3.1-8B-Instruct")
    mistral = ("ic-mistral-7b", "mistralai/Mistral-7B-Instruct-v0.3")
    cold = {"model_download_time": 38.2, "gpu_load_time": 9.6, "container_start_time": 11.0}
    cold_at = -70 * MIN
    for host, az in hosts:
        for ic, model in (llama, mistral):
            hot = ic == llama[0] and host == hosts[1][0]
            restarted = ic == mistral[0] and host == hosts[0][0]
            start = cold_at + sum(cold.values()) if restarted else None
            emit_pair(out, clock, Pair(w, ic, model, host, az, profile="hot" if hot else "normal", start=start))

    def util(gpu, r, ph, host):
        normal = 62.5 + 7.5 * wave(r, 9 * MIN, ph)
        if host == hosts[1][0] and gpu in (0, 1):
            hot = 98 + wave(r, 2 * MIN, ph)
            return normal + (hot - normal) * ramp(r, -20 * MIN, -15 * MIN)
        return normal

    for host, az in hosts:
        emit_gpus(out, clock, w, host, az, [llama[0]] * 2 + [mistral[0]] * 2, 46068,
                  lambda gpu, r, ph, host=host: util(gpu, r, ph, host))
    emit_cold_start(out, clock, w, mistral[0], hosts[0][0], hosts[0][1], cold_at, cold)


def world_capacity_error(out: Out, clock: Clock) -> None:
    w = World("llm-capacity", "AllTraffic", "ml.p5.48xlarge")
    hosts = [("i-0c1d2e3f4a5b60001", "us-east-1a"), ("i-0c1d2e3f4a5b60002", "us-east-1a")]
    ic, model = "ic-llama-70b", "meta-llama/Llama-3.1-70B-Instruct"
    cold = {"model_download_time": 212.4, "gpu_load_time": 41.8, "container_start_time": 18.3}
    cold_at = -95 * MIN
    for host, az in hosts:
        start = cold_at + sum(cold.values()) if host == hosts[1][0] else None
        emit_pair(out, clock, Pair(w, ic, model, host, az, profile="saturated", start=start))
    for host, az in hosts:
        emit_gpus(out, clock, w, host, az, [ic] * 8, 81559,
                  lambda gpu, r, ph: 90 + 5 * wave(r, 8 * MIN, ph))
    emit_cold_start(out, clock, w, ic, hosts[1][0], hosts[1][1], cold_at, cold)

    # Insufficient-capacity errors: event-driven, delta temporality -> a gauge with samples only
    # at event times, each the errors of that event, per availability zone tried.
    events = [  # (minutes before the anchor, {az: errors})
        (18, {"us-east-1a": 1, "us-east-1b": 1, "us-east-1c": 1}),
        (15, {"us-east-1a": 1, "us-east-1d": 1}),
        (12, {"us-east-1b": 1, "us-east-1c": 1}),
        (8, {"us-east-1a": 1, "us-east-1d": 1}),
        (5, {"us-east-1b": 1, "us-east-1c": 1}),
        (2, {"us-east-1a": 1}),
    ]
    for az in ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"):
        labels = {
            "aws_sagemaker_endpoint_name": w.endpoint,
            "aws_sagemaker_variant_name": w.variant,
            "host_type": w.itype,
            "cloud_availability_zone": az,
        }
        for minutes, errors in events:
            if az in errors:
                emit_event(out, clock, "ice_count", "Insufficient-capacity errors (event-driven, delta per event).",
                           labels, -minutes * MIN, errors[az])


WORLDS = {
    "llm-kv-cache": world_llm_kv_cache,
    "capacity-error": world_capacity_error,
}


def parse_anchor(text: str) -> float:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--anchor", required=True, help="RFC 3339 time, e.g. 2026-11-20T14:07:31Z")
    ap.add_argument("--world", action="append", choices=sorted(WORLDS), help="repeatable; default: every world")
    ap.add_argument("--step", type=float, default=30.0, help="seconds between samples (default 30)")
    ap.add_argument("--split-blocks", metavar="DIR",
                    help="instead of stdout, write one exposition per 2h promtool block (DIR/<block start, unix s>.om), "
                         "so that each promtool run parses only its own block's samples (and they can run in parallel)")
    args = ap.parse_args(argv)
    if args.step <= 0:
        ap.error("--step must be positive")
    clock = Clock(parse_anchor(args.anchor), args.step)
    out = Out()
    for name in args.world or list(WORLDS):
        WORLDS[name](out, clock)
    if args.split_blocks:
        os.makedirs(args.split_blocks, exist_ok=True)
        for block in out.blocks():
            with open(os.path.join(args.split_blocks, f"{block * BLOCK_MS // 1000}.om"), "w") as f:
                out.write(f, block)
    else:
        out.write(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
