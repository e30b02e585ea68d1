"""Benchmark: grading the labelled answer set, derivcheck beside math-verify.

Measured on tests/data/labelled_answers.yaml (hand-labelled; see derivations.grading.labelled):
accuracy, false accepts, false rejects and unchecked counts; throughput (answers/s, median and
p99 latency) with 1 and 2 sandboxed workers, cold cache. math-verify (a benchmark-only
dependency) grades the same answers against the same references, printed as LaTeX, in the same
run, each call in a worker process with the same wall-clock limit.

    python -m benchmarks.grade_answers            # prints the JSON dict that run() returns
"""
from __future__ import annotations

import json
import multiprocessing
import statistics
import time
from concurrent.futures import TimeoutError as FutureTimeout

from pebble import ProcessExpired, ProcessPool

from derivations import registry
from derivations.grading.labelled import load, score
from derivations.grading.sandbox import Grader
from derivations.grading.show import latex as show_latex

TIMEOUT = 20.0


def _latency(seconds: list[float]) -> dict:
    xs = sorted(seconds)
    p99 = xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))] if xs else 0.0
    return {"median_s": round(statistics.median(xs), 4) if xs else 0.0, "p99_s": round(p99, 4)}


def _ours(items, jobs: int) -> dict:
    started = time.perf_counter()
    with Grader(jobs=jobs, timeout=TIMEOUT) as grader:
        results = grader.grade_many([(i.slot, i.latex) for i in items])
    wall = time.perf_counter() - started
    s = score(items, [r.verdict for r in results])
    evidence = {}
    for r in results:
        if r.verdict == "correct":
            evidence[r.evidence_kind] = evidence.get(r.evidence_kind, 0) + 1
    named = sum(1 for i, r in zip(items, results) if i.label == "wrong" and r.verdict == "wrong" and r.mistake)
    wrong_found = sum(1 for i, r in zip(items, results) if i.label == "wrong" and r.verdict == "wrong")
    return {**s.as_dict(), "workers": jobs, "wall_s": round(wall, 2),
            "answers_per_s": round(len(items) / wall, 2), **_latency([r.seconds for r in results]),
            "correct_by_evidence": evidence, "mistakes_named": f"{named}/{wrong_found}"}


def _reference_latex(slot) -> str:
    ref = slot.reference
    if ref is None:
        return slot.latex
    return show_latex(ref)


def _math_verify_one(gold: str, answer: str) -> tuple[str, float]:
    """math-verify's verdict on one answer (runs in a worker: its parser is not bounded)."""
    import logging

    import math_verify
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    started = time.perf_counter()
    g = math_verify.parse(f"${gold}$")
    a = math_verify.parse(f"${answer}$")
    if not a or not g:
        return "invalid", time.perf_counter() - started
    ok = math_verify.verify(g, a)
    return ("correct" if ok else "wrong"), time.perf_counter() - started


def _math_verify(items) -> dict:
    golds = {slot: _reference_latex(registry.get_slot(slot)) for slot in {i.slot for i in items}}
    started = time.perf_counter()
    verdicts, seconds = [], []
    with ProcessPool(max_workers=1, context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.schedule(_math_verify_one, args=(golds[i.slot], i.latex), timeout=TIMEOUT)
                   for i in items]
        for f in futures:
            try:
                verdict, s = f.result()
            except (FutureTimeout, ProcessExpired):
                verdict, s = "unchecked", TIMEOUT
            except Exception:
                verdict, s = "invalid", 0.0
            verdicts.append(verdict)
            seconds.append(s)
    wall = time.perf_counter() - started
    s = score(items, verdicts)
    return {**s.as_dict(), "workers": 1, "wall_s": round(wall, 2),
            "answers_per_s": round(len(items) / wall, 2), **_latency(seconds)}


def run(quick: bool = False) -> dict:
    """The benchmark's figures (``python -m benchmarks grade`` calls this; ``quick`` grades every
    eighth answer only)."""
    registry.load()
    items = load()
    if quick:
        items = items[::8]
    out = {"answers": len(items), "slots": len({i.slot for i in items}),
           **{f"labelled_{k}": sum(1 for i in items if i.label == k)
              for k in ("correct", "wrong", "invalid", "hostile", "unchecked")}}
    out["derivcheck_1_worker"] = _ours(items, 1)
    out["derivcheck_2_workers"] = _ours(items, 2)
    try:
        import math_verify  # noqa: F401
        out["math_verify"] = _math_verify(items)
    except ImportError:
        out["math_verify"] = "not installed (pip install math-verify)"
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
