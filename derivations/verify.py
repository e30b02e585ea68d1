"""Run derivations: every step gets evidence, every derivation a status, in bounded time."""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import time
from dataclasses import dataclass, field

from . import registry
from .evidence import Evidence, Kind, Status, definition, error, unchecked
from .limits import CheckTimeout, time_limit
from .printing import claim_latex
from .prove import check_relation
from .step import Derivation, Step

STEP_SECONDS = 30.0


@dataclass
class StepResult:
    step: Step
    evidence: Evidence

    def as_dict(self) -> dict:
        d = {"claim_latex": claim_latex(self.step), "why": self.step.why,
             "status": self.evidence.status.value, "slots": list(self.step.establishes),
             "evidence": {"kind": self.evidence.kind.value, "detail": self.evidence.detail,
                          "seconds": round(self.evidence.seconds, 4), **self.evidence.extra}}
        if self.step.family:
            d["family"] = self.step.family
        if self.step.audit:
            d["audit"] = self.step.audit
        if self.step.definition:
            d["definition"] = True
        if self.step.cite:
            d["cite"] = self.step.cite
        if self.evidence.counterexample is not None:
            d["counterexample"] = self.evidence.counterexample
        return d


@dataclass
class DerivationResult:
    derivation: Derivation
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        """Refuted/error if any of derivcheck's own steps is; proved only if every own step that
        is not a definition is proved (and there is one). Definitions neither prove nor fail."""
        checked = [r for r in self.steps if not r.step.definition]
        own = [r.evidence.status for r in checked if not r.step.audit]
        for bad in (Status.ERROR, Status.REFUTED):
            if bad in own:
                return bad
        if own and all(s is Status.PROVED for s in own) and all(
                r.evidence.status in (Status.PROVED, Status.REFUTED) for r in checked):
            return Status.PROVED
        return Status.UNCHECKED

    @property
    def findings(self) -> list[StepResult]:
        """Audited claims (quoted from a source) that the checks refuted."""
        return [r for r in self.steps if r.step.audit and r.evidence.status is Status.REFUTED]

    def as_dict(self) -> dict:
        d = self.derivation
        return {"id": d.id, "title": d.title, "slots": list(d.slots), "status": self.status.value,
                "source": d.source, "seconds": round(self.seconds, 3),
                "steps": [r.as_dict() for r in self.steps]}


def check_step(step: Step, seconds: float = STEP_SECONDS) -> Evidence:
    """Evidence for one step; exceptions become ``error``, time-outs ``unchecked``."""
    if step.definition:
        return definition("a definition (or base case), stated as such: nothing to prove, and never "
                          "counted as a proof")
    started = time.perf_counter()
    try:
        with time_limit(seconds):
            if step.check is not None:
                evidence = step.check(step)
            else:
                lhs, rhs = step.sides()
                evidence = check_relation(lhs, step.rel, rhs, step.assume, step.family, gap=step.certificate())
    except CheckTimeout:
        return unchecked(f"check did not finish within {seconds:g} s")
    except Exception as exc:  # a bug in a checker must not stop the others
        return error(f"{type(exc).__name__}: {exc}")
    return dataclasses.replace(evidence, seconds=time.perf_counter() - started)


def run(derivation: Derivation, seconds: float = STEP_SECONDS) -> DerivationResult:
    started = time.perf_counter()
    result = DerivationResult(derivation)
    for step in derivation.steps:
        result.steps.append(StepResult(step, check_step(step, seconds)))
    result.seconds = time.perf_counter() - started
    return result


def _run_by_id(args) -> tuple[str, list[Evidence], float]:
    """Worker side of ``run_all``: evidence only (steps hold closures, which do not pickle)."""
    derivation_id, seconds = args
    result = run(registry.derivations()[derivation_id], seconds)
    return derivation_id, [s.evidence for s in result.steps], result.seconds


def run_all(selectors=(), seconds: float = STEP_SECONDS, progress=None, jobs: int = 1) -> list[DerivationResult]:
    """Run the selected derivations, in ``jobs`` forked worker processes when jobs > 1.

    Workers are forked after the registry is loaded, so they start with the catalogue in memory.
    """
    chosen = registry.select(selectors)
    if jobs <= 1 or len(chosen) < 2 or "fork" not in mp.get_all_start_methods():
        results = []
        for d in chosen:
            results.append(run(d, seconds))
            if progress:
                progress(d)
        return results
    by_id = {d.id: d for d in chosen}
    done: dict[str, DerivationResult] = {}
    # Longest first (by step count) keeps both workers busy to the end.
    order = sorted(chosen, key=lambda d: -len(d.steps))
    with mp.get_context("fork").Pool(min(jobs, len(chosen))) as pool:
        for derivation_id, evidence, took in pool.imap_unordered(_run_by_id, [(d.id, seconds) for d in order]):
            d = by_id[derivation_id]
            done[derivation_id] = DerivationResult(d, [StepResult(st, ev) for st, ev in zip(d.steps, evidence)], took)
            if progress:
                progress(d)
    return [done[d.id] for d in chosen]


def step_category(result: StepResult) -> str:
    """The step's line in the summaries: its status, or ``definition`` for a definition."""
    if result.step.definition:
        return Kind.DEFINITION.value
    return result.evidence.status.value


def slot_status(results: list[DerivationResult]) -> dict[str, Status]:
    """Each established slot's status: proved when some own step that establishes it is proved
    and none is refuted or errs; a slot established only by definitions is not proved."""
    out: dict[str, Status] = {}
    for r in results:
        for s in r.steps:
            if s.step.audit:
                continue
            for slot in s.step.establishes:
                st = Status.UNCHECKED if s.step.definition else s.evidence.status
                now = out.get(slot)
                if now in (Status.REFUTED, Status.ERROR):
                    continue
                if st in (Status.REFUTED, Status.ERROR) or now is None or st is Status.PROVED:
                    out[slot] = st
    return out


def summary(results: list[DerivationResult]) -> dict:
    counts: dict[str, int] = {}
    for r in results:
        for s in r.steps:
            key = step_category(s)
            counts[key] = counts.get(key, 0) + 1
    by_kind: dict[str, int] = {}
    for r in results:
        for s in r.steps:
            by_kind[s.evidence.kind.value] = by_kind.get(s.evidence.kind.value, 0) + 1
    failed = [r.derivation.id for r in results if r.status in (Status.REFUTED, Status.ERROR)]
    return {"derivations": len(results), "steps": counts, "evidence": by_kind,
            "failed": failed, "findings": [f"{r.derivation.id}: {claim_latex(s.step)}"
                                           for r in results for s in r.findings],
            "seconds": round(sum(r.seconds for r in results), 3)}
