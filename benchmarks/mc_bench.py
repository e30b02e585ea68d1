"""mc: Monte Carlo samples/s of every numeric check against torch.randn's fill rate.

A check cannot produce samples faster than torch can draw one normal per sample, so the
practical limit of a stream is ``torch.randn`` of the stream's dtype and chunk size on the same
device, timed in the same run. For each check this reports samples/s of its ``stream_mean``
calls (``numeric_checks.core.observe_streams``), the fraction of that limit, and the random
numbers it draws per sample (counted with a TorchFunctionMode), since a check that needs T
normals per sample (a DDIM chain) can reach at most 1/T of the limit: its "draw limit" is
randn's rate / T, and the fraction of that limit (fraction of randn x draws per sample) is the
figure the targets are judged on. Two reference streams bracket what a check can reach:
``stream_mean`` over randn itself (only the reduction's overhead) and the Gaussian-KL
estimator of the issue (one normal per sample), eager and with ``torch.compile``.
Checks without streams (quadrature, trained discriminators, exact replays) get their wall time.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import time

import torch
from torch.overrides import TorchFunctionMode

from numeric_checks import core

from . import Table

TARGET = {"cpu": 0.5, "cuda": 0.4}           # the targets: fraction of the draw limit
RANDOM_FUNCTIONS = {torch.randn, torch.rand, torch.randint, torch.randn_like, torch.rand_like, torch.randint_like,
                    torch.normal, torch.multinomial, torch.bernoulli, torch.poisson, torch.randperm}
STREAMLESS: set[str] = set()                 # ids of checks seen to make no stream_mean call
RANDOM_METHODS = {"normal_", "uniform_", "exponential_", "random_", "bernoulli_", "cauchy_", "log_normal_",
                  "geometric_"}


class CountRandom(TorchFunctionMode):
    """Counts the random numbers drawn by torch functions and in-place samplers in a block."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in RANDOM_FUNCTIONS or getattr(func, "__name__", "") in RANDOM_METHODS:
            if isinstance(out, torch.Tensor):
                self.count += out.numel()
        return out


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def clock(device: str):
    """The clock a rate on ``device`` is timed with: on a CPU the calling thread's CPU time (the
    streams run with one intra-op thread, so it is their whole work, and it does not count the
    time other processes on a shared machine take from them); on a GPU wall time after a sync."""
    return time.thread_time if torch.device(device).type == "cpu" else time.perf_counter


REPEATS = 3        # timed runs of a check (and blocks of randn calls): the fastest counts


@functools.lru_cache(maxsize=None)
def randn_rate(n: int, dtype: str, device: str, seconds: float = 0.25) -> float:
    """samples/s of ``torch.randn(n, generator=g)`` (the checks' way of drawing). On a CPU: the
    fastest of REPEATS blocks of calls, each block timed as a whole (as a check's run is the
    sum of its chunks); on a GPU: the fastest call."""
    dt = getattr(torch, dtype)
    g = core.generator(device, 0)
    now = clock(device)
    cpu = torch.device(device).type == "cpu"
    with core.stream_threads(device):            # the threads the streams run with
        torch.randn(n, generator=g, dtype=dt, device=device)
        _sync(device)
        best = math.inf
        for _ in range(REPEATS if cpu else 1):
            spent, reps = 0.0, 0
            while spent < seconds / REPEATS or reps < 3:
                started = now()
                torch.randn(n, generator=g, dtype=dt, device=device)
                _sync(device)
                took = now() - started
                spent, reps = spent + took, reps + 1
                if not cpu:
                    best = min(best, took)
            if cpu:
                best = min(best, spent / reps)
    return n / best


def stream_figures(streams: list, device: str) -> dict:
    """samples/s of a check's streams and the fraction of the randn limit (time-weighted).

    On a CPU the streams' time is their CPU time (``StreamStats.cpu_seconds``), like the limit's;
    ``wall_seconds`` is kept beside it."""
    samples = sum(s.samples for s in streams)
    cpu = torch.device(device).type == "cpu"
    seconds = sum(s.cpu_seconds if cpu else s.seconds for s in streams)
    limit_seconds = sum(s.samples / randn_rate(s.chunk, s.dtype or "float32", device) for s in streams)
    dtypes = sorted({s.dtype for s in streams})
    chunks = sorted({s.chunk for s in streams})
    return {"samples": samples, "seconds": seconds, "wall_seconds": sum(s.seconds for s in streams),
            "rate": samples / seconds, "limit_rate": samples / limit_seconds, "fraction": limit_seconds / seconds,
            "dtype": "/".join(dtypes), "chunk": "/".join(str(c) for c in chunks),
            "paths": "/".join(sorted({s.path for s in streams})), "streams": len(streams)}


