"""A parsed YAML/JSON mapping into a ``Sheet``: every value checked (text, a list of steps), and a
bad one reported for its slot alone."""
from __future__ import annotations

from .entries import _put
from .model import _BROKEN, _DUPLICATED, MAX_ENTRIES, MAX_NESTING, Problem, Sheet, SheetError
from .structured import _depth


def _kind(value) -> str:
    return {dict: "a mapping", list: "a list", bool: "true/false", type(None): "null"}.get(
        type(value), type(value).__name__)


def _as_text(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)
    return None


def sheet_from_mapping(data, source: str, default_student: str, dups=()) -> tuple[Sheet | None, list[Problem]]:
    """``{student, answers: {slot: latex}, chains: {slot: [step, ...]}}`` -> Sheet."""
    if data is None:
        raise SheetError("the sheet is empty")
    if not isinstance(data, dict):
        raise SheetError("the sheet must be a mapping with keys student, answers, chains "
                         f"(found {_kind(data)})")
    if _depth(data) > MAX_NESTING:
        raise SheetError("the sheet is nested too deeply")
    problems = []
    entries = sum(len(data.get(k)) for k in ("answers", "chains") if isinstance(data.get(k), dict))
    if entries > MAX_ENTRIES:
        raise SheetError(f"the sheet has {entries} answers and chains; at most {MAX_ENTRIES} are read")
    unknown = sorted(str(k) for k in data if k not in ("student", "answers", "chains"))
    if unknown:
        problems.append(Problem(source, f"unknown top-level keys ignored: {', '.join(unknown)} "
                                "(expected student, answers, chains)"))
    student = data.get("student", default_student)
    if student is _DUPLICATED:
        raise SheetError("the key 'student' is given twice")
    student = _as_text(student) if student is not None else None
    if student is None:
        raise SheetError("'student' must be a text id")
    sheet = Sheet(student, [source])
    for section in ("answers", "chains"):
        block = data.get(section, {})
        if block is _DUPLICATED:
            problems.append(Problem(source, f"the key '{section}' is given twice; neither block is graded",
                                    student))
            continue
        if block is None:
            continue
        if not isinstance(block, dict):
            problems.append(Problem(source, f"'{section}' must map slot ids to "
                                    f"{'LaTeX' if section == 'answers' else 'lists of steps'}", student))
            continue
        for slot, value in block.items():
            slot = str(slot)
            if value is _BROKEN:
                sheet.blocked.add(slot)
                sheet.answers.pop(slot, None)
                sheet.chains.pop(slot, None)
                continue
            if value is _DUPLICATED:
                lines = [str(line) for k, line in dups if k == slot and line]
                where = f" (again at line {', '.join(lines)})" if lines else ""
                sheet.blocked.add(slot)
                sheet.answers.pop(slot, None)
                sheet.chains.pop(slot, None)
                problems.append(Problem(source, f"duplicated slot key: {slot} is answered twice in "
                                        f"'{section}'{where}; neither answer is graded", student, slot))
                continue
            if section == "answers":
                text = _as_text(value)
                if text is None:
                    what = "empty (null)" if value is None else f"not text ({_kind(value)})"
                    problems.append(Problem(source, f"the answer to {slot} is {what}; it is not graded",
                                            student, slot))
                    sheet.blocked.add(slot)
                    continue
                _put(sheet, problems, source, slot, "answer", text)
            else:
                if isinstance(value, str):
                    value = [value]
                steps = [_as_text(v) for v in value] if isinstance(value, list) else None
                if not steps or any(s is None for s in steps):
                    bad = next((i for i, s in enumerate(steps or [], 1) if s is None), None)
                    what = (f"step {bad} is {'empty (null)' if value[bad - 1] is None else 'not text (' + _kind(value[bad - 1]) + ')'}"
                            if bad else f"it is {'empty' if not steps and isinstance(value, list) else _kind(value)}")
                    problems.append(Problem(source, f"the chain for {slot} must be a list of LaTeX steps "
                                            f"({what}); it is not graded", student, slot))
                    sheet.blocked.add(slot)
                    continue
                _put(sheet, problems, source, slot, "chain", steps)
    return sheet, problems
