"""The class: every file read, slot ids checked, one student's files merged into one sheet (the
same answer twice is graded once, two different ones are a conflict for a person)."""
from __future__ import annotations

import difflib

from .files import sheet_files
from .model import STUDENT_ID, Problem, Sheet
from .one_file import read_file


def _same(kind_a, a, kind_b, b) -> bool:
    if kind_a != kind_b:
        return False
    if kind_a == "answer":
        return " ".join(a.split()) == " ".join(b.split())
    return [" ".join(x.split()) for x in a] == [" ".join(x.split()) for x in b]


def _merge(into: Sheet, sheet: Sheet, source: str, problems: list) -> None:
    """One student's second file into the first. The rule (README, "Grading a class"): a slot
    answered identically in both is graded once; answered differently, it is a conflict --
    neither version is graded and the conflict is listed in review.csv and the feedback; a slot
    duplicated within either file is not graded at all."""
    into.sources.append(source)
    who = sheet.student
    for slot in sorted(sheet.blocked - into.blocked):
        if slot in into.answers or slot in into.chains:
            problems.append(Problem(f"{into.origin.get(slot, into.sources[0])};{source}",
                                    f"conflicting answers: {slot} is also given in {source}, where it is not "
                                    "graded (duplicated or unreadable there); neither is graded", who, slot))
            into.answers.pop(slot, None)
            into.chains.pop(slot, None)
        into.blocked.add(slot)
    for slot, kind, payload in sheet.items():
        # an answer and a chain for one slot are two entries (the result and its derivation);
        # the same kind given in two files is the same entry handed in twice, or a conflict
        table = into.answers if kind == "answer" else into.chains
        if slot in into.blocked:
            problems.append(Problem(source, f"conflicting answers: {slot} is also given in another file of "
                                    f"{who}, where it is not graded; this one is not graded either", who, slot))
            continue
        if slot not in table:
            table[slot] = payload if kind == "answer" else list(payload)
            into.origin.setdefault(slot, sheet.origin.get(slot, source))
            continue
        theirs = table[slot]
        if _same(kind, theirs, kind, list(payload) if kind == "chain" else payload):
            continue            # the same answer handed in twice: graded once
        first = into.origin.get(slot, into.sources[0])
        problems.append(Problem(f"{first};{source}",
                                f"conflicting answers: {slot} is answered differently in {first} and in "
                                f"{source} for {who}; neither is graded (a person must decide which counts)",
                                who, slot))
        into.answers.pop(slot, None)
        into.chains.pop(slot, None)
        into.blocked.add(slot)


def read_class(paths, known_slots, exclude=()) -> tuple[list[Sheet], list[Problem]]:
    """Every sheet under ``paths`` (not under ``exclude``), merged per student, slots checked
    against ``known_slots``."""
    files, problems = sheet_files(paths, exclude)
    merged: dict[str, Sheet] = {}
    for path in files:
        sheets, found = read_file(path)
        problems.extend(found)
        for sheet in sheets:
            source = sheet.sources[0]
            if not STUDENT_ID.match(sheet.student):
                problems.append(Problem(source, f"sheet not graded: the student id {sheet.student[:80]!r} "
                                        "must be 1-64 letters, digits or _.@+- starting with a letter or "
                                        "digit", "", "", True))
                continue
            _check_slots(sheet, known_slots, problems, source)
            if sheet.student not in merged:
                merged[sheet.student] = sheet
            else:
                _merge(merged[sheet.student], sheet, source, problems)
    for p in problems:              # a student whose only file was unreadable is still listed
        if p.lost and p.student and p.student not in merged:
            merged[p.student] = Sheet(p.student, [p.source])
    folded: dict[str, list[str]] = {}
    for sid in merged:
        folded.setdefault(sid.lower(), []).append(sid)
    for ids in folded.values():
        if len(ids) > 1:
            problems.append(Problem(merged[ids[0]].sources[0], f"the student ids {', '.join(sorted(ids))} differ "
                                    "only in case; they are graded as different students"))
    sheets = [merged[s] for s in sorted(merged)]
    problems.sort(key=lambda p: (p.source, p.student, p.slot, p.reason))
    return sheets, problems


def _check_slots(sheet: Sheet, known, problems, source) -> None:
    for table in (sheet.answers, sheet.chains):
        for slot in list(table):
            if slot not in known:
                near = difflib.get_close_matches(slot, list(known), n=3, cutoff=0.6)
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                problems.append(Problem(source, f"unknown slot id {slot[:80]!r}{hint}", sheet.student, slot[:80]))
                del table[slot]
