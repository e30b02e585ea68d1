"""Numeric cross-checks keyed by slot id, and the streaming Monte Carlo estimator they share.

A Monte Carlo measurement passes when |estimate - expected| <= K_SE standard errors, with
K_SE set by one suite-wide false-failure rate (as in torch's "randomized statistical tests"):
every check is seeded, so the suite is deterministic, and a failure means a real disagreement
or a seed that drew a 1-in-FAILURE_RATE sample.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from scipy.stats import norm

FAILURE_RATE = 1e-4                     # chance that one correct MC measurement fails
K_SE = float(norm.isf(FAILURE_RATE / 2))  # about 3.89 standard errors
DEFAULT_SAMPLES = 200_000
DEFAULT_CHUNK = 1 << 20


@dataclass
class Measurement:
    """One number compared with its expected value."""

    name: str
    estimate: float
    expected: float
    stderr: float = 0.0          # Monte Carlo standard error (kind monte-carlo)
    samples: int = 0
    kind: str = "monte-carlo"    # monte-carlo | quadrature | exact | bound
    tolerance: float = 0.0       # absolute tolerance for non-MC kinds (e.g. quadrature error)
    relation: str = "="          # "=", ">=" (estimate >= expected - k SE), "<="
    extra: dict = field(default_factory=dict)

    @property
    def z(self) -> float:
        if self.kind != "monte-carlo" or self.stderr == 0:
            return 0.0
        return (self.estimate - self.expected) / self.stderr

    @property
    def passed(self) -> bool:
        slack = K_SE * self.stderr if self.kind == "monte-carlo" else self.tolerance
        gap = self.estimate - self.expected
        if self.relation == ">=":
            return gap >= -slack
        if self.relation == "<=":
            return gap <= slack
        return abs(gap) <= slack


@dataclass
class CheckResult:
    id: str
    measurements: list[Measurement]
    device: str
    seed: int
    seconds: float

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.measurements)

    def rows(self) -> list[dict]:
        """One JSON row per measurement (the schema of ``derivcheck verify --json``)."""
        out = []
        for m in self.measurements:
            row = {"id": self.id, "name": m.name, "kind": m.kind, "estimate": m.estimate,
                   "expected": m.expected, "stderr": m.stderr, "z": m.z, "k_se": K_SE,
                   "relation": m.relation, "tolerance": m.tolerance, "samples": m.samples,
                   "device": self.device, "seed": self.seed, "seconds": round(self.seconds, 4),
                   "passed": m.passed}
            row.update(m.extra)
            out.append(row)
        return out


@dataclass(frozen=True)
class NumericCheck:
    id: str
    fn: Callable
    tier: str = "montecarlo"   # montecarlo | fast
    seed: int = 0
    module: str = ""


_CHECKS: dict[str, list[NumericCheck]] = {}
MODULES = ("lemma", "ddim", "gan", "vae", "hvae", "sm")


def numeric_check(slot_id: str, seed: int = 0, tier: str = "montecarlo"):
    """Register ``fn(samples, device, seed) -> list[Measurement]`` under a slot id."""
    def register(fn):
        _CHECKS.setdefault(slot_id, []).append(NumericCheck(slot_id, fn, tier, seed, fn.__module__))
        return fn
    return register


def checks() -> dict[str, list[NumericCheck]]:
    import importlib
    for name in MODULES:
        try:
            importlib.import_module(f"numeric_checks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"numeric_checks.{name}":
                raise
    return dict(_CHECKS)


def run_check(check: NumericCheck, samples: int = DEFAULT_SAMPLES, device: str = "cpu") -> CheckResult:
    started = time.perf_counter()
    measurements = check.fn(samples=samples, device=device, seed=check.seed)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return CheckResult(check.id, list(measurements), device, check.seed, time.perf_counter() - started)


def generator(device: str, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def stream_mean(draw: Callable[[int, torch.Generator], torch.Tensor], samples: int,
                device: str = "cpu", seed: int = 0, chunk: int = DEFAULT_CHUNK) -> tuple[float, float]:
    """Mean and standard error of ``draw(n, gen)`` over ``samples`` draws.

    ``draw`` returns n i.i.d. values (shape [n], or [n, k] for k estimators at once). Samples
    are drawn in chunks, so memory does not grow with ``samples``; sums are kept in float64,
    and chunk i uses its own generator seeded ``seed + i``, so any chunk is reproducible.
    """
    total = total_sq = None
    for i, start in enumerate(range(0, samples, chunk)):
        n = min(chunk, samples - start)
        values = draw(n, generator(device, seed + i)).to(torch.float64)
        s, sq = values.sum(0), (values * values).sum(0)
        total, total_sq = (s, sq) if total is None else (total + s, total_sq + sq)
    mean = total / samples
    var = (total_sq / samples - mean * mean).clamp_min(0) * samples / max(samples - 1, 1)
    se = (var / samples).sqrt()
    if mean.ndim == 0:
        return float(mean), float(se)
    return mean.tolist(), se.tolist()


def mc(name: str, draw, expected: float, samples: int, device: str, seed: int, **extra) -> Measurement:
    """A Monte Carlo measurement of E[draw] against ``expected``."""
    mean, se = stream_mean(draw, samples, device, seed)
    return Measurement(name, mean, float(expected), se, samples, extra=extra)
