"""``derivcheck gradescope`` and ``derivcheck export``: a class's grades into a course's systems
(registered in ``derivations/cli.py``)."""
from __future__ import annotations

import sys

import click


@click.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The autograder zip to write.")
@click.option("--rubric", type=click.Path(exists=True, dir_okay=False), help="Points per slot, visibility (YAML).")
@click.option("--feedback", type=click.Choice(["verdict", "hints", "full"]), default="hints", show_default=True,
              help="What students see (full shows the reference: needs --reveal-reference).")
@click.option("--reveal-reference", is_flag=True, help="Allow --feedback full.")
@click.option("--timeout", type=click.FloatRange(min=0.5), default=20.0, show_default=True, help="Seconds per answer.")
def gradescope(out, rubric, feedback, reveal_reference, timeout):
    """Write a Gradescope autograder bundle (setup.sh, run_autograder, derivcheck's source,
    the rubric): each submission is graded into results.json."""
    from .. import registry
    from .autograder import bundle
    from .rubric import RubricError, load_rubric

    if feedback == "full" and not reveal_reference:
        raise click.UsageError("--feedback full shows the reference: it needs --reveal-reference")
    registry.load()
    try:
        load_rubric(rubric, registry.slots())
    except RubricError as exc:
        raise click.ClickException(f"the rubric is not valid:\n{exc}") from None
    try:
        names = bundle(out, rubric, feedback, timeout)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out} ({len(names)} files; upload it as the assignment's autograder"
               + ("" if rubric else "; no rubric: each submission's own slots are graded, 1 point each") + ")")


@click.command()
@click.argument("fmt", metavar="{canvas,moodle,csv}", type=click.Choice(["canvas", "moodle", "csv"]))
@click.argument("grades_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--roster", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The course's roster (CSV with an id column).")
@click.option("--id-column", help="The roster column that holds the students' ids (default: the first known one).")
@click.option("--per-slot", is_flag=True, help="A column per slot besides the total.")
@click.option("--assignment", default="derivcheck", show_default=True, help="The assignment's name (Canvas column).")
@click.option("--out", type=click.Path(dir_okay=False), help="File to write (default: GRADES_DIR/FORMAT.csv).")
def export(fmt, grades_dir, roster, id_column, per_slot, assignment, out):
    """One row per roster student with the total, for Canvas, Moodle or a plain CSV; roster
    students without a sheet get 0 and are listed, as are graded students the roster lacks."""
    from pathlib import Path

    from ..atomic import write_atomic
    from .export import ExportError, gradebook

    try:
        book = gradebook(fmt, grades_dir, roster, id_column, per_slot, assignment)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    target = Path(out) if out else Path(grades_dir) / f"{fmt}.csv"
    write_atomic(target, book.csv_bytes())
    err = sys.stderr
    click.echo(f"wrote {target}: {book.students} students", file=err)
    for line in book.problems:
        click.echo(f"  roster problem: {line}", file=err)
    if book.missing:
        click.echo(f"  {len(book.missing)} on the roster without a sheet (0 points): {', '.join(book.missing)}", file=err)
    if book.unknown:
        click.echo(f"  {len(book.unknown)} graded but not on the roster (written after the roster's rows): "
                   f"{', '.join(book.unknown)}", file=err)
