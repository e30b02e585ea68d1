"""``derivcheck grade``: read the class, grade what is missing, write every output, summarise.

The order of work: sheets are read (problems noted, nothing parsed; a rubric, a roster or a
README in the folder is not a sheet); a student's recorded result for an answer is taken as it
is while the sheet, the grader and the slot's reference are the ones it was decided under
(``versions``), so a change regrades exactly the answers that depend on it (``--regrade SLOT``
forces a slot); every other answer becomes a task, identical ones merged and known ones taken
from the answer cache; the rest run on the executor, and each student's file is written the
moment their last answer is decided. A person's decisions (``decisions``) are applied to the
rows last. Outputs are then written from the result files alone, so an interrupted run
resumed later writes the same bytes as one that was never interrupted.
"""
from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import registry
from . import outputs
from .decisions import DecisionStore, apply as apply_decisions, read_decisions
from .journal import Busy, Journal
from .rubric import Rubric, RubricError, load_rubric
from .sheets import read_class
from .tasks import ProcessExecutor, Task
from . import versions

DEFAULT_TIMEOUT = 20.0


def _strip(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "seconds"}


class ExecutorUnavailable(RuntimeError):
    """The executor could not start (no dask installed, scheduler unreachable)."""


def make_executor(kind: str, jobs: int, timeout: float, scheduler: str | None):
    if kind == "processes":
        return ProcessExecutor(jobs=jobs, timeout=timeout)
    if kind == "dask":
        from .dask_executor import DaskExecutor
        try:
            return DaskExecutor(scheduler, timeout=timeout)
        except (RuntimeError, OSError, ValueError) as exc:   # distributed raises OSError on connect
            raise ExecutorUnavailable(f"cannot use the Dask scheduler at {scheduler}: {exc}") from exc
    raise ValueError(f"unknown executor {kind!r} (processes or dask)")


