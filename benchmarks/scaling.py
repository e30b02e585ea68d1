"""Scaling: time and memory against problem size.

- Monte Carlo checks: samples 1e5..1e7 on a CPU (1e5..1e9 on a GPU). Chunked streaming should
  make time linear in samples and peak memory flat once samples exceed one chunk; the ratio
  column is samples/s against the smallest size's, so a flat 1.0 is linear scaling. A size
  predicted (linearly) to take longer than the cap is skipped and says so.
- Grading cache: M distinct answers against one answer repeated M times, in a fresh grader;
  the repeated batch costs one check plus M - 1 cache hits.
Peak memory: the most tensor memory alive at once (CUDA: ``torch.cuda.max_memory_allocated``;
CPU: the profiler's allocation and free events), which chunking should keep flat.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from contextlib import contextmanager

import torch

from numeric_checks import core

from . import Table
from .mc_bench import STREAMLESS, gauss_kl_draw, gauss_kl_expected

CPU_MEMORY_UP_TO = 10**6     # CPU memory needs an extra (profiled) run: not at 1e7, which would double the time



@contextmanager
def _quiet():
    """Silence file descriptors 1 and 2 (the profiler's C++ side prints its start and stop)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _profiled_peak(fn) -> int:
    """Peak bytes of torch tensors alive at once while ``fn`` runs on the CPU.

    The profiler attributes each allocation to the op that made it (``self_cpu_memory_usage``)
    and each free to a "[memory]" event; their running sum in time order peaks at the most
    tensor memory held at once. Unlike the resident set, this does not depend on what the C
    allocator kept from earlier runs. The profiler slows every op, so timings come from a
    separate run.
    """
    from torch.profiler import ProfilerActivity, profile
    with _quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    held = peak = 0
    for e in events:
        held += e.self_cpu_memory_usage
        peak = max(peak, held)
    return peak


def cuda_peak(fn):
    """(fn(), peak bytes allocated above the start): the caching allocator counts at no cost."""
    torch.cuda.synchronize()
    start = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    out = fn()
    torch.cuda.synchronize()
    return out, torch.cuda.max_memory_allocated() - start


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


def mc_scaling(device: str, quick: bool, cap_seconds: float, budget_seconds: float, prefixes: list[str]) -> Table:
    """Every sampling check at each size, smallest sizes first; at a size, the checks predicted
    (linearly from their last size) to be cheapest run first, and a run predicted to exceed
    ``cap_seconds`` or the remaining ``budget_seconds`` is skipped with the prediction shown."""
    gpu = torch.device(device).type == "cuda"
    t = Table(f"Monte Carlo scaling on {device}: time and peak memory vs samples",
              ["check", "samples", "stream samples", "chunks", "seconds", "samples/s", "rate / rate at smallest",
               "peak memory MiB", "passed"])
    checks = [c for sid, cs in sorted(core.checks().items()) for c in cs
              if c.tier == "montecarlo" and (not prefixes or any(sid.startswith(p) for p in prefixes))]
    checks = [c for c in checks if c.id not in STREAMLESS] + [_kl_check(device)]
    rows: dict[tuple[int, int], list] = {}
    last: dict[int, tuple[int, float]] = {}
    first_rate: dict[int, float] = {}
    spent, dropped = 0.0, set()
    sizes = sorted({n for c in checks for n in sizes_for(device, quick, c.id.startswith("reference"))})
    for n in sizes:
        todo = [k for k, c in enumerate(checks) if k not in dropped
                and n in sizes_for(device, quick, c.id.startswith("reference"))]
        predicted = {k: (last[k][1] * n / last[k][0] if k in last else 0.0) for k in todo}
        for k in sorted(todo, key=predicted.get):
            check = checks[k]
            if predicted[k] > cap_seconds or spent + predicted[k] > budget_seconds:
                why = f"> cap {cap_seconds:g} s" if predicted[k] > cap_seconds else "> what is left of the budget"
                rows[k, n] = [check.id, n, "-", "-", f"skipped: predicted {predicted[k]:.0f} s {why}",
                              "-", "-", "-", "-"]
                continue
            if gpu:
                result, peak = cuda_peak(lambda: core.run_check(check, n, device))
            else:
                result, peak = core.run_check(check, n, device), None
            spent += result.seconds
            if not result.streams:
                STREAMLESS.add(check.id)            # not a sampling check (training, quadrature)
                dropped.add(k)
                continue
            stream_samples = sum(s.samples for s in result.streams)
            seconds = sum(s.seconds for s in result.streams)
            rate = stream_samples / seconds
            first_rate.setdefault(k, rate)
            memory = "-" if peak is None else peak / 2**20
            if not gpu and (n <= CPU_MEMORY_UP_TO or check.id.startswith("reference")):
                started = time.perf_counter()              # a separate, untimed, profiled run
                memory = _profiled_peak(lambda: core.run_check(check, n, device)) / 2**20
                spent += time.perf_counter() - started
            rows[k, n] = [check.id, n, stream_samples, sum(s.chunks for s in result.streams), seconds, rate,
                          rate / first_rate[k], memory, result.passed]
            last[k] = (n, result.seconds)
    for key in sorted(rows):
        t.add(*rows[key])
    t.notes.append(f"chunk: {core.default_chunk(device):,} samples unless a check sets its own (on a CPU, fewer "
                   "when a sample keeps many numbers: core.default_chunk); a run predicted "
                   f"to exceed {cap_seconds:g} s, or the {budget_seconds:g} s budget of this table, is skipped; checks "
                   "without a stream (training) are left out; seconds = the check's stream_mean calls")
    t.notes.append("peak memory: most tensor memory alive at once, above the start ("
                   + ("torch.cuda.max_memory_allocated" if gpu else
                      "CPU: the profiler's allocation events, in a separate untimed run; up to 1e6 samples for the "
                      "checks (an extra run at 1e7 would double the time), every size for the reference") + "). "
                   "Memory grows with samples only while a stream is shorter than one chunk (checks split samples "
                   "between streams, e.g. sm.ism gives d = 32 samples/64); past a chunk it is flat")
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
    for m in ([8] if quick else [10, 100, 1000]):
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
        cap = 5.0 if quick else (60.0 if device == "cuda" else 25.0)
        budget = 20.0 if quick else (240.0 if device == "cuda" else 100.0)
        tables.append(mc_scaling(device, quick, cap, budget, checks or []).as_dict())
    if not torch.cuda.is_available():
        tables[0]["notes"].append("no CUDA device in this run: the GPU sizes 1e8 and 1e9 are still to be measured")
    tables.append(grading_cache(quick, 5.0 if quick else 40.0).as_dict())
    return {"tables": tables, "seconds": time.perf_counter() - started}
