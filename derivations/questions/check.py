"""``derivcheck question check``: is a question sound before students see it?

For every slot of every file: the reference reads in the declared names (``build``); the side
conditions admit points (the engine's own sampler) and the reference is finite and real at
each; every named mistake differs from the reference (the grader's ``decide``) and from every
other named mistake (the grader's equivalence engine) on the domain; every test gets its
expected verdict, and mistake name, from the sandboxed grader itself; and the mechanical
mutations of the reference are sorted into those the slot tells apart, those equivalent to the
reference on the domain (shown: often a domain declared too narrow or too wide) and those
undecided. Any failure carries its file and line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..evidence import Status
from .build import QuestionSlot
from .source import QuestionError

POINTS = 24


@dataclass
class Failure:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass
class SlotReport:
    slot: str
    points: int = 0
    mistakes: int = 0
    mistakes_ok: int = 0
    tests: int = 0
    tests_passed: int = 0
    told_apart: list = field(default_factory=list)      # (tag, description)
    equivalent: list = field(default_factory=list)      # (tag, description, evidence detail)
    undecided: list = field(default_factory=list)       # (tag, description, why)


@dataclass
class Report:
    path: str
    question: str = ""
    title: str = ""
    failures: list = field(default_factory=list)
    slots: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self, mutations: bool = True) -> list[str]:
        head = self.path + (f": {self.question}" if self.question else "") + (f" ({self.title})" if self.title else "")
        out = [f"{head}: {'ok' if self.ok else 'FAILED'}"]
        for s in self.slots:
            where = f"is finite at {s.points} admissible points" if s.points else \
                "evaluates with random matrices of the declared kinds"
            out.append(f"  {s.slot}: the reference reads and {where}; "
                       f"named mistakes {s.mistakes_ok}/{s.mistakes} differ from the reference and from each "
                       f"other; tests {s.tests_passed}/{s.tests} pass")
            if mutations:
                total = len(s.told_apart) + len(s.equivalent) + len(s.undecided)
                out.append(f"    mechanical mutations of the reference: {total}; told apart {len(s.told_apart)}, "
                           f"equivalent to the reference on the domain {len(s.equivalent)}, "
                           f"undecided {len(s.undecided)}")
                for tag, text, why in s.equivalent:
                    out.append(f"      equivalent ({tag}): {text} [{why}]")
                for tag, text, why in s.undecided:
                    out.append(f"      undecided ({tag}): {text} [{why}]")
        out += [f"  {f}" for f in self.failures]
        return out


def check_paths(paths, jobs: int = 1, timeout: float | None = None, seed: int = 0,
                mutations: bool = True) -> list[Report]:
    """Load every file (registering its slots), then check each; one report per file."""
    from . import load_file
    reports, loaded = [], []
    for path in paths:
        rep = Report(str(path))
        try:
            q = load_file(path)
        except QuestionError as exc:
            rep.failures.append(Failure(exc.path, exc.line, exc.message))
            reports.append(rep)
            continue
        rep.question, rep.title = q.id, q.title
        loaded.append((rep, q))
        reports.append(rep)
    if not loaded:
        return reports
    from ..grading.sandbox import TIMEOUT, Grader
    with Grader(jobs=jobs, timeout=timeout or TIMEOUT, seed=seed) as grader:   # forked after registration
        for rep, q in loaded:
            for s in q.slots:
                rep.slots.append(check_slot(s, rep.failures, grader, seed, mutations))
    return reports


def _expanded(expr, slot):
    from ..grading.core import expand
    return expand(expr, slot.id)


def _finite_real(value) -> bool:
    if value is None:
        return False
    re_, im_ = value.as_real_imag()
    try:
        return abs(im_) <= sp.Float("1e-30") * max(1, abs(re_))
    except TypeError:
        return False


def check_slot(slot: QuestionSlot, failures: list, grader, seed: int = 0, mutations: bool = True) -> SlotReport:
    from ..sampling import evaluate, points, show, unknowns
    rep = SlotReport(slot.id)
    path = slot.path

    def fail(line, message):
        failures.append(Failure(path, line, f"{slot.id}: {message}"))

    if slot.kind == "matrix":
        return _check_matrix_slot(slot, rep, fail, grader, seed, mutations)
    # 1. admissible points exist, and the reference is finite and real at each
    reference = _expanded(slot.reference, slot)
    atoms = list(dict.fromkeys([*slot.symbols, *unknowns(reference)]))
    pts = points(atoms, slot.conditions, n=POINTS, seed=seed)
    rep.points = len(pts)
    cline = slot.lines.get("conditions", slot.line)
    if not pts:
        fail(cline, "the side conditions cannot be satisfied: no admissible point was found in the declared "
             "domains (the conditions contradict each other or the domains)")
        return rep
    if len(pts) < 20:
        fail(cline, f"only {len(pts)} admissible points were found (20 are needed for numeric evidence): the side "
             "conditions leave almost no room in the declared domains")
    for p in pts:
        if not _finite_real(evaluate(reference, p)):
            fail(slot.lines.get("reference", slot.line), f"the reference is not finite and real at the admissible "
                 f"point {show(p)}")
            break

    # 2. named mistakes differ from the reference and from each other
    from ..grading.core import decide, integrated_part
    from ..grading.equivalence import compare
    rep.mistakes = len(slot.mistakes)
    bad = set()
    for m in slot.mistakes:
        ev = decide(slot, m.expr, seed)
        if ev.status is not Status.REFUTED:
            bad.add(m.name)
        if ev.status is Status.PROVED:
            fail(m.line, f"the mistake {m.name!r} is equivalent to the reference on the domain ({ev.kind.value}: "
                 f"{ev.detail}): an answer written this way is right")
        elif ev.status is not Status.REFUTED:
            fail(m.line, f"the mistake {m.name!r} cannot be told apart from the reference ({ev.detail})")
    integrated = integrated_part(slot)
    for i, a in enumerate(slot.mistakes):
        for b in slot.mistakes[i + 1:]:
            ev = compare(_expanded(a.expr, slot), _expanded(b.expr, slot), slot.conditions, integrated, seed)
            if ev.status is not Status.REFUTED:
                bad.add(b.name)
            if ev.status is Status.PROVED:
                fail(b.line, f"the mistakes {a.name!r} (line {a.line}) and {b.name!r} are the same on the domain "
                     f"({ev.detail})")
            elif ev.status is not Status.REFUTED:
                fail(b.line, f"the mistakes {a.name!r} (line {a.line}) and {b.name!r} cannot be told apart "
                     f"({ev.detail})")

    rep.mistakes_ok = rep.mistakes - len(bad)

    # 3. the tests, graded by the sandboxed grader itself
    _tests(slot, rep, fail, grader)

    # 4. which mechanical mutations of the reference the slot tells apart
    if mutations:
        _mutation_report(slot, rep, seed)
    return rep


def _tests(slot, rep: SlotReport, fail, grader) -> None:
    rep.tests = len(slot.tests)
    results = grader.grade_many([(slot.id, t.answer) for t in slot.tests]) if slot.tests else []
    for t, r in zip(slot.tests, results):
        ok = r.verdict == t.verdict and (t.mistake is None or r.mistake == t.mistake)
        if ok:
            rep.tests_passed += 1
            continue
        got = r.verdict + (f" (mistake {r.mistake})" if r.mistake else "")
        want = t.verdict + (f" (mistake {t.mistake})" if t.mistake else "")
        fail(t.line, f"the test {t.answer!r} expects {want}, the grader says {got}: {r.message}")


def _check_matrix_slot(slot, rep: SlotReport, fail, grader, seed: int, mutations: bool) -> SlotReport:
    """A slot of matrices: compared with random matrices of the declared kinds at sizes 1 to 5
    (``grading.matrices``); no side conditions, so no points to draw."""
    import dataclasses

    from ..grading import matrices
    from ..grading.core import decide

    def same(a, b):
        return matrices.compare(dataclasses.replace(slot, reference=a), b, seed)

    ev = same(slot.reference, slot.reference)
    if ev.status is not Status.PROVED:
        fail(slot.lines.get("reference", slot.line), f"the reference cannot be evaluated with random matrices of "
             f"the declared kinds ({ev.detail})")
        return rep
    rep.mistakes = len(slot.mistakes)
    bad = set()
    for m in slot.mistakes:
        ev = decide(slot, m.expr, seed)
        if ev.status is not Status.REFUTED:
            bad.add(m.name)
            fail(m.line, f"the mistake {m.name!r} " + ("is equivalent to the reference for the declared matrix "
                 f"kinds ({ev.detail}): an answer written this way is right" if ev.status is Status.PROVED else
                 f"cannot be told apart from the reference ({ev.detail})"))
    for i, a in enumerate(slot.mistakes):
        for b in slot.mistakes[i + 1:]:
            ev = same(a.expr, b.expr)
            if ev.status is not Status.REFUTED:
                bad.add(b.name)
                fail(b.line, f"the mistakes {a.name!r} (line {a.line}) and {b.name!r} "
                     + ("are the same" if ev.status is Status.PROVED else "cannot be told apart") + f" ({ev.detail})")
    rep.mistakes_ok = rep.mistakes - len(bad)
    _tests(slot, rep, fail, grader)
    if mutations:
        from ..grading import mutations as mut
        for m in mut.mutations(slot):
            if m.named:
                continue
            try:
                ev = same(slot.reference, m.expr)
            except Exception as exc:
                rep.undecided.append((m.tag, m.description, f"the comparison failed ({type(exc).__name__})"))
                continue
            _record(rep, m, ev)
    return rep


def _record(rep: SlotReport, m, ev) -> None:
    """A mutation's comparison with the reference, filed as told apart, equivalent or undecided."""
    if ev.status is Status.REFUTED:
        rep.told_apart.append((m.tag, m.description))
    elif ev.status is Status.PROVED:
        rep.equivalent.append((m.tag, m.description, f"{ev.kind.value}: {ev.detail}"))
    else:
        rep.undecided.append((m.tag, m.description, ev.detail))


