"""Every check runs in a worker process with a wall-clock timeout and resource limits.

A student's text is read and checked only inside a pebble worker whose initializer caps its
address space (RLIMIT_AS), forbids writing files (RLIMIT_FSIZE = 0, with SIGXFSZ ignored so a
write fails instead of killing) and disables core dumps. A worker that runs past its time or
dies (memory, a crash) is replaced by pebble and the answer is ``unchecked`` with the reason.
The parent never parses the text: it only forms the cache key (slot, whitespace-normalised
text) and ships the text to a worker.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import OrderedDict
from concurrent.futures import TimeoutError as FutureTimeout

from pebble import ProcessExpired, ProcessPool

from .. import registry
from .result import AnswerResult

POLL_SECONDS = 0.02       # pebble's polling interval (its default 0.1 s is paid again at every close)
TIMEOUT = 20.0            # seconds per answer (wall clock, includes parsing and diagnosis)
MEMORY_MB = 1536          # extra address space a worker may use beyond what it inherits
CACHE_SIZE = 20000
MAX_KEY_CHARS = 4000


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _limit(memory_mb: int) -> None:
    """Worker initializer: cap memory, forbid file writes and core dumps. The worker is forked
    from the prepared parent: it inherits the loaded questions, the grammar and the warm scopes,
    and loads a question it has not seen on first use (``registry.get_slot``)."""
    limit = _vm_bytes() + memory_mb * 2**20
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for which in (resource.RLIMIT_FSIZE, resource.RLIMIT_CORE):
        try:
            resource.setrlimit(which, (0, 0))
        except (ValueError, OSError):
            pass


def _warm(slot_ids=None) -> None:
    """Build the grammar, the grader's modules and the scopes of ``slot_ids`` (default: every
    slot) once, before the workers fork, so that no worker repeats it."""
    from ..latex.scope import for_slot
    from ..latex.syntax import parser
    from . import core  # noqa: F401  (the checkers, imported once in the parent)
    parser()
    for slot_id in (registry.slots() if slot_ids is None else slot_ids):
        try:
            for_slot(slot_id)
            for_slot(slot_id, True)
        except Exception:  # a slot whose names cannot be read is reported when it is graded
            pass


def _poll_faster() -> None:
    """pebble's manager threads sleep ``sleep_unit`` between checks: closing a pool waits up to that
    long (a tenth of a second for every one-answer command), and a timeout is noticed that late.
    A shorter interval costs a few wake-ups a second."""
    try:
        from pebble.common import CONSTS
        if CONSTS.sleep_unit > POLL_SECONDS:
            CONSTS.sleep_unit = POLL_SECONDS
    except (ImportError, AttributeError, TypeError):   # another pebble: its own default
        pass


def budget(timeout: float | None) -> float | None:
    """The in-worker deadline for one answer: a little less than the sandbox's wall-clock limit, so
    a slow check ends with its own reason (``unchecked``) before the worker has to be killed."""
    if not timeout:
        return None
    return max(0.5 * timeout, min(timeout - 1.0, 0.85 * timeout))


def _task(slot_id: str, latex: str, seed: int, symbolic_seconds: float, diagnose: bool = True,
          seconds: float | None = None, conventions: tuple = ()) -> dict:
    from .core import grade_in_process
    started = time.perf_counter()
    try:
        return grade_in_process(slot_id, latex, seed=seed, symbolic_seconds=symbolic_seconds,
                                diagnose=diagnose, seconds=seconds, conventions=conventions).as_dict()
    except MemoryError:
        return _unchecked(slot_id, "the check ran out of memory", time.perf_counter() - started).as_dict()
    except RecursionError:
        return _unchecked(slot_id, "the answer is nested too deeply to check", time.perf_counter() - started).as_dict()
    except Exception as exc:   # a bug in a checker: this answer is unchecked, the run goes on
        return _unchecked(slot_id, f"the grader failed on this answer ({type(exc).__name__}); it is left for a "
                          "person to review", time.perf_counter() - started).as_dict()


def _unchecked(slot_id: str, why: str, seconds: float) -> AnswerResult:
    return AnswerResult(slot_id, "unchecked", "none", why, f"not checked: {why}", seconds=seconds)


def cache_key(slot_id: str, latex) -> tuple:
    if not isinstance(latex, str):
        return (slot_id, repr(type(latex)))
    if len(latex) > MAX_KEY_CHARS:
        import hashlib
        return (slot_id, "sha256:" + hashlib.sha256(latex.encode("utf-8", "surrogatepass")).hexdigest())
    return (slot_id, " ".join(latex.split()))


class Grader:
    """A pool of sandboxed workers and a cache keyed by (slot, normalised answer)."""

    def __init__(self, jobs: int = 1, timeout: float = TIMEOUT, memory_mb: int = MEMORY_MB,
                 symbolic_seconds: float = 2.0, seed: int = 0, diagnose: bool = True, warm=None):
        """``symbolic_seconds`` bounds the proof attempt after numerics agree (the verdict does not
        depend on it, only whether the evidence is a proof); ``diagnose=False`` skips naming
        the mistake of a wrong answer. ``warm``: the slot ids whose questions and scopes are
        prepared before the workers fork (default: every slot; ``()`` for none: a worker then
        loads a question on first use)."""
        if warm is None:
            registry.load()
        _warm(warm)                          # forked workers inherit the parser and the scopes
        self.jobs, self.timeout, self.seed, self.diagnose = jobs, timeout, seed, diagnose
        self.symbolic_seconds = symbolic_seconds
        self.cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        _poll_faster()
        self.pool = ProcessPool(max_workers=jobs, initializer=_limit, initargs=(memory_mb,),
                                context=multiprocessing.get_context("fork"))

    def close(self) -> None:
        self.pool.stop()
        self.pool.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def grade_many(self, items) -> list[AnswerResult]:
        """Grade (slot, latex) pairs; results in input order. Unknown slots raise KeyError."""
        items = list(items)
        for slot_id, _ in items:
            registry.get_slot(slot_id)
        results: list[AnswerResult | None] = [None] * len(items)
        pending = {}
        for i, (slot_id, latex) in enumerate(items):
            key = cache_key(slot_id, latex)
            with self._lock:
                hit = self.cache.get(key)
            if hit is not None:
                results[i] = AnswerResult.from_dict(hit)
                continue
            if key in pending:
                pending[key][1].append(i)
                continue
            started = time.perf_counter()
            future = self.pool.schedule(_task, args=(slot_id, latex, self.seed, self.symbolic_seconds,
                                                     self.diagnose, budget(self.timeout)), timeout=self.timeout)
            pending[key] = (future, [i], started, slot_id)
        for key, (future, where, started, slot_id) in pending.items():
            result, cacheable = self._collect(future, slot_id, started)
            if cacheable:
                with self._lock:
                    self.cache[key] = result.as_dict()
                    while len(self.cache) > CACHE_SIZE:
                        self.cache.popitem(last=False)
            for i in where:
                results[i] = result
        return results  # type: ignore[return-value]

    def _collect(self, future, slot_id, started) -> tuple[AnswerResult, bool]:
        try:
            return AnswerResult.from_dict(future.result()), True
        except FutureTimeout:
            return _unchecked(slot_id, f"the check did not finish within {self.timeout:g} s; "
                              "its worker was stopped and replaced", time.perf_counter() - started), False
        except ProcessExpired as exc:
            return _unchecked(slot_id, f"the check's worker died (exit code {exc.exitcode}; memory "
                              "limit or crash) and was replaced", time.perf_counter() - started), False
        except Exception as exc:  # a bug in a checker: reported, never a crash of the caller
            return _unchecked(slot_id, f"internal error while checking ({type(exc).__name__})",
                              time.perf_counter() - started), False

    def grade(self, slot_id: str, latex: str) -> AnswerResult:
        return self.grade_many([(slot_id, latex)])[0]

    def submit(self, fn, *args, timeout: float | None = None):
        """Run ``fn(*args)`` in one of this grader's sandboxed workers (same memory cap, no file
        writes, the registry and every slot's scope already warm) and return its future.

        ``fn`` and ``args`` must be picklable (a module-level function). ``timeout`` defaults to the
        grader's; past it the worker is stopped and replaced and ``future.result()`` raises
        ``concurrent.futures.TimeoutError``; a worker that dies raises ``pebble.ProcessExpired``.
        Results are not cached (only ``grade_many`` caches)."""
        return self.pool.schedule(fn, args=args, timeout=self.timeout if timeout is None else timeout)


_SHARED: dict[tuple, Grader] = {}


def shared(jobs: int = 1, timeout: float = TIMEOUT, warm=None) -> Grader:
    """A process-wide grader (one per (jobs, timeout)), closed at exit; ``warm`` (see ``Grader``)
    applies when this call makes it. Its workers are forked from this process, so a slot
    registered after they started (a question file loaded later) makes a new grader."""
    key = (jobs, timeout, registry.registered_count())
    for stale in [k for k in _SHARED if k[:2] == key[:2] and k != key]:
        _SHARED.pop(stale).close()
    if key not in _SHARED:
        _SHARED[key] = Grader(jobs=jobs, timeout=timeout, warm=warm)
    return _SHARED[key]


@atexit.register
def _close_all() -> None:
    for g in _SHARED.values():
        try:
            g.close()
        except Exception:
            pass
