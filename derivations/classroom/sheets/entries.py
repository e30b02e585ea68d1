"""One answer or chain put on a sheet, the same way by every reader: a slot answered twice (two
answers, or two chains) on one sheet, or a chain with no mathematics or too many steps, is not
graded. An answer and a chain for one slot are both kept: the answer is graded as the final
result, the chain as its derivation."""
from __future__ import annotations

from .display import answer_text, chain_steps
from .model import MAX_STEPS, Problem, Sheet


def _put(sheet: Sheet, problems, source, slot, kind, value) -> None:
    if slot in sheet.blocked:
        problems.append(Problem(source, f"{slot} is also given elsewhere on this sheet, where it is "
                                "duplicated; not graded", sheet.student, slot))
        return
    if slot in (sheet.answers if kind == "answer" else sheet.chains):
        what = "answer" if kind == "answer" else "chain"
        problems.append(Problem(source, f"duplicated slot key: {slot} has a second {what}; "
                                "neither is graded", sheet.student, slot))
        sheet.answers.pop(slot, None)
        sheet.chains.pop(slot, None)
        sheet.blocked.add(slot)
        return
    if kind == "answer":
        sheet.answers[slot] = answer_text(value)
    else:
        steps = chain_steps(value)
        if not steps:
            problems.append(Problem(source, f"the chain for {slot} has no steps with mathematics; it is not "
                                    "graded", sheet.student, slot))
            sheet.blocked.add(slot)
            return
        if len(steps) > MAX_STEPS:
            problems.append(Problem(source, f"the chain for {slot} has {len(steps)} steps; at most "
                                    f"{MAX_STEPS} are graded", sheet.student, slot))
            sheet.blocked.add(slot)
            return
        sheet.chains[slot] = steps
    sheet.origin[slot] = source
