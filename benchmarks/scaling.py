"""Scaling: time and memory against problem size.

- Monte Carlo checks: samples 1e5..1e7 on a CPU (1e5..1e9 on a GPU). Chunked streaming should
  make time linear in samples and peak memory flat once samples exceed one chunk; the ratio
  column is samples/s against the smallest size's, so a flat 1.0 is linear scaling. A size
  predicted (linearly) to take longer than the cap is skipped and says so.
- Grading cache: M distinct answers against one answer repeated M times, in a fresh grader;
  the repeated batch costs one check plus M - 1 cache hits.
Peak memory: on CUDA ``torch.cuda.max_memory_allocated``; on a CPU the resident set sampled
every 2 ms by a thread (above the level at the start of the run).
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

import torch

from numeric_checks import core

from . import Table
from .mc_bench import STREAMLESS, gauss_kl_draw, gauss_kl_expected

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return 0


@contextmanager
def peak_memory(device: str):
    """Yields a dict whose ``bytes`` is the peak memory above the start, once the block ends."""
    box = {"bytes": 0}
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        start = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        yield box
        torch.cuda.synchronize()
        box["bytes"] = torch.cuda.max_memory_allocated() - start
        return
    start, peak, stop = _rss(), [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            stop.wait(0.002)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        stop.set()
        thread.join()
        box["bytes"] = max(peak[0], _rss()) - start


def sizes_for(device: str, quick: bool, reference: bool = False) -> list[int]:
    """1e5..1e7 on a CPU (the reference estimator to 1e8), 1e5..1e9 on a GPU."""
    if quick:
        return [10**4, 3 * 10**4]
    top = 9 if torch.device(device).type == "cuda" else (8 if reference else 7)
    return [10**k for k in range(5, top + 1)]


def _kl_check(device: str):
    draw, params = gauss_kl_draw(device)
    expected = gauss_kl_expected(*params)

    def fn(samples, device, seed):
        return [core.mc("Gaussian-KL estimator", draw, expected, samples, device, seed)]
    return core.NumericCheck("reference: Gaussian-KL estimator (eager)", fn, seed=5)


def mc_scaling(device: str, quick: bool, cap_seconds: float, prefixes: list[str]) -> Table:
    t = Table(f"Monte Carlo scaling on {device}: time and peak memory vs samples",
              ["check", "samples", "stream samples", "chunks", "seconds", "samples/s", "rate / rate at smallest",
               "peak memory MiB", "passed"])
    checks = [c for sid, cs in sorted(core.checks().items()) for c in cs
              if c.tier == "montecarlo" and (not prefixes or any(sid.startswith(p) for p in prefixes))]
    checks = [c for c in checks if c.id not in STREAMLESS] + [_kl_check(device)]
    for check in checks:
        last = first_rate = None
        for n in sizes_for(device, quick, reference=check.id.startswith("reference")):
            if last is not None and last[1] * n / last[0] > cap_seconds:
                t.add(check.id, n, "-", "-", f"skipped: predicted {last[1] * n / last[0]:.0f} s > {cap_seconds:g} s",
                      "-", "-", "-", "-")
                continue
            with peak_memory(device) as mem:
                result = core.run_check(check, n, device)
            if not result.streams:
                STREAMLESS.add(check.id)            # not a sampling check (training, quadrature)
                break
            stream_samples = sum(s.samples for s in result.streams)
            seconds = sum(s.seconds for s in result.streams)
            rate = stream_samples / seconds
            first_rate = first_rate or rate
            t.add(check.id, n, stream_samples, sum(s.chunks for s in result.streams), seconds, rate,
                  rate / first_rate, mem["bytes"] / 2**20, result.passed)
            last = (n, result.seconds)
    t.notes.append(f"chunk: {core.default_chunk(device):,} samples unless a check sets its own; a size predicted "
                   f"to exceed {cap_seconds:g} s is skipped; checks without a stream (training) are left out")
    return t


# --------------------------------------------------------------------------- grading cache
def answers(kind: str, reference: str, m: int) -> list[str]:
    if kind == "repeated":
        return [reference + " + 1 - 1"] * m
    if kind == "unique, correct":
        return [reference + f" + {k} - {k}" for k in range(1, m + 1)]
    return [reference + f" + {k}" for k in range(1, m + 1)]           # unique, wrong by a constant


def grading_cache(quick: bool, cap_seconds: float, slot_id: str = "vae.gauss_kl_1d") -> Table:
    t = Table(f"Grading cache: M answers to {slot_id} in a fresh grader (1 sandboxed worker)",
              ["answers", "M", "seconds", "answers/s", "vs repeated (time ratio)", "verdicts"])
    try:
        from derivations import registry
        from derivations.grading.sandbox import Grader
        from derivations.slot_view import describe
    except ImportError as exc:
        t.notes.append(f"derivations.grading is not available ({exc})")
        return t
    registry.load()
    reference = describe(registry.get_slot(slot_id))["reference_latex"]
    per_answer = {}
    for m in ([4, 16] if quick else [10, 100, 1000]):
        repeated_seconds = None
        for kind in ("repeated", "unique, correct", "unique, wrong"):
            predicted = per_answer.get(kind, 0.0) * m
            if predicted > cap_seconds:
                t.add(kind, m, f"skipped: predicted {predicted:.0f} s", "-", "-", "-")
                continue
            with Grader(jobs=1) as grader:
                grader.grade(slot_id, "0")                      # start the worker outside the timing
                started = time.perf_counter()
                results = grader.grade_many([(slot_id, a) for a in answers(kind, reference, m)])
                seconds = time.perf_counter() - started
            per_answer[kind] = seconds / m
            repeated_seconds = seconds if kind == "repeated" else repeated_seconds
            verdicts = sorted({r.verdict for r in results})
            t.add(kind, m, seconds, m / seconds, seconds / repeated_seconds, ", ".join(verdicts))
    t.notes.append("unique answers differ by '+ k - k' (correct) or '+ k' (wrong: the mistake is then named by "
                   "mutations); the cache key is (slot, whitespace-normalised text)")
    return t


def run(quick: bool = False, checks: list[str] | None = None, **_) -> dict:
    started = time.perf_counter()
    tables = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        cap = 5.0 if quick else (60.0 if device == "cuda" else 45.0)
        tables.append(mc_scaling(device, quick, cap, checks or []).as_dict())
    if not torch.cuda.is_available():
        tables[0]["notes"].append("no CUDA device in this run: the GPU sizes 1e8 and 1e9 are still to be measured")
    tables.append(grading_cache(quick, 5.0 if quick else 40.0).as_dict())
    return {"tables": tables, "seconds": time.perf_counter() - started}
