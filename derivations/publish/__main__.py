"""``python -m derivations.publish latex [IDS...] --out DIR [--pdf] [--numeric]`` and
``python -m derivations.publish report GRADES_DIR [--pdf|--html]``."""
from __future__ import annotations

import sys

import click

from .commands import latex_command, report_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Publish the derivations and their evidence, or a class report."""


@main.command()
@click.argument("ids", nargs=-1)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for derivcheck.tex and figures.")
@click.option("--pdf", is_flag=True, help="Compile the PDF with latexmk or pdflatex.")
@click.option("--numeric", is_flag=True, help="Run the numeric checks and tabulate them.")
def latex(ids, out, pdf, numeric):
    """Write OUT/derivcheck.tex for the derivations IDS (slot ids or prefixes; default: all)."""
    sys.exit(latex_command(ids, out, pdf, numeric, log=lambda m: click.echo(m, err=True)))


@main.command()
@click.argument("grades_dir", type=click.Path(file_okay=False))
@click.option("--pdf", is_flag=True, help="Also compile GRADES_DIR/report.pdf.")
@click.option("--html", is_flag=True, help="Also write GRADES_DIR/report.html.")
def report(grades_dir, pdf, html):
    """Class report from a `derivcheck grade` output folder."""
    sys.exit(report_command(grades_dir, pdf, html, log=click.echo))


if __name__ == "__main__":
    main()
