"""The labelled answer set (``tests/data/labelled_answers.yaml``) and its scoring.

Used by the test that bounds false accepts and false rejects and by the benchmark; the
labels are written by hand in the data file, never derived from the grader.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT = Path(__file__).resolve().parents[2] / "tests" / "data" / "labelled_answers.yaml"
ACCEPT = {"correct": {"correct"}, "wrong": {"wrong"}, "invalid": {"invalid"},
          "hostile": {"invalid", "unchecked"}, "unchecked": {"unchecked"}}


@dataclass(frozen=True)
class Item:
    slot: str
    latex: str
    label: str            # correct | wrong | invalid | hostile | unchecked
    gap: bool = False     # right, but needs a definition the registry lacks

    @property
    def accept(self) -> set[str]:
        return ACCEPT[self.label]


def generated_hostile() -> list[Item]:
    """Hostile inputs too large to write in the data file."""
    return [Item("gan.square.f", "(" * 5000 + "t" + ")" * 5000, "hostile"),
            Item("gan.square.f", r"\frac{" * 3000 + "t" + "}" * 3000, "hostile"),
            Item("ddim.gamma", "t" * (1 << 20), "hostile"),
            Item("ddim.gamma", "\\" * 2000, "hostile"),
            Item("lemma.marginal_cov", "|" * 999, "hostile")]


def load(path: Path | str = DEFAULT, with_generated: bool = True) -> list[Item]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    items: list[Item] = []
    for slot, groups in data.items():
        if slot == "hostile":
            for target, answers in groups.items():
                items.extend(Item(target, a, "hostile") for a in answers)
            continue
        if slot == "no_reference":           # slots that state a property: "unchecked" is right
            items.extend(Item(target, a, "unchecked") for target, a in groups["unchecked"])
            continue
        for group, answers in groups.items():
            label, _, gap = group.partition("_")
            items.extend(Item(slot, a, label, gap == "gap") for a in answers)
    return items + (generated_hostile() if with_generated else [])


@dataclass
class Score:
    total: int = 0
    right: int = 0
    false_accepts: int = 0
    false_rejects: int = 0
    unchecked: int = 0
    correct_items: int = 0
    failures: list = None

    def as_dict(self) -> dict:
        return {"answers": self.total, "accuracy": round(self.right / max(self.total, 1), 4),
                "false_accepts": self.false_accepts, "false_rejects": self.false_rejects,
                "false_reject_rate": round(self.false_rejects / max(self.correct_items, 1), 4),
                "unchecked": self.unchecked}


def score(items, verdicts) -> Score:
    s = Score(failures=[])
    for item, verdict in zip(items, verdicts):
        s.total += 1
        s.unchecked += verdict == "unchecked"
        if item.label == "correct":
            s.correct_items += 1
        if verdict in item.accept:
            s.right += 1
            continue
        if verdict == "correct":
            s.false_accepts += 1
        elif item.label == "correct":
            s.false_rejects += 1
        s.failures.append((item, verdict))
    return s
