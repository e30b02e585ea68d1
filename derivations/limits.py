"""Wall-clock bounds for checks: a check that runs out of time is unchecked, never a hang."""
from __future__ import annotations

import signal
import time
import threading
from contextlib import contextmanager


class CheckTimeout(BaseException):
    """Raised inside a check whose time budget ran out. A BaseException, so that SymPy's
    internal `except Exception` blocks cannot swallow it."""


REPEAT = 0.25     # after the deadline, the alarm fires again this often until the block is left
_FIRED = 0        # how many times a wall-clock limit has fired in this process (see ``fired``)
_FIRED_CPU = 0    # how many times a CPU-time limit has fired


def fired() -> int:
    """How many times a wall-clock time limit has fired in this process: an outcome reached while
    this count moved depended on the machine's load (the proof cache reads it). A CPU-time limit
    (``cpu=True``) gives the same work on a loaded machine as on an idle one and is not counted."""
    return _FIRED


def fired_cpu() -> int:
    return _FIRED_CPU


@contextmanager
def time_limit(seconds: float | None, cpu: bool = False):
    """Raise ``CheckTimeout`` in this block after ``seconds`` (main thread; elsewhere no limit).

    ``cpu``: the budget is this process's CPU time (ITIMER_PROF, SIGPROF), not the wall clock, so
    an attempt gets as much work done on a loaded machine as on an idle one and its outcome does
    not depend on the load. For the engine's inner attempts only: a step's own limit stays
    wall-clock, which also stops a block that waits without computing.

    SymPy is pure Python, so SIGALRM interrupts it between bytecodes. A CheckTimeout raised where
    Python ignores exceptions (a weakref or GC callback, a ``__del__``) would be lost, so after
    the deadline the alarm repeats every REPEAT seconds until the block is left. Nested limits keep
    the tighter outer deadline.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    which, signum_, clock = ((signal.ITIMER_PROF, signal.SIGPROF, time.process_time) if cpu
                             else (signal.ITIMER_REAL, signal.SIGALRM, time.monotonic))

    def _raise(signum, frame):
        global _FIRED, _FIRED_CPU
        if cpu:
            _FIRED_CPU += 1
        else:
            _FIRED += 1
        raise CheckTimeout(f"exceeded {seconds:g} s" + (" of CPU time" if cpu else ""))

    outer_left, outer_repeat = signal.getitimer(which)
    previous = signal.signal(signum_, _raise)
    budget = min(seconds, outer_left) if outer_left else seconds
    signal.setitimer(which, budget, REPEAT)
    started = clock()
    try:
        yield
    finally:
        while True:              # a repeat may land on this very call: disarm until it sticks
            try:
                signal.setitimer(which, 0)
                break
            except CheckTimeout:
                continue
        signal.signal(signum_, previous)
        if outer_left:  # restore what is left of the enclosing deadline
            left = outer_left - (clock() - started)
            signal.setitimer(which, max(left, 1e-3), outer_repeat)