class Run:
    """One grading run: what was read, what was done, and the counts for the summary."""

    def __init__(self, sheets, out, rubric: Rubric, jobs: int, timeout: float, executor: str,
                 scheduler: str | None, console: Console, regrade=(), not_sheets=()):
        self.paths, self.out, self.rubric = sheets, Path(out), rubric
        self.jobs, self.timeout, self.executor, self.scheduler = jobs, timeout, executor, scheduler
        self.console = console
        self.stats = Counter()
        self.regrade = set(regrade)
        self.not_sheets = [p for p in not_sheets if p]
        self.why: dict[str, Counter] = defaultdict(Counter)     # reason -> slot -> answers regraded
        self.versions: dict[str, dict] = {}                     # student -> result key -> versions

    def _current(self, slot: str) -> dict:
        return {"grader": self.journal.fingerprint, "reference": versions.reference_version(slot),
                "rubric": versions.rubric_version(self.rubric, slot)}

    def grade(self):
        registry.load()
        sheets, problems = read_class(self.paths, registry.slots(), exclude=[self.out, *self.not_sheets])
        journal = self.journal = Journal(self.out)
        journal.lock()
        journal.sweep()
        results: dict[str, dict] = {}
        todo, known = [], {}
        for sheet in sheets:
            entry = journal.load(sheet.student, sheet.content_hash())
            if entry is None:
                todo.append(sheet)
                continue
            keep, rescored = {}, False
            for slot, kind, _ in sheet.items():
                rk = sheet.result_key(slot, kind)
                was, now = entry["versions"].get(rk) or {}, self._current(slot)
                if rk not in entry["results"]:
                    continue
                if slot in self.regrade:
                    self.why["forced by --regrade"][slot] += 1
                elif was.get("grader") != now["grader"]:
                    self.why["the grader changed"][slot] += 1
                elif was.get("reference") != now["reference"]:
                    self.why["the slot's reference changed"][slot] += 1
                else:
                    keep[rk] = entry["results"][rk]
                    if was.get("rubric") != now["rubric"]:
                        self.why["the rubric entry changed (re-scored, not re-checked)"][slot] += 1
                        rescored = True
            if len(keep) == len(sheet.items()):
                results[sheet.student] = entry["results"]
                self.versions[sheet.student] = {rk: self._current(rk.split("#")[0]) for rk in keep}
                self.stats["students from earlier runs"] += 1
                if rescored:
                    journal.record(sheet.student, sheet.content_hash(), entry["results"],
                                   self.versions[sheet.student])
            else:
                known[sheet.student] = keep
                todo.append(sheet)
        self._grade_missing(todo, journal, results, known)
        return sheets, problems, results

    def _grade_missing(self, todo, journal: Journal, results, known) -> None:
        cache = journal.read_cache()
        decided: dict[str, dict] = {}
        need: dict[str, Task] = {}
        users: dict[str, list] = defaultdict(list)
        waiting: dict[str, set] = {}
        for sheet in todo:
            keys = set()
            mine = known.get(sheet.student, {})
            for slot, kind, payload in sheet.items():
                if sheet.result_key(slot, kind) in mine:
                    self.stats["answers kept"] += 1
                    continue
                task = Task(slot, kind, payload)
                keys.add(task.key)
                users[task.key].append(sheet)
                self.stats["answers graded"] += 1
                if task.key in cache and slot not in self.regrade:
                    decided[task.key] = cache[task.key]
                elif task.key not in need:
                    need[task.key] = task
            waiting[sheet.student] = {k for k in keys if k not in decided}
        self.stats["answers from the cache"] = sum(len(users[k]) for k in decided)
        self.stats["distinct answers checked"] = len(need)

        def finish(sheet):
            mine, kept = {}, known.get(sheet.student, {})
            for slot, kind, payload in sheet.items():
                rk = sheet.result_key(slot, kind)
                mine[rk] = kept[rk] if rk in kept else _strip(decided[Task(slot, kind, payload).key])
            versions = {sheet.result_key(slot, kind): self._current(slot) for slot, kind, _ in sheet.items()}
            self.versions[sheet.student] = versions
            journal.record(sheet.student, sheet.content_hash(), mine, versions)
            # the same canonical form (sorted keys) as a result read back from the journal, so a
            # resumed run writes the same bytes as an uninterrupted one
            results[sheet.student] = json.loads(json.dumps(mine, sort_keys=True))

        with self._progress(len(todo)) as (progress, bar):
            for sheet in todo:
                if not waiting[sheet.student]:
                    finish(sheet)
                    progress.advance(bar)
            if not need:
                return
            writer = journal.open_cache()
            ex = make_executor(self.executor, self.jobs, self.timeout, self.scheduler)
            self.stats["workers"] = ex.workers
            try:
                for task, result, cacheable in ex.map_unordered(need.values()):
                    decided[task.key] = result
                    if cacheable:
                        writer.add(task.key, task.slot, result)
                    else:
                        self.stats["time-outs or failed workers"] += 1
                    for sheet in users[task.key]:
                        left = waiting[sheet.student]
                        left.discard(task.key)
                        if not left and sheet.student not in results:
                            finish(sheet)
                            progress.advance(bar)
            finally:
                ex.close()
                writer.close()

    def _progress(self, total):
        console = Console(stderr=True)    # progress on stderr: it stays visible under `| tee`

        class _Ctx:
            def __enter__(ctx):
                ctx.p = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("students"), TimeElapsedColumn(), console=console,
                                 disable=not console.is_terminal, transient=False)
                ctx.p.__enter__()
                return ctx.p, ctx.p.add_task("grading", total=total)

            def __exit__(ctx, *exc):
                return ctx.p.__exit__(*exc)
        return _Ctx()


def answer_id(slot: str, kind: str, payload) -> str:
    """The answer a person's decision is about: a hash of the normalised answer, starting with a
    letter so that a spreadsheet never reads it as a number."""
    return "a" + Task(slot, kind, payload).key[:15]


