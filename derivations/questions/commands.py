"""The ``derivcheck question`` command group and the ``--questions DIR`` option.

``register(main)`` (one line in ``derivations/cli.py``) adds the group and gives ``answer``,
``grade``, ``slots``, ``latex`` and ``serve`` a ``--questions DIR`` option: before the command
runs, the questions of DIR (else ``$DERIVCHECK_QUESTIONS``, else the ``questions`` a
``derivcheck.toml`` in the current folder names) are registered as slots, so every command
reads them through the one registry. ``grade`` refuses to start when a question fails its check.
"""
from __future__ import annotations

import functools
import json
import sys

import click

QUESTION_COMMANDS = ("answer", "grade", "slots", "latex", "serve")


@click.group()
def question():
    """Instructor-written questions in YAML: check them before students see them."""


@question.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Sandboxed worker processes that grade the tests.")
@click.option("--no-mutations", is_flag=True, help="Skip the report on mechanical mutations of the reference.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def check(files, jobs, no_mutations, as_json):
    """Check question FILES (or folders of them): the reference reads, the side conditions admit
    points where the reference is finite, named mistakes differ from the reference and from each
    other, every test gets its expected verdict; and which mechanical mutations of the reference
    the slot tells apart.

    Exit status 1 when any check fails (each failure is printed as FILE:LINE: message).
    """
    from . import question_files
    from .check import check_paths
    from .source import QuestionError
    try:
        paths = question_files(files)
    except QuestionError as exc:
        raise click.UsageError(str(exc)) from None
    reports = check_paths(paths, jobs=jobs, mutations=not no_mutations)
    if as_json:
        click.echo(json.dumps([_as_dict(r) for r in reports], indent=2, default=str))
    else:
        for r in reports:
            for line in r.lines(mutations=not no_mutations):
                click.echo(line)
    failed = [r for r in reports if not r.ok]
    if not as_json:
        click.echo(f"{len(reports)} question file{'s' if len(reports) != 1 else ''}: "
                   f"{len(reports) - len(failed)} ok, {len(failed)} failed")
    sys.exit(1 if failed else 0)


def _as_dict(r) -> dict:
    return {"path": r.path, "question": r.question, "title": r.title, "ok": r.ok,
            "failures": [{"path": f.path, "line": f.line, "message": f.message} for f in r.failures],
            "slots": [{"slot": s.slot, "points": s.points, "mistakes": s.mistakes, "tests": s.tests,
                       "tests_passed": s.tests_passed,
                       "mutations": {"told_apart": [list(x) for x in s.told_apart],
                                     "equivalent": [list(x) for x in s.equivalent],
                                     "undecided": [list(x) for x in s.undecided]}} for s in r.slots]}


def load_for_command(folder, command: str) -> None:
    """Register the questions of ``folder`` (or of the course configuration) for ``command``;
    a problem is a usage error naming its file and line. For ``grade`` every question must pass
    its check first."""
    from . import load_questions, question_files, questions_dir
    from .source import QuestionError
    try:
        folder = folder or questions_dir()
        if not folder:
            return
        load_questions(folder)
    except QuestionError as exc:
        raise click.UsageError(f"question file: {exc}") from None
    if command == "grade":
        from .check import check_paths
        reports = check_paths(question_files(folder), mutations=False)
        failed = [f for r in reports for f in r.failures]
        if failed:
            shown = "\n".join(f"  {f}" for f in failed[:20])
            raise click.ClickException(f"refusing to grade: {len(failed)} question check failure"
                                       f"{'s' if len(failed) != 1 else ''} (run derivcheck question check):\n{shown}")


def add_questions_option(cmd: click.Command, name: str) -> None:
    """``--questions DIR`` on ``cmd``: the questions are registered before its body runs."""
    if any(p.name == "questions" for p in cmd.params) or cmd.callback is None:
        return
    cmd.params.append(click.Option(
        ["--questions", "questions"], type=click.Path(exists=True), default=None,
        help="A folder of question files (YAML) whose slots join the built-in ones (default: "
             "$DERIVCHECK_QUESTIONS, or questions = \"...\" in ./derivcheck.toml)."))
    if name == "slots":
        cmd.params.append(click.Option(["--yaml", "as_yaml"], is_flag=True,
                                       help="Write the slots in the question-file format (one YAML document "
                                            "per question; built-in slots that the format cannot hold are "
                                            "named on stderr)."))
    callback = cmd.callback

    @functools.wraps(callback)
    def run(*args, questions=None, **kwargs):
        load_for_command(questions, name)
        if kwargs.pop("as_yaml", False):
            return _slots_yaml(kwargs.get("ids") or ())
        return callback(*args, **kwargs)
    cmd.callback = run


def _slots_yaml(ids) -> None:
    from .. import registry
    from .export import to_yaml, why_not
    unknown = registry.unknown_selectors(ids)
    if unknown:
        raise click.UsageError(f"unknown slot ids: {', '.join(unknown)}")
    by_question: dict = {}
    for sid, s in registry.slots().items():
        if not registry.matches(sid, ids):
            continue
        reason = why_not(s)
        if reason:
            click.echo(f"# {sid}: not written ({reason})", err=True)
            continue
        by_question.setdefault(sid.split(".")[0], []).append(s)
    docs = [to_yaml(slots, qid) for qid, slots in by_question.items()]
    click.echo("---\n".join(docs), nl=False)


def register(main: click.Group) -> None:
    """Add ``question`` to ``main`` and ``--questions`` to the commands that read slots (also to
    those registered after this call, such as ``serve``)."""
    main.add_command(question)
    for name in QUESTION_COMMANDS:
        if name in main.commands:
            add_questions_option(main.commands[name], name)
    original = main.add_command

    def add_command(cmd, name=None):
        original(cmd, name)
        name = name or cmd.name
        if name in QUESTION_COMMANDS:
            add_questions_option(main.commands[name], name)
    main.add_command = add_command