def draws_per_sample(check, base: int, device: str) -> float:
    """Random numbers a check's streams draw per sample: counted at two sizes and differenced, so
    draws outside the streams (model weights, exact replays of a few thousand draws) cancel."""
    counts = []
    for samples in (base, 4 * base):
        counter = CountRandom()
        with counter:
            result = core.run_check(check, samples, device)
        counts.append((counter.count, sum(s.samples for s in result.streams)))
    (c1, n1), (c2, n2) = counts
    return (c2 - c1) / (n2 - n1) if n2 > n1 else c2 / n2


def measure_check(check, device: str, base: int, target_seconds: float, max_samples: int,
                  compiled: bool = False) -> dict:
    """A warm-up run at ``base``; for a check with streams, runs counting its random numbers
    (a TorchFunctionMode slows every op, so never on the timed runs) and REPEATS runs sharing
    ``target_seconds``, of which the fastest is reported (a shared machine only slows runs down)."""
    warm = core.run_check(check, base, device)
    if not warm.streams:
        STREAMLESS.add(check.id)
        return {"id": check.id, "fn": check.fn.__name__, "tier": check.tier, "streams": 0,
                "seconds": warm.seconds, "passed": warm.passed, "samples_arg": base}
    draws = draws_per_sample(check, base, device)
    warm_seconds = sum(s.seconds for s in warm.streams)
    samples = int(min(max_samples, max(base, base * target_seconds / REPEATS / max(warm_seconds, 1e-6))))
    runs = [core.run_check(check, samples, device) for _ in range(REPEATS)]
    result = max(runs, key=lambda r: stream_figures(r.streams, device)["rate"])   # the least disturbed run
    row = {"id": check.id, "fn": check.fn.__name__, "tier": check.tier, "samples_arg": samples,
           "draws_per_sample": draws, "passed": result.passed, "check_seconds": result.seconds,
           **stream_figures(result.streams, device)}
    if compiled:
        row.update(compiled_figures(check, samples, device))
    return row


def compiled_figures(check, samples: int, device: str) -> dict:
    """The same run with DERIVCHECK_COMPILE=1; the rate leaves out each stream's compile time
    (reported apart), since a long run pays it once."""
    before = os.environ.get("DERIVCHECK_COMPILE")
    os.environ["DERIVCHECK_COMPILE"] = "1"
    try:
        result = core.run_check(check, samples, device)
    finally:
        if before is None:
            del os.environ["DERIVCHECK_COMPILE"]
        else:
            os.environ["DERIVCHECK_COMPILE"] = before
    streams = [dataclasses.replace(s, seconds=s.seconds - s.compile_seconds,
                                   cpu_seconds=max(s.cpu_seconds - s.compile_seconds, 1e-9)) for s in result.streams]
    f = stream_figures(streams, device)
    return {"compiled_fraction": f["fraction"], "compile_seconds": sum(s.compile_seconds for s in result.streams),
            "compiled_paths": f["paths"], "compiled_passed": result.passed}


# --------------------------------------------------------------------------- reference streams
def gauss_kl_draw(device: str, dtype=torch.float32):
    """log q(z) - log p(z) at z = mu + s eps: one normal per sample, a few element-wise ops."""
    mu, s, m0, s0 = 0.3, 0.8, -0.2, 1.3
    c = math.log(s0 / s)

    def draw(n, gen):
        eps = torch.randn(n, generator=gen, device=device, dtype=dtype)
        z = mu + s * eps
        return c - 0.5 * eps * eps + 0.5 * ((z - m0) / s0) ** 2
    return draw, (mu, s, m0, s0)


def gauss_kl_expected(mu, s, m0, s0) -> float:
    """The same KL by the engine's moment route (derivations.expectation), not typed in."""
    import sympy as sp

    from derivations.expectation import E, Normal, log_normal
    z = sp.Symbol("z", real=True)
    r = lambda v: sp.nsimplify(v)  # noqa: E731 - exact parameters
    return float(E(log_normal(z, r(mu), r(s) ** 2) - log_normal(z, r(m0), r(s0) ** 2), Normal(z, r(mu), r(s) ** 2)))


def reference_rows(device: str, samples: int, compile_too: bool) -> list[dict]:
    rows = []

    def randn_draw(n, gen):
        return torch.randn(n, generator=gen, device=device)
    kl_draw, params = gauss_kl_draw(device)
    expected = gauss_kl_expected(*params)
    cases = [("reference: stream_mean(randn), E = 0", randn_draw, 0.0, False),
             ("reference: Gaussian-KL estimator, eager", kl_draw, expected, False)]
    if compile_too:
        cases.append(("reference: Gaussian-KL estimator, torch.compile", kl_draw, expected, True))
    for name, draw, want, comp in cases:
        with core.observe_streams() as warm:
            core.stream_mean(draw, min(samples, 3 * core.default_chunk(device)), device, 1, compile=comp)
        compile_seconds = warm[0].compile_seconds if comp else None   # paid in the warm-up call
        with core.observe_streams() as seen:
            mean, se = core.stream_mean(draw, samples, device, 2, compile=comp)
        m = core.Measurement(name, mean, want, se, samples)
        rows.append({"id": name, "fn": "-", "tier": "reference", "draws_per_sample": 1.0, "passed": m.passed,
                     "samples_arg": samples, "compile_seconds": compile_seconds, **stream_figures(seen, device)})
    return rows


