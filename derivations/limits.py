"""Wall-clock bounds for checks: a check that runs out of time is unchecked, never a hang."""
from __future__ import annotations

import signal
import time
import threading
from contextlib import contextmanager


class CheckTimeout(BaseException):
    """Raised inside a check whose time budget ran out. A BaseException, so that SymPy's
    internal `except Exception` blocks cannot swallow it."""


@contextmanager
def time_limit(seconds: float | None):
    """Raise ``CheckTimeout`` in this block after ``seconds`` (main thread; elsewhere no limit).

    SymPy is pure Python, so SIGALRM interrupts it between bytecodes. Nested limits keep the
    tighter outer deadline.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise CheckTimeout(f"exceeded {seconds:g} s")

    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    previous = signal.signal(signal.SIGALRM, _raise)
    budget = min(seconds, outer_left) if outer_left else seconds
    signal.setitimer(signal.ITIMER_REAL, budget)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:  # restore what is left of the enclosing deadline
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))