def build_rows(sheets, problems, results, rubric: Rubric) -> list[outputs.Row]:
    """One row per student and slot of the assignment: the rubric's listed slots when it lists
    any (then a slot only some students chose to answer is not "missing" for the others), else
    every slot anyone in the class answered; plus each student's own answers and problems."""
    known = registry.slots()
    assigned = set(rubric.points)
    slots = set(assigned)
    for sheet in sheets:
        slots |= set(sheet.answers) | set(sheet.chains)
    slot_problems, lost = {}, {}
    for p in problems:
        if p.student and p.slot in known:
            slots.add(p.slot)
            slot_problems.setdefault((p.student, p.slot), p)
        elif p.student and p.lost:
            lost.setdefault(p.student, p)
    rows = []
    for sheet in sorted(sheets, key=lambda s: s.student):
        mine = results.get(sheet.student, {})
        own = set(sheet.answers) | set(sheet.chains) | {s for (who, s) in slot_problems if who == sheet.student}
        for slot in sorted(assigned | own if assigned else slots):
            full = rubric.max_points(slot)
            both = slot in sheet.answers and slot in sheet.chains
            graded = [(kind, table[slot]) for kind, table in (("answer", sheet.answers), ("chain", sheet.chains))
                      if slot in table and sheet.result_key(slot, kind) in mine]
            if graded:
                # an answer and a chain for one slot: the answer is graded as the final result and
                # earns the rubric's final share, the chain as its derivation and earns the rest
                for kind, answer in graded:
                    res = mine[sheet.result_key(slot, kind)]
                    part = ("final" if kind == "answer" else "derivation") if both else "whole"
                    payload = answer if kind == "answer" else tuple(answer)
                    rows.append(outputs.Row(sheet.student, slot, kind, res["verdict"], rubric.score(slot, res, part),
                                            rubric.max_points(slot, part), res, answer, tuple(sheet.sources),
                                            part, answer_id(slot, kind, payload),
                                            visibility=rubric.visibility_of(slot)))
            elif (sheet.student, slot) in slot_problems:
                p = slot_problems[(sheet.student, slot)]
                rows.append(outputs.Row(sheet.student, slot, "problem", "invalid", 0.0, full,
                                        {"message": f"not graded: {p.reason}"}, None, (p.source,),
                                        visibility=rubric.visibility_of(slot)))
            elif sheet.student in lost:
                p = lost[sheet.student]
                rows.append(outputs.Row(sheet.student, slot, "missing", "missing", 0.0, full,
                                        {"message": f"no answer read: {p.source}: {p.reason}"}, None, (p.source,),
                                        visibility=rubric.visibility_of(slot)))
            else:
                rows.append(outputs.Row(sheet.student, slot, "missing", "missing", 0.0, full,
                                        {"message": "no answer"}, None, tuple(sheet.sources),
                                        visibility=rubric.visibility_of(slot)))
    return rows


