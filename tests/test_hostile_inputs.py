"""Hostile answers, through the sandbox: each ends in a verdict within its limit, writes no
file, runs no code and crashes nothing; a runaway check is stopped and its worker replaced."""
from __future__ import annotations

import os
import time

import pytest

from derivations.grading.sandbox import Grader

TIMEOUT = 20.0      # generous: the verdicts below must not depend on how loaded the machine is


@pytest.fixture(scope="module")
def grader():
    with Grader(jobs=2, timeout=TIMEOUT) as g:
        yield g


def hostile(marker: str) -> list[str]:
    return [
        f"__import__('os').system('touch {marker}')",
        f"eval(\"open('{marker}', 'w')\")",
        "exec('import os')", "lambda: 0", "().__class__.__bases__[0].__subclasses__()",
        rf"\input{{/etc/passwd}}", rf"\include{{{marker}}}", rf"\write18{{touch {marker}}}",
        rf"\immediate\write18{{touch {marker}}}", r"\def\x{\x}\x", r"\newcommand{\a}{\a}\a",
        r"\catcode`\^=13", r"10^{10^{10^{10}}}", r"t^{99999999}", r"t^{-99999999}",
        "(" * 5000 + "t" + ")" * 5000, r"\frac{" * 3000 + "t" + "}" * 3000,
        "{" * 29 + "t" + "}" * 29, "t" * (1 << 20), "t\x00", "\x00" * 100, "\x07\x1b[2J",
        "t\u200b\u200c\u200d\ufeff", "\u0442", "\uff14t", "\u06f4t", "\u0664t",
        r"\begin{verbatim}x\end{verbatim}", "$$" * 100, "\\" * 1000, "^" * 500, "_{" * 200,
        "|" * 301, r"\|" * 200, "\ud800", r"e^{e^{e^{e^{e^{e^{t}}}}}}",
        r"\begin{cases}" * 200, "&" * 500, r"\begin{cases} t & t > 0 " + r"\\ t & t > 0 " * 150 + r"\end{cases}",
        r"\max(t, 1)^{99999999}", r"\parallel" * 300, r"\|t\|_{" + "2" * 45 + "}",
    ]


def test_every_hostile_answer_gets_a_verdict_in_time(grader, tmp_path):
    marker = str(tmp_path / "pwned")
    answers = hostile(marker)
    started = time.perf_counter()
    results = grader.grade_many([("gan.square.f", a) for a in answers])
    elapsed = time.perf_counter() - started
    assert len(results) == len(answers)
    for a, r in zip(answers, results):
        assert r.verdict in ("invalid", "unchecked", "wrong"), (a[:40], r.verdict, r.message)
        assert r.seconds <= TIMEOUT + 2, (a[:40], r.seconds)
    assert elapsed < 2 * TIMEOUT + 20
    assert not os.path.exists(marker)
    assert os.listdir(tmp_path) == []
    by_text = dict(zip(answers, results))
    assert "control character" in by_text["t\x00"].message
    assert by_text[r"10^{10^{10^{10}}}"].verdict == "unchecked"
    assert by_text["t" * (1 << 20)].verdict == "unchecked"
    assert by_text["\uff14t"].verdict == "wrong"            # read as 4t, a real (wrong) answer


def test_runaway_check_is_stopped_and_worker_replaced():
    with Grader(jobs=1, timeout=1.0) as g:
        started = time.perf_counter()
        future = g.pool.schedule(time.sleep, args=(60,), timeout=g.timeout)   # a check that never ends
        r, cacheable = g._collect(future, "gan.square.f", started)
        assert r.verdict == "unchecked" and "did not finish" in r.message and not cacheable
        assert time.perf_counter() - started < 10
        assert g.grade("gan.square.f", r"-\frac{4t}{t+1}").verdict == "correct"   # a fresh worker


def test_towers_too_large_to_evaluate_are_unchecked_quickly(grader):
    for slot, answer in [("gan.square.f", r"e^{e^{e^{e^{e^{e^{t}}}}}}"),
                         ("gan.zero_one.dstar", r"e^{e^{e^{e^{e^{e^{p_d}}}}}}")]:
        r = grader.grade(slot, answer)
        assert r.verdict == "unchecked" and "did not finish" not in r.message, r.message   # decided, not killed


def _allocate(n_bytes: int) -> int:
    return len(bytearray(n_bytes))


def _write(path: str) -> str:
    with open(path, "w") as fh:
        fh.write("x" * 100)
    return "written"


def test_worker_limits_memory_and_file_writes(grader, tmp_path):
    with pytest.raises(MemoryError):
        grader.pool.schedule(_allocate, args=(8 * 2**30,)).result(timeout=30)
    with pytest.raises(OSError):
        grader.pool.schedule(_write, args=(str(tmp_path / "f"),)).result(timeout=30)
    assert not (tmp_path / "f").exists() or (tmp_path / "f").stat().st_size == 0


def test_cache_is_keyed_by_normalised_answer(grader):
    a = grader.grade("gan.square.f", r"\frac{-4t}{1+t}")
    b = grader.grade("gan.square.f", r"\frac{-4t}{1+t}   ")
    assert a.as_dict() == b.as_dict()
