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
_FIRED = 0        # how many times a limit has fired in this process (see ``fired``)


def fired() -> int:
    """How many times a time limit has fired in this process: an outcome reached while this
    count moved depended on the machine's speed and load (the proof cache reads it)."""
    return _FIRED


@contextmanager
def time_limit(seconds: float | None):
    """Raise ``CheckTimeout`` in this block after ``seconds`` (main thread; elsewhere no limit).

    SymPy is pure Python, so SIGALRM interrupts it between bytecodes. A CheckTimeout raised where
    Python ignores exceptions (a weakref or GC callback, a ``__del__``) would be lost, so after
    the deadline the alarm repeats every REPEAT seconds until the block is left. Nested limits keep
    the tighter outer deadline.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        global _FIRED
        _FIRED += 1
        raise CheckTimeout(f"exceeded {seconds:g} s")

    outer_left, outer_repeat = signal.getitimer(signal.ITIMER_REAL)
    previous = signal.signal(signal.SIGALRM, _raise)
    budget = min(seconds, outer_left) if outer_left else seconds
    signal.setitimer(signal.ITIMER_REAL, budget, REPEAT)
    started = time.monotonic()
    try:
        yield
    finally:
        while True:              # a repeat may land on this very call: disarm until it sticks
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except CheckTimeout:
                continue
        signal.signal(signal.SIGALRM, previous)
        if outer_left:  # restore what is left of the enclosing deadline
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_repeat)
