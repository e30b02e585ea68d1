"""Compile the generated .tex to PDF with latexmk or pdflatex, and read the log honestly.

A compile is good when TeX reports no error and no overfull box is worse than
``OVERFULL_LIMIT_PT``. Where no TeX engine is installed, ``find_engine`` returns None and
``INSTALL_HINT`` says how to get the minimal one.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = ("no TeX engine found (latexmk or pdflatex). Install the minimal set with: "
                "sudo apt-get install -y --no-install-recommends texlive-latex-base "
                "(texlive-latex-recommended adds nicer rules and colours)")
OVERFULL_LIMIT_PT = 30.0
AUXILIARY = (".aux", ".out", ".toc", ".fls", ".fdb_latexmk")      # the .log stays: overfull boxes, errors
TIMEOUT_SECONDS = 300
_OVERFULL = re.compile(r"^Overfull \\hbox \(([\d.]+)pt too wide\)(.*)$", re.M)
_PAGES = re.compile(r"Output written on .*? \((\d+) pages?")


@dataclass
class CompileResult:
    tex: Path
    pdf: Path | None
    engine: str
    seconds: float
    errors: list[str] = field(default_factory=list)
    overfull: list[tuple[float, str]] = field(default_factory=list)   # (pt too wide, where)
    pages: int = 0

    @property
    def worst_overfull(self) -> float:
        return max((pt for pt, _ in self.overfull), default=0.0)

    @property
    def ok(self) -> bool:
        return self.pdf is not None and not self.errors and self.worst_overfull <= OVERFULL_LIMIT_PT


def find_engine() -> str | None:
    """"latexmk" (with pdflatex) or "pdflatex", whichever is installed; None if neither."""
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return "latexmk"
    if shutil.which("pdflatex"):
        return "pdflatex"
    return None


def read_log(log: str) -> tuple[list[str], list[tuple[float, str]], int]:
    """(errors, overfull boxes, pages) from a TeX log."""
    lines = log.splitlines()
    errors = []
    for i, line in enumerate(lines):
        if line.startswith("! "):
            errors.append(" ".join(x.strip() for x in lines[i:i + 3]))
    overfull = [(float(m.group(1)), m.group(2).strip()) for m in _OVERFULL.finditer(log)]
    pages = _PAGES.search(log)
    return errors, overfull, int(pages.group(1)) if pages else 0


def compile_pdf(tex_path, engine: str | None = None, timeout: float = TIMEOUT_SECONDS) -> CompileResult:
    """Run TeX in the .tex file's folder (figures are referenced relative to it)."""
    tex_path = Path(tex_path).resolve()
    engine = engine or find_engine()
    if engine is None:
        raise FileNotFoundError(INSTALL_HINT)
    folder, stem = tex_path.parent, tex_path.stem
    pdflatex = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error=no"]
    if engine == "latexmk":
        runs = [["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", tex_path.name]]
    else:   # twice: longtable column widths and the cross-references settle on the second pass
        runs = [pdflatex + [tex_path.name]] * 2
    started = time.perf_counter()
    for cmd in runs:
        try:
            proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, errors="replace")
        except subprocess.TimeoutExpired:
            return CompileResult(tex_path, None, engine, time.perf_counter() - started,
                                 errors=[f"{cmd[0]} did not finish within {timeout:g} s"])
        if proc.returncode != 0:
            break
    seconds = time.perf_counter() - started
    log_path = folder / f"{stem}.log"
    log = log_path.read_text(errors="replace") if log_path.exists() else proc.stdout
    errors, overfull, pages = read_log(log)
    if proc.returncode != 0 and not errors:
        errors = [f"{cmd[0]} exited with status {proc.returncode}: {proc.stdout[-500:]}"]
    pdf = folder / f"{stem}.pdf"
    made = pdf.exists() and proc.returncode == 0
    if made and not errors:                  # TeX's working files, once the PDF is made
        for suffix in AUXILIARY:
            (folder / f"{stem}{suffix}").unlink(missing_ok=True)
    return CompileResult(tex_path, pdf if made else None, engine, seconds, errors, overfull, pages)