# --------------------------------------------------------------------------- tables
def mc_table(device: str, rows: list[dict]) -> Table:
    target = TARGET.get(torch.device(device).type, 0.5)
    t = Table(f"Monte Carlo throughput on {device} vs torch.randn (same dtype and chunk, same run)",
              ["check", "dtype", "chunk", "samples", "seconds", "samples/s", "randn samples/s",
               "fraction of randn", "draws/sample", "fraction of the draw limit", f">= {target:.0%}", "path",
               "passed", "compiled: fraction of the draw limit", "compile s"])
    for r in rows:
        if not r.get("streams"):
            continue
        draws = r.get("draws_per_sample") or 1.0
        compiled = r.get("compiled_fraction")
        t.add(r["id"] if r["fn"] == "-" else f"{r['id']} ({r['fn']})", r["dtype"], r["chunk"], r["samples"],
              r["seconds"], r["rate"], r["limit_rate"], r["fraction"], draws, r["fraction"] * draws,
              r["fraction"] * draws >= target, r["paths"], r["passed"],
              None if compiled is None else compiled * draws, r.get("compile_seconds"))
    t.notes.append("fraction of randn = (time randn needs to fill one number per sample) / (time the check's streams "
                   "took), on a CPU both in CPU time of the one stream thread (a shared machine's load then inflates "
                   "neither side; wall time is in the JSON), the fastest of 3 timed runs against the fastest of 3 "
                   "blocks of randn calls")
    t.notes.append("draws/sample = random numbers a sample draws (counted; draws outside the streams differenced "
                   "away); the draw limit = randn's rate / draws per sample, since a check cannot produce samples "
                   "faster than it can draw their random numbers; fraction of the draw limit = fraction of randn x "
                   "draws/sample, the figure the target is judged on")
    if torch.device(device).type == "cpu":
        t.notes.append(f"CPU streams and randn run with numeric_checks.core.CPU_THREADS = {core.CPU_THREADS} intra-op "
                       "thread(s) (DERIVCHECK_CPU_THREADS overrides)")
    for r in rows:
        if r.get("compiled_paths") and r["compiled_paths"] != "compiled":
            t.notes.append(f"{r['id']} with DERIVCHECK_COMPILE=1: {r['compiled_paths']}")
    t.notes.append("compiled: the same run with DERIVCHECK_COMPILE=1, on a GPU only (every stream compiles afresh, "
                   "seconds each); its fraction leaves out the compile time, shown apart (a long run pays it once "
                   "per stream). For the torch.compile reference, 'compile s' is its warm-up call's compile")
    return t


def other_table(device: str, rows: list[dict]) -> Table:
    t = Table(f"Numeric checks without a Monte Carlo stream on {device} (wall time)",
              ["check", "tier", "samples argument", "seconds", "passed"])
    for r in rows:
        if not r.get("streams"):
            t.add(f"{r['id']} ({r['fn']})", r["tier"], r["samples_arg"], r["seconds"], r["passed"])
    t.notes.append("quadrature, trained discriminators and exact replays: their cost is not a sampling rate")
    return t


def devices() -> list[str]:
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def run(quick: bool = False, compile_cpu: bool = True, checks: list[str] | None = None, **_) -> dict:
    started = time.perf_counter()
    tables = []
    for device in devices():
        gpu = device == "cuda"
        base = 1 << 14 if quick else (1 << 20 if gpu else 1 << 15)
        target = 0.05 if quick else (3.0 if gpu else 0.75)
        cap = 1 << 15 if quick else (1 << 30 if gpu else 1 << 23)
        rows = []
        for slot_id, registered in sorted(core.checks().items()):
            if checks and not any(slot_id.startswith(p) for p in checks):
                continue
            for check in registered:
                rows.append(measure_check(check, device, base, target, cap, compiled=gpu and not quick))
        ref_samples = 1 << 15 if quick else (1 << 30 if gpu else 1 << 23)
        rows += reference_rows(device, ref_samples, compile_too=(gpu or compile_cpu) and not quick)
        tables.append(mc_table(device, rows).as_dict())
        if any(not r.get("streams") for r in rows):
            tables.append(other_table(device, rows).as_dict())
    if not torch.cuda.is_available():
        tables[0]["notes"].append("no CUDA device in this run: the GPU figures (target >= 40% of randn at 1e9 "
                                  "samples) are still to be measured")
    return {"tables": tables, "seconds": time.perf_counter() - started}