def _mutation_report(slot, rep: SlotReport, seed: int) -> None:
    from ..grading import mutations as mut
    from ..grading.core import integrated_part
    from ..grading.equivalence import compare
    from ..grading.worlds import worlds
    from ..limits import CheckTimeout, time_limit
    integrated = integrated_part(slot)
    reference = _expanded(slot.reference, slot)
    cands = []
    for m in mut.mutations(slot):
        if m.named:
            continue
        try:
            cands.append((m, _expanded(m.expr, slot)))
        except Exception:
            continue
    try:
        ws = worlds([reference] + [c for _, c in cands], slot.conditions, n=mut.MATCH_WORLDS, seed=seed + 101,
                    integrated=integrated)
    except Exception:
        ws = []
    for m, c in cands:
        if ws and not mut._agrees(reference, c, ws, integrated):
            rep.told_apart.append((m.tag, m.description))
            continue
        try:
            with time_limit(10.0):
                ev = compare(c, reference, slot.conditions, integrated, seed)
        except CheckTimeout:
            rep.undecided.append((m.tag, m.description, "the comparison did not finish within 10 s"))
            continue
        except Exception as exc:
            rep.undecided.append((m.tag, m.description, f"the comparison failed ({type(exc).__name__})"))
            continue
        _record(rep, m, ev)
