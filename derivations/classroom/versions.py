"""What a grade depends on, as short hashes: a result is reused only while all of them hold.

* the **grader**: the source of the code that decides verdicts (``derivations`` without the slot
  catalogue, the publishing code, the command line and the classroom's own bookkeeping, which
  change how results are shown but never what they are);
* the slot's **reference**: everything the slot declares (reference, symbols, conditions,
  definitions, functions, kind, LaTeX form, matrix kinds, the source of an ``accepts`` test), so a
  corrected reference regrades that slot's answers and no other;
* the slot's **rubric entry**: its points and the chain rule; a change re-scores that slot's
  answers without checking them again (a verdict does not depend on the rubric).
"""
from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
# files under ``derivations`` that never change a verdict
_NOT_GRADING = ("catalogue", "publish", "cli.py", "pytest_plugin.py", "atomic.py")
_CLASSROOM_GRADING = ("chains.py", "links.py", "tasks.py")


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def grading_sources() -> list[Path]:
    out = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in (".py", ".lark") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(PACKAGE).parts
        if rel[0] in _NOT_GRADING:
            continue
        if rel[0] == "classroom" and (len(rel) != 2 or rel[1] not in _CLASSROOM_GRADING):
            continue
        out.append(path)
    return out


def grader_fingerprint() -> str:
    h = hashlib.sha256()
    for path in grading_sources():
        h.update(str(path.relative_to(PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _describe(value) -> str:
    from sympy import srepr
    from sympy.core.basic import Basic
    if isinstance(value, Basic):
        return srepr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_describe(k)}: {_describe(v)}" for k, v in
                               sorted(value.items(), key=lambda kv: str(kv[0]))) + "}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    if callable(value):
        try:
            return inspect.getsource(value)
        except (OSError, TypeError):
            return getattr(value, "__qualname__", repr(type(value)))
    return repr(value)


_REFERENCE_CACHE: dict[str, str] = {}


def reference_version(slot_id: str) -> str:
    """A hash of everything the slot declares; "" for a slot the registry does not know."""
    if slot_id in _REFERENCE_CACHE:
        return _REFERENCE_CACHE[slot_id]
    from .. import registry
    try:
        slot = registry.get_slot(slot_id)
    except KeyError:
        return ""
    fields = ("reference", "symbols", "conditions", "definitions", "functions", "accepts", "kind", "latex",
              "matrix_kinds")
    version = _short("\n".join(f"{f}={_describe(getattr(slot, f, None))}" for f in fields))
    _REFERENCE_CACHE[slot_id] = version
    return version


def rubric_version(rubric, slot_id: str) -> str:
    """A hash of what the rubric says about this slot's score."""
    return _short(repr((rubric.max_points(slot_id), rubric.partial_credit, rubric.final_share)))
