"""Run derivations: every step gets evidence, every derivation a status, in bounded time."""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import time
from dataclasses import dataclass, field

from . import limits, registry
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
    cached: bool = False             # read from the proof cache (proved in an earlier run)

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
        if self.cached:
            d["cached"] = True
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


def check_step(step: Step, seconds: float = STEP_SECONDS, cache=None, where: tuple[str, int] | None = None,
               ) -> Evidence:
    """Evidence for one step; exceptions become ``error``, time-outs ``unchecked``.

    With a ``proof_cache.ProofCache``, an entry stored under the step's content key is returned
    instead of checking again, and an outcome a rerun would reproduce is stored (see
    ``derivations.proof_cache``); ``where`` is the step's (derivation id, position)."""
    return _check_step_cached(step, seconds, cache, where)[0]


def _check_step_cached(step: Step, seconds: float, cache, where) -> tuple[Evidence, bool]:
    """(evidence, read from the cache)."""
    if step.definition:
        return definition("a definition (or base case), stated as such: nothing to prove, and never "
                          "counted as a proof"), False
    key = _key(step, seconds, where) if cache is not None else None
    if key is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit, True
    evidence, _, store, timed, deps = _checked(step, seconds, key is not None)
    if store:
        cache.put(key, evidence, deps, timed=timed)
    return evidence, False


def _key(step: Step, seconds: float, where) -> str | None:
    from . import proof_cache
    try:
        return proof_cache.step_key(step, seconds, where)
    except Exception:  # uncacheable, or a part that fails to serialise: checked (and reported) as usual
        return None


def _checked(step: Step, seconds: float, keyed: bool) -> tuple[Evidence, float, bool, bool, list | None]:
    """(evidence, wall seconds, whether a rerun would reproduce it, whether a limit fired, the
    symbol declarations it read); the last three only when ``keyed``."""
    if not keyed:
        started = time.perf_counter()
        evidence = _check_step(step, seconds)
        return evidence, time.perf_counter() - started, False, False, None
    from . import proof_cache
    fired, cpu, started = limits.fired(), time.process_time(), time.perf_counter()
    with proof_cache.reading_symbols() as reads:
        evidence = _check_step(step, seconds)
    wall = time.perf_counter() - started
    timed = limits.fired() != fired
    store = proof_cache.storable(evidence, timed, time.process_time() - cpu, wall)
    return evidence, wall, store, timed, reads.deps() if store else None


def _check_step(step: Step, seconds: float) -> Evidence:
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


def run(derivation: Derivation, seconds: float = STEP_SECONDS, cache=None) -> DerivationResult:
    """Check every step of ``derivation`` in this process (through ``cache`` when given)."""
    started = time.perf_counter()
    result = DerivationResult(derivation)
    for i, step in enumerate(derivation.steps):
        evidence, hit = _check_step_cached(step, seconds, cache, (derivation.id, i, derivation.module))
        result.steps.append(StepResult(step, evidence, hit))
    result.seconds = time.perf_counter() - started
    return result


def _step_task(args) -> tuple:
    """Worker side of ``run_all``: one step's evidence (steps hold closures, which do not pickle),
    its wall seconds, whether a rerun would reproduce it, whether a limit fired, and the symbol
    declarations it read."""
    derivation_id, index, seconds, keyed = args
    step = registry.derivations()[derivation_id].steps[index]
    return (derivation_id, index, *_checked(step, seconds, keyed))


def run_all(selectors=(), seconds: float = STEP_SECONDS, progress=None, jobs: int = 1,
            cache=None) -> list[DerivationResult]:
    """Run the selected derivations: steps found in ``cache`` (a ``proof_cache.ProofCache``) are
    read back, the others checked in ``jobs`` forked worker processes (jobs > 1) and stored.

    Workers are forked after the registry is loaded (and the parent has built every step's key),
    so they start with the catalogue in memory. They take one step at a time, the longest first
    (by the time each took when last checked, else by a guess from its kind), so that
    neither waits on the other at the end.
    """
    chosen = registry.select(selectors)
    evidence: dict[tuple[str, int], Evidence] = {}
    hits: set[tuple[str, int]] = set()
    keys: dict[tuple[str, int], str] = {}
    todo: list[tuple[str, int]] = []
    for d in chosen:
        for i, step in enumerate(d.steps):
            if step.definition:
                evidence[(d.id, i)] = check_step(step, seconds)
                continue
            key = _key(step, seconds, (d.id, i, d.module)) if cache is not None else None
            if key is not None:
                keys[(d.id, i)] = key
                hit = cache.get(key)
                if hit is not None:
                    evidence[(d.id, i)] = hit
                    hits.add((d.id, i))
                    continue
            todo.append((d.id, i))
    took: dict[tuple[str, int], float] = {}
    left = {d.id: 0 for d in chosen}
    for did, _ in todo:
        left[did] += 1
    by_id = {d.id: d for d in chosen}
    if progress:
        for d in chosen:
            if not left[d.id]:
                progress(d)

    unstored: list[tuple[str, int]] = []

    def finish(derivation_id, index, ev, wall, store, timed, deps):
        evidence[(derivation_id, index)], took[(derivation_id, index)] = ev, wall
        if not (store and cache is not None and (derivation_id, index) in keys
                and cache.put(keys[(derivation_id, index)], ev, deps, timed=timed)):
            unstored.append((derivation_id, index))
        left[derivation_id] -= 1
        if progress and not left[derivation_id]:
            progress(by_id[derivation_id])

    history = cache.timings() if cache is not None else {}

    def expected(task) -> float:
        """The step's last recorded time; without one a guess: inequalities (a sign search, a
        certificate, a violation search) and steps that build their sides or run their own
        checker first (the costly ones in the catalogue), then larger derivations."""
        if f"{task[0]}#{task[1]}" in history:
            return history[f"{task[0]}#{task[1]}"]
        d = by_id[task[0]]
        step = d.steps[task[1]]
        lazy = step.check is not None or callable(step.lhs) or callable(step.rhs)
        return 10.0 * (step.rel != "=") + 2.0 * lazy + 0.01 * len(d.steps)

    todo.sort(key=lambda t: (-expected(t), t))
    tasks = [(did, i, seconds, (did, i) in keys) for did, i in todo]
    if jobs <= 1 or len(todo) < 2 or "fork" not in mp.get_all_start_methods():
        for task in tasks:
            finish(*_step_task(task))
    else:
        if cache is not None:
            cache.close()               # no SQLite connection crosses the fork; reopened on use
        with mp.get_context("fork").Pool(min(jobs, len(todo))) as pool:
            for out in pool.imap_unordered(_step_task, tasks, chunksize=1):
                finish(*out)
    if cache is not None:
        if took:
            cache.record_timings({f"{did}#{i}": t for (did, i), t in took.items()})
        cache.run_complete = not unstored      # every step read back or stored: the run would repeat
    results = []
    for d in chosen:
        steps = [StepResult(st, evidence[(d.id, i)], (d.id, i) in hits) for i, st in enumerate(d.steps)]
        results.append(DerivationResult(d, steps, sum(took.get((d.id, i), 0.0) for i in range(len(d.steps)))))
    return results


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
    cached = sum(1 for r in results for s in r.steps if s.cached)
    return {"derivations": len(results), "steps": counts, "evidence": by_kind, "cached": cached,
            "failed": failed, "findings": [f"{r.derivation.id}: {claim_latex(s.step)}"
                                           for r in results for s in r.findings],
            "seconds": round(sum(r.seconds for r in results), 3)}
