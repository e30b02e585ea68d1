r"""LaTeX sheets: ``\student``, ``\answer`` and ``\step`` commands split into per-slot text (nothing is
parsed here); an unbalanced brace costs the answer it is in, not the rest of the sheet."""
from __future__ import annotations

import re
from pathlib import Path

from .braces import _group, _line, _Unclosed
from .entries import _put
from .model import _DUPLICATED, MAX_ENTRIES, MAX_STEPS, STUDENT_ID, Problem, Sheet, SheetError


_COMMAND = re.compile(r"\\(answer|step|student)(?![A-Za-z@])")
# the next command (or the end of the document) bounds a group that is never closed
_BOUNDARY = re.compile(r"\\(?:answer|step|student)(?![A-Za-z@])|\\end\s*\{document\}")
# "\newcommand{\answer}[2]{...}", "\def\answer#1#2{...}": a definition, not an answer
_DEFINES = re.compile(r"\\(?:(?:re)?newcommand|providecommand|DeclareRobustCommand|"
                      r"(?:New|Renew|Provide|Declare)DocumentCommand)\s*\*?\s*\{?\s*$|"
                      r"\\(?:def|gdef|edef|xdef|let|renewcommand\*?|newcommand\*?)\s*$")


def _strip_comments(text: str) -> str:
    """Drop ``%`` comments (not ``\\%``), keeping line breaks so line numbers stay right."""
    out = []
    for line in text.split("\n"):
        i, cut = 0, len(line)
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == "%":
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


def sheet_from_latex(text: str, source: str, default_student: str) -> tuple[Sheet, list[Problem]]:
    r"""``\student{ID}``, ``\answer{SLOT}{LATEX}`` and ``\step{SLOT}{LATEX}`` (in order).

    A group that is never closed (an unbalanced brace in one answer) ends at the next
    ``\answer``/``\step``/``\student`` or ``\end{document}``: that answer (or that slot's whole
    chain) is reported with its file and line and not graded; every other answer on the sheet
    is. Definitions such as ``\newcommand{\answer}[2]{...}`` in the preamble are skipped."""
    text = _strip_comments(text)
    name = Path(source).name
    problems: list[Problem] = []
    student, answers, chains = None, {}, {}
    broken: dict[str, str] = {}
    order: list[tuple[str, str, str]] = []
    pos = 0
    while True:
        m = _COMMAND.search(text, pos)
        if m is None:
            break
        cmd = m.group(1)
        line = _line(text, m.start())
        nxt = _BOUNDARY.search(text, m.end())
        stop = nxt.start() if nxt else len(text)
        if _DEFINES.search(text[max(0, m.start() - 40):m.start()]):
            pos = m.end()
            continue
        try:
            first, after = _group(text, m.end(), stop)
        except _Unclosed as exc:
            if exc.opened is None:
                problems.append(Problem(source, rf"{name} line {line}: \{cmd} is not followed by "
                                        rf"{{...}}; it is ignored", ""))
                pos = m.end()
                continue
            if cmd == "student":
                head = text[exc.opened + 1:stop].split("\n", 1)[0].strip()
                if student is None and STUDENT_ID.match(head):
                    student = head
                    problems.append(Problem(source, rf"{name} line {line}: \student{{ is never closed; "
                                            f"the student id is read as {head!r}"))
                    pos = stop
                    continue
                raise SheetError(rf"{name} line {line}: \student{{...}} is never closed, so whose sheet this "
                                 "is cannot be told") from None
            problems.append(Problem(source, rf"{name} line {line}: the slot name of \{cmd}{{ is never closed "
                                    "(unbalanced braces); this entry is not graded, the rest of the sheet is"))
            pos = stop
            continue
        if cmd == "student":
            if student is not None and first.strip() != student:
                raise SheetError(rf"\student is given twice (line {line}): {student!r} and {first.strip()!r}")
            student = first.strip()
            pos = after
            continue
        slot = first.strip()
        try:
            body, pos = _group(text, after, stop)
        except _Unclosed as exc:
            what = "answer" if cmd == "answer" else "step"
            if exc.why:
                why = rf"in \{cmd}{{{slot}}} {exc.why}"
            elif exc.opened is None:
                why = rf"\{cmd}{{{slot}}} has no {{...}} with the {what} after it"
            else:
                before = (f"before line {_line(text, stop)}" if nxt else "before the end of the file")
                why = (rf"the {what} in \{cmd}{{{slot}}} opened at line {_line(text, exc.opened)} is never "
                       f"closed {before} (unbalanced braces)")
            scope = "this answer is" if cmd == "answer" else f"the chain for {slot} is"
            broken.setdefault(slot, f"{name} line {line}: {why}; {scope} not graded, the rest of the sheet is")
            pos = stop if exc.opened is not None else after
            continue
        order.append((cmd, slot, body.strip()))
        if len(order) > MAX_ENTRIES * MAX_STEPS // 10:
            raise SheetError(f"the sheet has more than {len(order) - 1} \\answer and \\step commands")
    student = student if student is not None else default_student
    sheet = Sheet(student, [source])
    for cmd, slot, body in order:
        if slot in broken:
            continue
        if cmd == "answer":
            if slot in answers:
                answers[slot] = _DUPLICATED
            else:
                answers[slot] = body
        else:
            chains.setdefault(slot, []).append(body)
    for slot, why in broken.items():
        sheet.blocked.add(slot)
        problems.append(Problem(source, why, student, slot))
    for slot, body in answers.items():
        if body is _DUPLICATED:
            sheet.blocked.add(slot)
            problems.append(Problem(source, rf"duplicated slot key: \answer{{{slot}}} is given more than once; "
                                    "neither answer is graded", student, slot))
            continue
        _put(sheet, problems, source, slot, "answer", body)
    for slot, steps in chains.items():
        _put(sheet, problems, source, slot, "chain", steps)
    if not order and not broken:
        problems.append(Problem(source, r"no \answer{SLOT}{...} or \step{SLOT}{...} found", student))
    return sheet, problems
