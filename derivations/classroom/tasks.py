"""The unit of work -- one answer or one chain to one slot -- and the process-pool executor.

A ``Task`` is what a student wrote for a slot; its ``key`` is the slot, the kind and the
whitespace-normalised text, so identical answers in a class are decided once. ``run`` is the
function a worker executes: it parses the student's text, so it only ever runs inside a
sandboxed worker (``derivations.grading.sandbox``: memory cap, no file writes, wall-clock
timeout, a dead worker replaced). Every executor yields (task, result dict) and never raises
for one bad answer: a time-out or a dead worker is an ``unchecked`` result with the reason.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import as_completed
from dataclasses import dataclass

from ..grading.sandbox import _task, _unchecked, budget

SEED = 0
SYMBOLIC_SECONDS = 2.0
CHAIN_TIMEOUT_FACTOR = 6           # a chain gets up to this many answers' time


def normalise(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Task:
    slot: str
    kind: str                      # "answer" | "chain"
    payload: object                # str, or tuple of step strings

    @property
    def key(self) -> str:
        body = normalise(self.payload) if self.kind == "answer" else [normalise(s) for s in self.payload]
        text = json.dumps([self.slot, self.kind, body], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def timeout(self, base: float) -> float:
        if self.kind == "chain":
            return base * min(CHAIN_TIMEOUT_FACTOR, max(1, math.ceil(len(self.payload) / 2)))
        return base


def run(slot: str, kind: str, payload, seed: int = SEED, symbolic_seconds: float = SYMBOLIC_SECONDS,
        seconds: float | None = None) -> dict:
    """Grade one task in this (sandboxed worker) process; ``seconds`` bounds a single answer's
    whole check (``sandbox.budget``: a little under the worker's limit, so a slow answer ends
    ``unchecked`` with its reason instead of its worker being killed)."""
    if kind != "chain":                # the single-answer task of the sandbox, failures included
        return _task(slot, payload, seed, symbolic_seconds, True, seconds)
    try:
        from .chains import check_chain
        return check_chain(slot, payload, seed=seed, symbolic_seconds=symbolic_seconds)
    except MemoryError:
        return unchecked(slot, "the check ran out of memory")
    except RecursionError:
        return unchecked(slot, "the answer is nested too deeply to check")


def unchecked(slot: str, why: str, seconds: float = 0.0) -> dict:
    return _unchecked(slot, why, seconds).as_dict()


def collect(future, task: Task, timeout: float, started: float) -> tuple[dict, bool]:
    """(result, cacheable) of a finished pebble future; failures become ``unchecked``."""
    from pebble import ProcessExpired
    try:
        return future.result(), True
    except FutureTimeout:
        why = (f"the check did not finish within {timeout:g} s; its worker was stopped and replaced")
    except ProcessExpired as exc:
        why = f"the check's worker died (exit code {exc.exitcode}; memory limit or crash) and was replaced"
    except Exception as exc:  # a checker's bug: reported for review, never a crash of the class run
        why = f"internal error while checking ({type(exc).__name__}); the answer is left for a person"
    return unchecked(task.slot, why, time.perf_counter() - started), False


class ProcessExecutor:
    """``jobs`` sandboxed worker processes on this machine (pebble, via the grading sandbox)."""

    name = "processes"

    def __init__(self, jobs: int = 2, timeout: float = 20.0):
        from ..grading.sandbox import Grader
        self.jobs, self.timeout = jobs, timeout
        self._grader = Grader(jobs=jobs, timeout=timeout)   # warms the grammar and scopes, then forks

    @property
    def workers(self) -> int:
        return self.jobs

    def map_unordered(self, tasks):
        """Yield (task, result, cacheable) as workers finish."""
        pending = {}
        for task in tasks:
            t = task.timeout(self.timeout)
            fut = self._grader.submit(run, task.slot, task.kind, task.payload, SEED, SYMBOLIC_SECONDS, budget(t),
                                      timeout=t)
            pending[fut] = (task, t, time.perf_counter())
        for fut in as_completed(pending):
            task, t, started = pending.pop(fut)
            result, cacheable = collect(fut, task, t, started)
            yield task, result, cacheable

    def close(self) -> None:
        self._grader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
