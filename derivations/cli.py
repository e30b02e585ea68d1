"""The ``derivcheck`` command: a thin view over the library (verify, slots, and the rest)."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import registry
from .evidence import Status
from .grading.sandbox import TIMEOUT as GRADE_TIMEOUT

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
STYLE = {"proved": "green", "refuted": "red", "unchecked": "yellow", "error": "magenta"}


def _log(message) -> None:
    console.print(escape(str(message)), soft_wrap=True)


def progress_bar(**kw) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), transient=True, **kw)


def _check_selectors(selectors) -> None:
    unknown = registry.unknown_selectors(selectors)
    if unknown:
        hints = []
        for s in unknown:
            try:
                registry.get_slot(s)
            except KeyError as exc:
                hints.append(str(exc.args[0]))
        raise click.UsageError("; ".join(hints))


def write_json(path: str, payload: dict) -> None:
    """Write atomically, so a reader never sees half a file (the package's one helper)."""
    from .atomic import write_atomic
    write_atomic(Path(path), json.dumps(payload, indent=2, default=str))


MISSING_EXTRA = 3     # exit status when a command needs an optional part of the install (an extra)


def need(*extras: str, purpose: str) -> None:
    """Stop with a message naming the extra (``pip install "derivcheck[numeric]"``) when the
    modules of any of ``extras`` are not installed; see derivations/extras.py."""
    from .extras import MissingExtra, require

    try:
        require(*extras, purpose=purpose)
    except MissingExtra as exc:
        raise _missing(exc) from None


def _missing(exc) -> click.ClickException:
    error = click.ClickException(str(exc))
    error.exit_code = MISSING_EXTRA
    return error


class _Group(click.Group):
    """A command that reaches a module of an extra that is not installed stops with the
    extra's install line (exit status 3), not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            from .extras import from_import_error

            name = ctx.invoked_subcommand or "this command"
            missing = from_import_error(exc, f"derivcheck {name}")
            if missing is None:
                raise
            raise _missing(missing) from None

    # Subcommands registered by name (``add_lazy``) are imported only when they run or are listed,
    # so that a command such as ``answer`` does not pay for the others' imports at start-up.
    def add_lazy(self, name: str, module: str, attribute: str) -> None:
        self.__dict__.setdefault("lazy", {})[name] = (module, attribute)

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.__dict__.get("lazy", {})))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        lazy = self.__dict__.get("lazy", {})
        if command is None and name in lazy:
            import importlib
            module, attribute = lazy.pop(name)
            self.add_command(getattr(importlib.import_module(module), attribute), name)
            command = super().get_command(ctx, name)
        return command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Exit status 3: the command needs an extra that is not installed (the message names it).")
@click.version_option(package_name="derivcheck")
def main():
    """Machine-checks the mathematics of deep generative models and grades derivations of it."""


@main.command()
@click.argument("ids", nargs=-1)
@click.option("--numeric", is_flag=True, help="Also run the numeric cross-checks (Monte Carlo, quadrature).")
@click.option("--device", default="cpu", show_default=True, help="torch device for numeric checks: cpu or cuda.")
@click.option("--samples", type=click.IntRange(min=100), default=None,
              help="Monte Carlo samples per check (default: each check's own).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the full report as JSON.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds per step; a step that runs out is unchecked.")
@click.option("--jobs", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default="all cores",
              help="Worker processes for the symbolic checks.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary line.")
@click.option("--no-cache", is_flag=True,
              help="Check every step again: neither read nor write the proof cache (nor the start-up cache).")
def verify(ids, numeric, device, samples, json_path, timeout, jobs, quiet, no_cache):
    """Prove every step of the derivations IDS (slot ids or prefixes; default: all).

    Exit status 1 when any of derivcheck's own steps is refuted or errors, or a numeric check fails;
    3 with --numeric when the [numeric] extra (torch) is not installed.
    """
    from . import verify as engine
    from . import proof_cache

    if no_cache:
        os.environ["DERIVCHECK_NO_CACHE"] = "1"     # also the catalogue's start-up cache
    cache = proof_cache.default()
    started = time.perf_counter()
    report_key = proof_cache.report_key(ids, timeout) if cache is not None and not numeric else None
    stored = cache.get_report(report_key) if report_key else None
    if stored is not None:     # the same source, selectors and limit, every step reproducible: no catalogue load
        _replay_report(stored, json_path, quiet, started)
    _check_selectors(ids)
    if numeric:
        need("numeric", purpose="derivcheck verify --numeric")
    chosen = registry.select(ids)
    with progress_bar() as bar:
        task = bar.add_task("verify", total=len(chosen))
        results = engine.run_all(ids, timeout, jobs=jobs, cache=cache,
                                 progress=lambda d: bar.update(task, advance=1, description=f"verified {d.id}"))
    if not quiet:
        for r in results:
            _print_derivation(r)
    numeric_rows, numeric_failed = [], 0
    if numeric:
        numeric_rows, numeric_failed = _run_numeric(ids, device, samples, quiet)
    summary = engine.summary(results)
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    summary["numeric"] = {"checks": len(numeric_rows), "failed": numeric_failed}
    derivations = [r.as_dict() for r in results]
    if json_path:
        write_json(json_path, {"derivations": derivations, "numeric": numeric_rows, "summary": summary})
    if report_key and cache.run_complete:
        cache.put_report(report_key, {"derivations": derivations,
                                      "summary": {k: v for k, v in summary.items() if k != "wall_seconds"}})
    _print_summary(summary)
    sys.exit(1 if summary["failed"] or numeric_failed else 0)


def _replay_report(stored: dict, json_path, quiet: bool, started: float):
    """Print (and write) a stored report of an identical run, every step marked cached; exits."""
    derivations = stored["derivations"]
    for d in derivations:
        d["seconds"] = 0.0                  # nothing was checked in this run
        for s in d["steps"]:
            if not s.get("definition"):
                s["cached"] = True
        if not quiet:
            _print_derivation_dict(d)
    summary = dict(stored["summary"])
    summary["cached"] = sum(1 for d in derivations for s in d["steps"] if s.get("cached"))
    summary["seconds"] = 0.0
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    summary["numeric"] = {"checks": 0, "failed": 0}
    if json_path:
        write_json(json_path, {"derivations": derivations, "numeric": [], "summary": summary})
    _print_summary(summary)
    sys.exit(1 if summary["failed"] else 0)


def _print_derivation(r) -> None:
    _print_derivation_dict(r.as_dict())


def _print_derivation_dict(d: dict) -> None:
    """One derivation as ``DerivationResult.as_dict`` gives it (a live run or a stored report)."""
    colour = STYLE[d["status"]]
    console.print(f"[bold]{d['id']}[/bold]  {escape(d['title'])}  [{colour}]{d['status']}[/{colour}]"
                  f"  ({d['seconds']:.2f} s)")
    for s in d["steps"]:
        st = s["status"]
        tag = f"[{STYLE[st]}]{st:>9}[/{STYLE[st]}]"
        audit = f" [dim](claim from {s['audit']})[/dim]" if s.get("audit") else ""
        console.print(f"  {tag} [cyan]{s['evidence']['kind']:<15}[/cyan] {escape(s['claim_latex'])}{audit}",
                      soft_wrap=True)
        if s["why"]:
            console.print(f"            [dim]{escape(s['why'])}[/dim]", soft_wrap=True)
        if st != Status.PROVED.value or s.get("family"):
            console.print(f"            [dim]{escape(s['evidence']['detail'])}[/dim]", soft_wrap=True)
        if s.get("counterexample"):
            console.print(f"            counterexample: {escape(str(s['counterexample']))}", soft_wrap=True)


def _print_summary(summary: dict) -> None:
    steps = ", ".join(f"{k} {v}" for k, v in sorted(summary["steps"].items()))
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary["evidence"].items()))
    line = (f"{summary['derivations']} derivations, steps: {steps} (evidence: {kinds}) "
            f"in {summary['wall_seconds']:.1f} s ({summary['seconds']:.1f} s of checks)")
    if summary.get("cached"):
        line += f"; {summary['cached']} steps from the proof cache (--no-cache checks them again)"
    if summary["numeric"]["checks"]:
        line += f"; numeric: {summary['numeric']['checks']} measurements, {summary['numeric']['failed']} failed"
    console.print(line)
    for finding in summary["findings"]:
        console.print(f"[yellow]finding[/yellow]: refuted claim quoted from a source: {escape(finding)}",
                      soft_wrap=True)
    if summary["failed"]:
        console.print(f"[red]failed[/red]: {', '.join(summary['failed'])}")


def _run_numeric(ids, device, samples, quiet):
    from numeric_checks import core

    import torch
    try:
        torch.device(device)
    except RuntimeError:
        raise click.UsageError(f"--device {device!r} is not a torch device; use cpu or cuda") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise click.UsageError("--device cuda: no CUDA device is available here; use --device cpu")
    chosen = [c for slot_id, cs in sorted(core.checks().items()) if registry.matches(slot_id, ids) for c in cs]
    rows, failed = [], 0
    from .publish.tags import comparison

    table = Table("slot", "measurement", "what was compared", "z", "detects", "samples", "result", box=None)
    table.columns[2].overflow = "fold"
    with progress_bar() as bar:
        task = bar.add_task("numeric", total=len(chosen))
        for check in chosen:
            drawn = 0

            def show(n, check_id=check.id):
                nonlocal drawn
                drawn += n
                bar.update(task, description=f"numeric {check_id}: {drawn:,} samples drawn")
            bar.update(task, description=f"numeric {check.id}")
            with core.on_chunk(show):
                result = core.run_check(check, samples or core.DEFAULT_SAMPLES, device)
            for row, m in zip(result.rows(), result.measurements):
                rows.append(row)
                failed += not m.passed
                power = row.get("detectable_relative_error")
                table.add_row(check.id, escape(m.name), escape(comparison(row)),
                              f"{m.z:+.2f}" if m.kind == "monte-carlo" else m.kind,
                              f"{power:.1%}" if isinstance(power, (int, float)) else "one-sided", str(m.samples),
                              "[green]pass[/green]" if m.passed else "[red]FAIL[/red]")
            bar.advance(task)
    if not quiet and rows:
        console.print(table)
        console.print(f"Monte Carlo tolerance: {core.K_SE:.2f} standard errors "
                      f"(false-failure rate {core.FAILURE_RATE:g} per measurement); device {device}")
    return rows, failed


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.argument("ids", nargs=-1)
def slots(as_json, ids):
    """List every slot id with its reference in LaTeX, its symbols, their domains and side conditions."""
    from .slot_view import describe

    _check_selectors(ids)
    rows = [describe(s) for s in registry.slots().values() if registry.matches(s.id, ids)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("slot", "reference", "symbols", "conditions", box=None)
    for column in table.columns:
        column.overflow = "fold"                        # wrap long LaTeX, never cut it with an ellipsis
    for row in rows:
        symbols = ", ".join(f"{s['latex']} in {s['domain']}" for s in row["symbols"])
        table.add_row(row["id"], escape(row["reference_latex"] or row["statement"]), escape(symbols),
                      escape("; ".join(row["conditions"])))
    console.print(table)
    console.print(f"{len(rows)} slots")


# A LaTeX argument may start with '-' (e.g. '-\frac{4t}{t+1}'): read it as an argument, not an option.
LATEX_ARGS = {"ignore_unknown_options": True, "help_option_names": ["--help"]}  # no -h: "-\\alpha" holds an h


@main.command(context_settings=LATEX_ARGS)
@click.argument("slot_id", metavar="SLOT", required=False)
@click.argument("latex", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--jsonl", "jsonl", type=click.File("r", encoding="utf-8", lazy=False), default=None,
              metavar="FILE|-",
              help='Grade one {"slot": ..., "latex": ...} JSON object per line of FILE (- for stdin) and '
                   "write one JSON result per line, in order, as each is graded (without SLOT and LATEX).")
@click.option("--timeout", type=click.FloatRange(min=0.5), default=GRADE_TIMEOUT, show_default=True,
              help="Seconds for the check (wall clock, in a sandboxed worker).")
@click.option("--convention", "conventions", multiple=True, metavar="NAME=VALUE",
              help="Read the answer under a notation convention, e.g. alpha=ddim (the DDIM paper's alpha_t "
                   "is DDPM's cumulative abar_t).")
@click.option("--fail-on", "fail_on", metavar="VERDICTS", default="", callback=lambda ctx, param, value: _verdicts(value),
              help="Comma list of verdicts (wrong, invalid, unchecked, correct) that make the exit status 1, "
                   "e.g. --fail-on wrong,invalid,unchecked.")
def answer(slot_id, latex, as_json, jsonl, timeout, conventions, fail_on):
    """Grade one LaTeX answer to SLOT: correct, wrong (with the mistake named), invalid or unchecked.

    \b
    Exit status:
      0  graded (any verdict not listed in --fail-on)
      1  the verdict is one listed in --fail-on
      2  usage error, such as an unknown slot

    With --jsonl a line that is not a usable object gives {"line": n, "error": ...} and the rest go on;
    the exit status is 1 when any line's verdict is listed in --fail-on.
    """
    if jsonl is not None:
        sys.exit(_answer_jsonl(jsonl, slot_id, latex, timeout, conventions, fail_on))
    if slot_id is None or latex is None:
        raise click.UsageError("give SLOT and LATEX (or --jsonl FILE)")
    from .grading import grade_answer

    try:
        registry.get_slot(slot_id)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from None
    from .latex.scope import parse_conventions
    try:
        chosen = parse_conventions(conventions)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    result = grade_answer(slot_id, latex, timeout=timeout, conventions=chosen)
    d = result.as_dict()
    _print_answer(d, as_json)
    if d["verdict"] in fail_on:
        sys.exit(1)


def _answer_jsonl(stream, slot_id, latex, timeout, conventions, fail_on) -> int:
    from .grading.jsonl import grade_lines
    from .latex.scope import parse_conventions

    if slot_id is not None or latex is not None:
        raise click.UsageError("--jsonl reads the slots and answers from its file: give no SLOT or LATEX")
    try:
        chosen = parse_conventions(conventions)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    def write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()                  # streaming: each result as soon as it is graded
    counts = grade_lines(stream, write, timeout=timeout, conventions=chosen)
    return 1 if any(counts.get(v) for v in fail_on) else 0


VERDICTS = ("correct", "wrong", "invalid", "unchecked")


def _verdicts(value: str) -> frozenset[str]:
    chosen = {v.strip() for v in value.split(",") if v.strip()}
    unknown = sorted(chosen - set(VERDICTS))
    if unknown:
        raise click.BadParameter(f"unknown verdict {', '.join(map(repr, unknown))}; choose from {', '.join(VERDICTS)}",
                                 param_hint="--fail-on")
    return frozenset(chosen)


def _print_answer(d: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(d, indent=2, default=str))
        return
    colour = {"correct": "green", "wrong": "red", "invalid": "magenta", "unchecked": "yellow"}[d["verdict"]]
    console.print(f"[{colour}]{d['verdict']}[/{colour}]  {escape(d['message'] or '')}", soft_wrap=True)
    if d.get("parsed_latex"):
        console.print(f"  read as: {escape(d['parsed_latex'])}", soft_wrap=True)
    console.print(f"  evidence: {d['evidence']['kind']}: {escape(d['evidence']['detail'])}", soft_wrap=True)
    if d.get("mistake"):
        console.print(f"  mistake: {escape(str(d['mistake']))}", soft_wrap=True)
    if d.get("counterexample"):
        console.print(f"  counterexample: {escape(str(d['counterexample']))}", soft_wrap=True)


@main.command(context_settings=LATEX_ARGS)
@click.argument("loss")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Seconds for the analysis (in a sandboxed worker).")
def fdiv(loss, as_json, timeout):
    """Derive D*, f, convexity, monotonicity, the best risk and the named divergence of a
    margin loss given in LaTeX in \\alpha, e.g. 'e^{-2\\alpha}' or '\\max(0, 1-\\alpha)^2'."""
    from concurrent.futures import TimeoutError as FutureTimeout

    from pebble import ProcessExpired

    from .fdiv import analyse_latex
    from .fdiv_pointwise import FDivError, InvalidLoss
    from .grading.sandbox import Grader, budget
    from .latex import LatexError

    # the loss is untrusted text: it is read and analysed in a sandboxed worker (memory cap, no
    # file writes, killed past the timeout), never in this process
    with Grader(jobs=1, timeout=timeout) as sandbox:
        try:
            result = sandbox.submit(analyse_latex, loss, budget(timeout)).result()
        except LatexError as exc:
            raise click.UsageError(f"could not read the loss: {exc}") from None
        except InvalidLoss as exc:
            raise click.UsageError(f"not a usable margin loss: {exc}") from None
        except FDivError as exc:              # a usable loss the analysis cannot carry through
            raise click.ClickException(f"cannot analyse this loss: {exc}") from None
        except FutureTimeout:
            raise click.ClickException(f"the analysis did not finish within {timeout:g} s") from None
        except ProcessExpired:
            raise click.ClickException("the analysis ran out of memory or crashed (its sandboxed worker "
                                       "died)") from None
    if as_json:
        click.echo(json.dumps(result["json"], indent=2, default=str))
    else:
        console.print(escape(result["text"]), soft_wrap=True)


@main.command()
@click.argument("sheets", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for grades and feedback.")
@click.option("--rubric", type=click.Path(exists=True, dir_okay=False), help="Points per slot, partial credit (YAML).")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True, help="Worker processes.")
@click.option("--timeout", type=click.FloatRange(min=0.5), default=None, help="Seconds per answer.")
@click.option("--executor", type=click.Choice(["processes", "dask"]), default="processes", show_default=True)
@click.option("--scheduler", help="Dask scheduler address (with --executor dask).")
@click.option("--reveal-reference", is_flag=True, help="Show the reference answers in students' feedback.")
@click.option("--feedback", type=click.Choice(["verdict", "hints", "full"]), default=None,
              help="What feedback shows: verdict, hints (default: the mistake and failing step, never the fix), "
                   "full (needs --reveal-reference).")
@click.option("--decisions", type=click.Path(exists=True, dir_okay=False),
              help="review.csv with a person's decision column filled in (correct / wrong / points).")
@click.option("--regrade", multiple=True, metavar="SLOT", help="Grade this slot's answers again (repeatable).")
def grade(sheets, out, rubric, jobs, timeout, executor, scheduler, reveal_reference, feedback, decisions, regrade):
    """Grade a class: answer sheets (YAML/JSON, LaTeX, CSV; files or folders) into grades.csv,
    grades.jsonl, review.csv, Gradescope results and per-student feedback. Resumable."""
    from .classroom.runner import DEFAULT_TIMEOUT, grade_command

    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler is the address of a Dask scheduler: use it with --executor dask")
    if executor == "dask":
        need("dask", purpose="derivcheck grade --executor dask")

    sys.exit(grade_command(sheets, out, rubric, jobs, timeout or DEFAULT_TIMEOUT, executor, scheduler,
                           reveal_reference, console=console, feedback=feedback, decisions=decisions,
                           regrade=regrade))


@main.command()
@click.argument("ids", nargs=-1)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for derivcheck.tex and figures.")
@click.option("--pdf", is_flag=True, help="Compile the PDF (needs latexmk or pdflatex).")
@click.option("--numeric", is_flag=True, help="Run the numeric checks and include their table.")
@click.option("--samples", type=click.IntRange(min=100), default=None, help="Monte Carlo samples per check.")
@click.option("--device", default="cpu", show_default=True)
def latex(ids, out, pdf, numeric, samples, device):
    """Write LaTeX (and a PDF) of every derived result with its evidence, and plots of the checks."""
    from .publish.commands import latex_command

    _check_selectors(ids)
    need("publish", "numeric", purpose="derivcheck latex (its plots are drawn from the numeric checks)")
    sys.exit(latex_command(ids, out, pdf, numeric, samples=samples, device=device, log=_log))


@main.command()
@click.argument("grades_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--pdf", is_flag=True, help="Also write report.pdf (needs a TeX engine).")
@click.option("--html", is_flag=True, help="Also write report.html.")
def report(grades_dir, pdf, html):
    """The class report from a `derivcheck grade` output folder: verdicts per slot, score
    histogram, the most common mistakes with an example each, and the review queue."""
    from .publish.commands import report_command

    need("publish", purpose="derivcheck report (its score histogram is drawn with matplotlib)")
    sys.exit(report_command(grades_dir, pdf, html, log=_log))


# ---- subcommands defined in their own modules are registered below, one line each ----
main.add_command(__import__("derivations.serve.cli", fromlist=["serve"]).serve)  # serve (issue 17)
from .questions.commands import register as _register_questions; _register_questions(main)  # noqa: E402,E702
main.add_lazy("gradescope", "derivations.classroom.cli", "gradescope")  # issue 18 (imported when used)
main.add_lazy("export", "derivations.classroom.cli", "export")  # issue 18 (imported when used)


if __name__ == "__main__":
    main()
