"""One warm grader shared by every request: a bounded queue in front of sandboxed workers.

The server never parses a student's text: an answer goes to ``Grader.grade_many`` (the same
workers, memory cap and wall-clock limit as ``derivcheck answer``; its cache), a chain to
``classroom.tasks.run`` in one of the same workers, a preview's reading to ``worker.read_as``.
At most ``jobs`` checks are in the workers at a time (so a worker's time limit is the check's
wall clock); up to ``queue`` more wait, each at most ``wait`` seconds, then get ``unchecked``
("the server is busy"); beyond that a request is refused at once. Every path ends: a check
that runs out of time is ``unchecked``, never a hung request.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

from ..classroom.tasks import SEED, SYMBOLIC_SECONDS, Task, collect, run, unchecked
from ..grading.sandbox import TIMEOUT, Grader, cache_key

PREVIEW_SECONDS = 3.0
CHAIN_CACHE = 2000
PREVIEW_CACHE = 2000


class Busy(Exception):
    """The queue is full: the request is refused at once (HTTP 503)."""


class _LRU:
    def __init__(self, size: int):
        self.size, self.data, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        return None

    def put(self, key, value) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


class Checker:
    def __init__(self, jobs: int = 2, timeout: float = TIMEOUT, queue: int = 32, wait: float | None = None):
        self.jobs, self.timeout, self.queue = jobs, timeout, queue
        self.wait = timeout if wait is None else wait
        self.grader = Grader(jobs=jobs, timeout=timeout)
        self._running = threading.BoundedSemaphore(jobs)
        self._count = threading.Lock()
        self.waiting = 0
        self.chains = _LRU(CHAIN_CACHE)
        self.previews = _LRU(PREVIEW_CACHE)
        self.checks = 0

    def close(self) -> None:
        self.grader.close()

    def _slot(self, fn, busy, wait=None):
        """Run ``fn`` holding one of the ``jobs`` places; ``busy()`` when none frees in time."""
        with self._count:
            if self.waiting >= self.queue + self.jobs:
                raise Busy(f"{self.waiting} checks are queued; try again in a few seconds")
            self.waiting += 1
        try:
            if not self._running.acquire(timeout=self.wait if wait is None else wait):
                return busy()
            try:
                return fn()
            finally:
                self._running.release()
        finally:
            with self._count:
                self.waiting -= 1

    def answer(self, slot: str, latex: str) -> dict:
        """``derivcheck answer --json``'s object for one answer (blocking; call from a thread)."""
        self.checks += 1
        hit = self.grader.cache.get(cache_key(slot, latex))
        if hit is not None:
            return dict(hit)
        started = time.perf_counter()
        return self._slot(lambda: self.grader.grade(slot, latex).as_dict(),
                          lambda: unchecked(slot, self._busy_reason(), time.perf_counter() - started))

    def chain(self, slot: str, steps: list[str]) -> dict:
        """The chain's result (``check_chain``'s object: an answer's shape plus ``chain``)."""
        self.checks += 1
        task = Task(slot, "chain", tuple(steps))
        hit = self.chains.get(task.key)
        if hit is not None:
            return dict(hit)
        started = time.perf_counter()
        limit = task.timeout(self.timeout)

        def go():
            future = self.grader.submit(run, slot, "chain", tuple(steps), SEED, SYMBOLIC_SECONDS, timeout=limit)
            result, cacheable = collect(future, task, limit, started)
            if cacheable:
                self.chains.put(task.key, result)
            return result

        return self._slot(go, lambda: unchecked(slot, self._busy_reason(), time.perf_counter() - started))

    def read_as(self, slot: str, latex: str) -> dict:
        """How the reader reads ``latex`` (for the preview); ``{"read_as": None, "error": None}``
        when the workers are busy or it takes too long: a preview never waits for a check."""
        from concurrent.futures import TimeoutError as FutureTimeout

        from pebble import ProcessExpired

        from .worker import read_as
        key = cache_key(slot, latex)
        hit = self.previews.get(key)
        if hit is not None:
            return hit
        nothing = {"read_as": None, "error": None}

        def go():
            try:
                out = self.grader.submit(read_as, slot, latex, timeout=PREVIEW_SECONDS).result()
            except (FutureTimeout, ProcessExpired):
                out = {"read_as": None, "error": "the reader did not finish in time"}
            except Exception as exc:  # noqa: BLE001 - a reader bug must not break the page
                return {"read_as": None, "error": f"internal error while reading ({type(exc).__name__})"}
            self.previews.put(key, out)
            return out

        try:
            return self._slot(go, lambda: nothing, wait=0.25)
        except Busy:
            return nothing

    def _busy_reason(self) -> str:
        return (f"the server is busy: the check could not start within {self.wait:g} s; "
                "try again in a moment")

    def stats(self) -> dict:
        return {"jobs": self.jobs, "timeout": self.timeout, "queue": self.queue, "waiting": self.waiting,
                "checks": self.checks, "answer_cache": len(self.grader.cache), "chain_cache": len(self.chains.data)}