def summary(console: Console, rows, problems, stats: Counter, seconds: float, out: Path) -> None:
    students = {r.student for r in rows}
    verdicts = Counter(r.verdict for r in rows)
    # every row that is not "missing" is one answer handed in, and has exactly one verdict: the
    # answer count is the sum of the verdicts shown next to it (missing ones are listed apart)
    answers = sum(1 for r in rows if r.kind != "missing")
    not_graded = sum(1 for r in rows if r.kind == "problem")
    console.print(f"[bold]derivcheck grade[/]: {len(students)} students, {answers} answers "
                  f"({stats.get('answers graded', 0)} graded this run, {stats.get('distinct answers checked', 0)} "
                  f"distinct ones checked, {stats.get('answers from the cache', 0)} from the cache; "
                  f"{stats.get('students from earlier runs', 0)} students from earlier runs"
                  + (f"; {not_graded} not graded because of a sheet problem, counted as invalid" if not_graded else "")
                  + f") in {seconds:.1f} s")
    order = ("correct", "wrong", "invalid", "unchecked", "missing")
    console.print("verdicts: " + ", ".join(f"{v} {verdicts[v]}" for v in order if verdicts[v]))
    review = outputs.review_entries(rows, problems)
    console.print(f"for review: {len(review)} entries in {out / 'review.csv'}"
                  + (f" ({len(problems)} sheet problems)" if problems else ""))
    mistakes: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        if r.verdict == "wrong":
            mistakes[r.slot][r.mistake or "unnamed"] += 1
    if mistakes:
        console.print("most common mistakes:")
        ranked = sorted(mistakes.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        for slot, c in ranked:
            top = ", ".join(f"{m} x{n}" for m, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
            console.print(f"  {slot}: {top}")
    if stats.get("time-outs or failed workers"):
        console.print(f"[yellow]{stats['time-outs or failed workers']} answers timed out or lost their "
                      "worker; they are unchecked and listed for review[/]")


def regrade_report(why: dict) -> list[str]:
    """One line per reason a recorded result was not reused: how many answers, which slots."""
    out = []
    for reason, slots in sorted(why.items()):
        n = sum(slots.values())
        shown = ", ".join(f"{s} x{k}" for s, k in sorted(slots.items())[:8]) + (", ..." if len(slots) > 8 else "")
        out.append(f"  {n} answer{'s' if n != 1 else ''}: {reason} ({shown})")
    return out


def grade_command(sheets, out, rubric=None, jobs: int = 2, timeout: float = DEFAULT_TIMEOUT,
                  executor: str = "processes", scheduler: str | None = None,
                  reveal_reference: bool = False, console: Console | None = None, feedback: str | None = None,
                  decisions=None, regrade=()) -> int:
    """Grade every sheet under ``sheets`` into ``out``; returns the exit status (0 ok, 2 usage)."""
    started = time.perf_counter()
    console = console or Console(highlight=False)
    registry.load()
    try:
        rub = load_rubric(rubric, registry.slots())
    except RubricError as exc:
        console.print(f"[red]the rubric is not valid:[/]\n{exc}", markup=True, highlight=False)
        return 2
    if executor not in ("processes", "dask"):
        console.print(f"[red]unknown executor {executor!r}[/]: processes or dask")
        return 2
    if executor == "dask" and not scheduler:
        console.print("[red]--executor dask needs --scheduler ADDRESS[/]")
        return 2
    if jobs < 1 or timeout <= 0:
        console.print("[red]--jobs must be >= 1 and --timeout > 0[/]")
        return 2
    mode = feedback or ("full" if reveal_reference else "hints")
    if mode not in outputs.FEEDBACK_MODES:
        console.print(f"[red]--feedback must be one of {', '.join(outputs.FEEDBACK_MODES)}[/]")
        return 2
    if mode == "full" and not reveal_reference:
        console.print("[red]--feedback full shows the reference: it needs --reveal-reference[/]")
        return 2
    if reveal_reference and mode != "full":
        console.print(f"[red]--reveal-reference shows the reference, which --feedback {mode} never does: "
                      "use --feedback full[/]")
        return 2
    unknown = [s for s in regrade if s not in registry.slots()]
    if unknown:
        import difflib
        hints = [f"{s}" + (f" (did you mean {', '.join(difflib.get_close_matches(s, list(registry.slots()), n=2))}?)"
                           if difflib.get_close_matches(s, list(registry.slots()), n=2) else "") for s in unknown]
        console.print(f"[red]--regrade: unknown slot {'; '.join(hints)}[/]", highlight=False)
        return 2
    if decisions is not None and not Path(decisions).is_file():
        console.print(f"[red]--decisions: no such file {decisions}[/]", highlight=False)
        return 2
    new_decisions, decision_problems = read_decisions(decisions) if decisions is not None else ([], [])
    run = Run(list(sheets), out, rub, jobs, timeout, executor, scheduler, console, regrade,
              not_sheets=[rubric, decisions])
    try:
        graded, problems, results = run.grade()
        if not graded and not problems:
            console.print("[red]no answer sheets found[/] (.yaml, .yml, .json, .tex, .csv files or folders)")
            return 2
        rows = build_rows(graded, problems, results, rub)
        for r in rows:
            if r.kind in ("answer", "chain"):
                key = graded_key(r)
                r.versions = run.versions.get(r.student, {}).get(key)
        store = DecisionStore(Path(out) / ".derivcheck")
        try:
            more, notes, applied = apply_decisions(rows, store, new_decisions)
        finally:
            store.close()
        decision_problems += more
        outputs.write_all(Path(out), rows, problems, reveal_reference, mode)
    except (ExecutorUnavailable, Busy) as exc:
        console.print(f"[red]{exc}[/]", markup=True)
        return 2
    finally:
        if getattr(run, "journal", None) is not None:
            run.journal.unlock()
    summary(console, rows, problems, run.stats, time.perf_counter() - started, Path(out))
    if not rub.given:
        assigned = sorted({r.slot for r in rows})
        console.print(f"[yellow]no rubric: the assignment is inferred from the class[/] (every slot anyone "
                      f"answered, {len(assigned)} slots); a slot a student did not answer counts as missing. "
                      "Give --rubric to list the assignment.", highlight=False)
    if run.why:
        n = sum(sum(c.values()) for c in run.why.values())
        console.print(f"regraded {n} recorded answer{'s' if n != 1 else ''} whose versions changed:", highlight=False)
        for line in regrade_report(run.why):
            console.print(line, highlight=False, markup=False)
    if applied or notes or decision_problems or new_decisions:
        console.print(f"decisions: {applied} applied", highlight=False)
    for line in notes:
        console.print(f"  {line}", highlight=False, markup=False)
    for line in decision_problems:
        console.print(f"  [red]not applied[/] {escape(line)}", highlight=False)
    return 0


def graded_key(r) -> str:
    """The result key of a graded row (``SLOT#chain`` for a chain beside an answer)."""
    from .sheets.model import chain_key
    return chain_key(r.slot) if r.part == "derivation" else r.slot
