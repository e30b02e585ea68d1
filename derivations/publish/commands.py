"""The two publishing commands as library functions; the CLI (and ``python -m
derivations.publish``) only parses arguments and calls them.

Exit codes: 0 done; 1 the PDF did not compile cleanly, or a numeric check failed; 2 misuse
(unknown slot id, missing grading folder); 3 ``--pdf`` asked for but no TeX engine installed
(the .tex is written all the same).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import registry

MISUSE, NO_TEX = 2, 3


def _unknown(ids, log) -> bool:
    unknown = registry.unknown_selectors(ids)
    for s in unknown:
        try:
            registry.get_slot(s)
        except KeyError as exc:
            log(f"error: {exc.args[0]}")
    return bool(unknown)


def run_numeric(ids=(), samples: int | None = None, device: str = "cpu", progress=None) -> list[dict]:
    """Rows of every registered numeric check whose slot matches ``ids``; ``progress(check_id,
    total)`` is called as each check finishes."""
    from numeric_checks import core

    chosen = [c for slot_id, checks in sorted(core.checks().items()) if registry.matches(slot_id, ids)
              for c in checks]
    rows = []
    for check in chosen:
        rows.extend(core.run_check(check, samples or core.DEFAULT_SAMPLES, device).rows())
        if progress:
            progress(check.id, len(chosen))
    return rows


def _proof_cache():
    """The proof cache ``derivcheck verify`` uses (``proof_cache.default()``: None when
    DERIVCHECK_NO_CACHE is set), so ``latex`` reads the proofs verify stored; None where this
    installation has no proof cache."""
    try:
        from .. import proof_cache
    except ImportError:
        return None
    return proof_cache.default()


def progress_bar() -> Progress:
    """The bar of ``verify``: on stderr (so stdout can be piped) and gone when the work is done."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


def latex_command(ids, out, pdf: bool = False, numeric: bool = False, *, samples: int | None = None,
                  device: str = "cpu", timeout: float | None = None, jobs: int | None = None, log=print) -> int:
    """``derivcheck latex [IDS...] --out DIR [--pdf] [--numeric]``: write DIR/derivcheck.tex with
    its figures under DIR/figures; compile it with ``pdf``; run the numeric checks with ``numeric``.

    The proofs come from ``verify.run_all``, the entry point of ``derivcheck verify`` (and so from
    its cache of proofs); each phase shows a progress bar on stderr."""
    from . import compile as texc
    from . import document, plots
    from .. import verify

    ids = tuple(ids or ())
    if _unknown(ids, log):
        return MISUSE
    out = Path(out)
    with progress_bar() as bar:
        started = time.perf_counter()
        task = bar.add_task("verify", total=len(registry.select(ids)))
        step = lambda d: bar.update(task, advance=1, description=f"verified {d.id}")  # noqa: E731
        options = {} if timeout is None else {"seconds": timeout}
        cache = _proof_cache()
        if cache is not None:
            options["cache"] = cache
        results = verify.run_all(ids, progress=step, jobs=jobs or os.cpu_count() or 1, **options)
        bar.remove_task(task)
        log(f"verified {len(results)} derivations in {time.perf_counter() - started:.1f} s")
        rows = None
        if numeric:
            t0 = time.perf_counter()
            task = bar.add_task("numeric checks", total=None)
            rows = run_numeric(ids, samples, device, progress=lambda check_id, total: bar.update(
                task, advance=1, total=total, description=f"numeric {check_id}"))
            bar.remove_task(task)
            log(f"ran the numeric checks: {len(rows)} measurements, {sum(not r['passed'] for r in rows)} failed, "
                f"{time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        task = bar.add_task("plots", total=None)
        made, skipped = plots.make_all(out / "figures", ids, log=log, progress=lambda name, total: bar.update(
            task, advance=1, total=total, description=f"plot {name}"))
        bar.remove_task(task)
        log(f"drew {len(made)} plots in {time.perf_counter() - t0:.1f} s")
        tex_path = document.write(out / "derivcheck.tex", results, rows, made, skipped, ids)
        log(f"wrote {tex_path}")
        status = 1 if rows and any(not r["passed"] for r in rows) else 0
        if not pdf:
            return status
        engine = texc.find_engine()
        if engine is None:
            log(f"--pdf: {texc.INSTALL_HINT}; the .tex is written and can be compiled elsewhere")
            return NO_TEX
        bar.add_task(f"compiling {tex_path.name} with {engine}", total=None)
        result = texc.compile_pdf(tex_path, engine)
    if result.pdf is None:
        log(f"{engine} failed after {result.seconds:.1f} s; see {tex_path.with_suffix('.log')}")
        for e in result.errors[:5]:
            log(f"  {e}")
        return 1
    log(f"wrote {result.pdf}: {result.pages} pages in {result.seconds:.1f} s ({engine}); "
        f"worst overfull box {result.worst_overfull:.1f} pt")
    return status if result.ok else 1


def report_command(grades_dir, pdf: bool = False, html: bool = False, *, log=print) -> int:
    """``derivcheck report GRADES_DIR [--pdf|--html]``: the class report from a grading output
    folder, as GRADES_DIR/report.md (always), report.tex/.pdf (``pdf``) or report.html (``html``)."""
    from . import compile as texc
    from . import report

    try:
        grades = report.load(grades_dir)
    except FileNotFoundError as exc:
        log(f"error: {exc}")
        return MISUSE
    folder = Path(grades_dir)
    summary = report.summarise(grades, folder)
    written = [report.write_markdown(summary, folder / "report.md")]
    report.write_histogram(summary, folder / "report_scores")
    if html:
        written.append(report.write_html(summary, folder / "report.html"))
    code = 0
    if pdf:
        tex_path = report.write_tex(summary, folder / "report.tex")
        written.append(tex_path)
        engine = texc.find_engine()
        if engine is None:
            log(f"--pdf: {texc.INSTALL_HINT}; wrote {tex_path}")
            code = NO_TEX
        else:
            result = texc.compile_pdf(tex_path, engine)
            if result.pdf is None:
                log(f"{engine} failed: {'; '.join(result.errors[:3])}")
                code = 1
            else:
                written.append(result.pdf)
    log(report.terminal_summary(summary))
    log("wrote " + ", ".join(str(p) for p in written))
    return code
