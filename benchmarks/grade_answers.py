"""Benchmark: grading the labelled answer set, derivcheck beside math-verify.

Measured on tests/data/labelled_answers.yaml (hand-labelled; see derivations.grading.labelled):
accuracy, false accepts, false rejects and unchecked counts; throughput (answers/s, median and
p99 latency) with 1 and 2 sandboxed workers, cold cache. math-verify (a benchmark-only
dependency) grades the same answers against the same references, printed as LaTeX, in the same
run, each call in a worker process with the same wall-clock limit.

Also, in the same run: a cold ``derivcheck answer`` process beside a cold math-verify process on
the same pair (median of ``COLD_RUNS`` interleaved runs each, after one unmeasured run of each that
fills the on-disk caches a user's first run fills: the parser tables and the GAN analyses), and the
peak resident memory of a grading worker over the labelled set (``--rss``: a fresh process whose
only children are its one sandboxed worker, read from ``getrusage(RUSAGE_CHILDREN)``).

    python -m benchmarks.grade_answers            # prints the JSON dict that run() returns
    python -m benchmarks.grade_answers --rss      # one worker over the labelled set: its peak RSS
"""
from __future__ import annotations

import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
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


COLD_SLOT, COLD_LATEX = "gan.square.f", r"f(t) = \frac{-4t}{1+t}"
COLD_RUNS = 7
_MATH_VERIFY_COLD = ("import logging, sys, math_verify; logging.getLogger('math_verify').setLevel(logging.CRITICAL); "
                     "g = math_verify.parse('$' + sys.argv[1] + '$'); a = math_verify.parse('$' + sys.argv[2] + '$'); "
                     "print('correct' if g and a and math_verify.verify(g, a) else 'wrong')")


def _derivcheck_command() -> list[str]:
    """The console script installed beside this Python (not a version manager's shim, which adds
    its own start-up), else ``python -m derivations.cli``."""
    beside = Path(sys.executable).with_name("derivcheck")
    exe = str(beside) if beside.exists() else shutil.which("derivcheck")
    return [exe] if exe else [sys.executable, "-m", "derivations.cli"]


def _timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed: {done.stderr[-500:]}")
    return wall, done.stdout


def cold_answer(runs: int = COLD_RUNS) -> dict:
    """Wall seconds of a fresh ``derivcheck answer SLOT LATEX --json`` process and of a fresh Python
    process doing math-verify's parse + verify of the same pair (the reference as LaTeX), runs
    interleaved so both see the same load."""
    gold = _reference_latex(registry.get_slot(COLD_SLOT))
    ours = _derivcheck_command() + ["answer", COLD_SLOT, COLD_LATEX, "--json"]
    theirs = [sys.executable, "-c", _MATH_VERIFY_COLD, gold, COLD_LATEX]
    try:
        import math_verify  # noqa: F401
        have_mv = True
    except ImportError:
        have_mv = False
    _, out = _timed(ours)                            # fills the caches a first run fills
    verdict = json.loads(out)["verdict"]
    mv_verdict = _timed(theirs)[1].strip() if have_mv else None
    a, b = [], []
    for _ in range(runs):
        a.append(_timed(ours)[0])
        if have_mv:
            b.append(_timed(theirs)[0])
    out = {"pair": f"{COLD_SLOT}: {COLD_LATEX}", "runs": runs, "derivcheck_verdict": verdict,
           "derivcheck_median_s": round(statistics.median(a), 3), "derivcheck_min_s": round(min(a), 3),
           "derivcheck_max_s": round(max(a), 3)}
    if have_mv:
        out.update({"math_verify_verdict": mv_verdict, "math_verify_median_s": round(statistics.median(b), 3),
                    "math_verify_min_s": round(min(b), 3), "math_verify_max_s": round(max(b), 3),
                    "ratio_median": round(statistics.median(a) / statistics.median(b), 2)})
    return out


def worker_memory(quick: bool = False) -> dict:
    """Peak RSS of one sandboxed grading worker over the labelled set, measured in a fresh process."""
    cmd = [sys.executable, "-m", "benchmarks.grade_answers", "--rss"] + (["--quick"] if quick else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if done.returncode != 0:
        return {"error": done.stderr[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rss_main(quick: bool) -> dict:
    from derivations.grading.sandbox import MEMORY_MB
    items = load()[:: 8 if quick else 1]
    parent_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Grader(jobs=1, timeout=TIMEOUT) as grader:
        results = grader.grade_many([(i.slot, i.latex) for i in items])
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss     # KiB on Linux: the largest child
    return {"answers": len(items), "worker_peak_rss_mib": round(worker / 1024, 1),
            "parent_rss_mib_before_fork": round(parent_before / 1024, 1),
            "worker_memory_limit": f"address space inherited + {MEMORY_MB} MiB (RLIMIT_AS)",
            "unchecked_for_memory": sum(1 for r in results if "memory" in (r.message or ""))}


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
    try:
        import math_verify  # noqa: F401
        out["math_verify"] = _math_verify(items)
    except ImportError:
        out["math_verify"] = "not installed (pip install math-verify)"
    out["derivcheck_2_workers"] = _ours(items, 2)
    if isinstance(out["math_verify"], dict) and out["math_verify"]["answers_per_s"]:
        out["answers_per_s_ratio_1_worker"] = round(out["derivcheck_1_worker"]["answers_per_s"]
                                                    / out["math_verify"]["answers_per_s"], 2)
    out["cold_answer"] = cold_answer(2 if quick else COLD_RUNS)
    out["worker_memory"] = worker_memory(quick)
    return out


if __name__ == "__main__":
    if "--rss" in sys.argv:
        print(json.dumps(_rss_main("--quick" in sys.argv)))
    else:
        print(json.dumps(run("--quick" in sys.argv), indent=2))
