"""Questions without Python: instructor-written slots in YAML that check themselves (issue 19).

=========  ====================================================================
source     the YAML, read safely, with the line of every key and item
build      the data -> registry slots (``QuestionSlot``, a ``registry.Slot``)
check      ``derivcheck question check``: the question's own soundness checks
commands   the ``question`` command group and the ``--questions DIR`` option
export     built-in slots written in the question format (``slots --yaml``)
=========  ====================================================================

Public: ``load_questions(dir_or_files)`` registers every question's slots in the registry (so
``answer``, ``grade``, ``slots``, ``latex`` and ``serve`` read them like built-in slots) and
returns them; ``QuestionError`` carries the file and line of any problem.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from typing import TYPE_CHECKING

from .. import registry

if TYPE_CHECKING:
    from .build import QuestionSlot

__all__ = ["load_questions", "load_file", "question_files", "QuestionError", "QuestionSlot", "NamedMistake",
           "Test", "Question", "questions_dir", "ENV"]

ENV = "DERIVCHECK_QUESTIONS"           # a folder of questions, when no --questions is given
_LOADED: dict = {}                     # resolved path -> the Question registered from it
# the reader and builder (YAML, the LaTeX reader) load on first use: `derivcheck verify` registers
# the --questions option through this package and should not pay for them
_LAZY = {"NamedMistake": "build", "Question": "build", "QuestionSlot": "build", "Test": "build",
         "QuestionError": "source"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def question_files(where) -> list[Path]:
    """The ``*.yaml`` / ``*.yml`` files of a folder (sorted), or the files themselves."""
    items = [where] if isinstance(where, (str, os.PathLike)) else list(where)
    out = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix in (".yaml", ".yml") and q.is_file())
        elif p.exists():
            out.append(p)
        else:
            from .source import QuestionError
            raise QuestionError(p, 0, "no such file or folder")
    return out


def parse_file(path):
    """A question file read and built into slots (a ``Question``), not registered."""
    from .build import build_question
    from .source import read
    registry.slots()      # the whole catalogue first: its symbols are declared before the file's,
    return build_question(read(path), str(path))   # so a later catalogue import cannot redeclare them


def load_file(path):
    """Read, build and register one question file (once per file: a second call returns the same
    question). A slot id the registry already holds, built-in or from another file, is an error."""
    key = str(Path(path).resolve())
    if key in _LOADED:
        return _LOADED[key]
    question = parse_file(path)               # (the whole catalogue loaded: ids to compare with)
    from .build import duplicates
    from .source import QuestionError
    clashes = duplicates(question)
    if clashes:
        line, message = clashes[0]
        raise QuestionError(path, line, message)
    for s in question.slots:
        registry.register(s)
    _LOADED[key] = question
    return question


def load_questions(where) -> list[QuestionSlot]:
    """Register the slots of every question in ``where`` (a folder, a file, or a list of them) and
    return them; the first problem raises ``QuestionError`` (file and line)."""
    out = []
    for path in question_files(where):
        out += load_file(path).slots
    return out


def questions_dir(start=None) -> str | None:
    """The questions folder a course names: ``$DERIVCHECK_QUESTIONS``, else ``questions = "..."``
    (top level or under ``[derivcheck]``) in ``derivcheck.toml`` of the current folder, relative
    to that file; None when neither is set."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    import tomllib
    config = Path(start or Path.cwd()) / "derivcheck.toml"
    if not config.is_file():
        return None
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        from .source import QuestionError
        raise QuestionError(config, 0, f"cannot read the course configuration: {exc}") from None
    value = data.get("questions", (data.get("derivcheck") or {}).get("questions"))
    if value is None:
        return None
    if not isinstance(value, str):
        from .source import QuestionError
        raise QuestionError(config, 0, "questions = \"FOLDER\" must be a path")
    return str((config.parent / value).resolve())
