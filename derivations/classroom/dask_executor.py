"""``--executor dask --scheduler ADDRESS``: the same per-answer tasks on a Dask cluster.

Optional extra (``pip install derivcheck[dask]``). Each Dask worker keeps its own sandboxed
pebble pool (one process per worker thread) and runs every task there, not in the Dask worker
itself: the sandbox's limits (address space, no file writes) would break a Dask worker, which
spills to disk, and its wall-clock limit needs the main thread of a process of its own. So a
student's text is parsed under the same limits whichever executor runs it.
"""
from __future__ import annotations

import threading
import time

from ..grading.sandbox import budget
from .tasks import SEED, SYMBOLIC_SECONDS, Task, collect, run, unchecked

_POOLS: dict = {}
_LOCK = threading.Lock()


def _allow_children() -> None:
    """A Dask worker under a nanny is a daemonic process, and multiprocessing forbids those to
    start children; the sandbox's workers are such children. They watch the pipe to their
    parent and exit when it closes, so nothing is orphaned if the Dask worker dies; lifting
    the flag (what ``distributed.worker.daemon: false`` would do for the whole cluster) is
    safe here."""
    import multiprocessing
    config = getattr(multiprocessing.current_process(), "_config", None)
    if isinstance(config, dict) and config.get("daemon"):
        config["daemon"] = False


def _local_grader(timeout: float):
    """This Dask worker's sandboxed pool (created on first use, one per timeout)."""
    from ..grading.sandbox import Grader
    with _LOCK:
        if timeout not in _POOLS:
            _allow_children()
            try:
                from distributed import get_worker
                jobs = max(1, int(get_worker().state.nthreads))
            except (ImportError, ValueError, AttributeError):
                jobs = 1
            _POOLS[timeout] = Grader(jobs=jobs, timeout=timeout)
        return _POOLS[timeout]


def grade_on_worker(slot: str, kind: str, payload, timeout: float) -> tuple[dict, bool]:
    """Runs on a Dask worker: the task in that worker's sandboxed pool."""
    task = Task(slot, kind, payload)
    started = time.perf_counter()
    grader = _local_grader(timeout)
    limit = task.timeout(timeout)
    future = grader.submit(run, slot, kind, payload, SEED, SYMBOLIC_SECONDS, budget(limit), timeout=limit)
    return collect(future, task, task.timeout(timeout), started)


class DaskExecutor:
    """Submit tasks to a Dask distributed scheduler; results come back as they finish."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, timeout: float = 20.0, client=None):
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError("the dask executor needs the optional extra: pip install 'derivcheck[dask]'") from None
        if client is None and not scheduler:
            raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
        self.timeout = timeout
        self._own = client is None
        self.client = client if client is not None else Client(scheduler, timeout="30s")

    @property
    def workers(self) -> int:
        info = self.client.scheduler_info().get("workers", {})
        return sum(int(w.get("nthreads", 1)) for w in info.values()) or 1

    def map_unordered(self, tasks):
        from distributed import as_completed
        futures = {}
        for task in tasks:
            fut = self.client.submit(grade_on_worker, task.slot, task.kind, task.payload, self.timeout,
                                     pure=False, retries=1)
            futures[fut] = task
        for fut in as_completed(list(futures)):
            task = futures.pop(fut)
            try:
                result, cacheable = fut.result()
            except Exception as exc:  # a lost worker or a scheduler error: this answer goes to review
                result, cacheable = unchecked(task.slot, f"the Dask task failed ({type(exc).__name__}: "
                                              f"{str(exc)[:200]})"), False
            fut.release()
            yield task, result, cacheable

    def close(self) -> None:
        if self._own:
            self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
