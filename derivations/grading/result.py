"""The outcome of grading one answer, in the JSON shape of ``derivcheck answer --json``."""
from __future__ import annotations

from dataclasses import dataclass

VERDICTS = ("correct", "wrong", "invalid", "unchecked")


@dataclass
class AnswerResult:
    slot: str
    verdict: str                      # correct | wrong | invalid | unchecked
    evidence_kind: str                # symbolic | symbolic-family | exact-numeric | none
    evidence_detail: str
    message: str
    mistake: str | None = None        # a mutation tag such as "dropped-factor", or None
    counterexample: dict | None = None
    parsed_latex: str | None = None
    seconds: float = 0.0

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")

    def as_dict(self) -> dict:
        return {"slot": self.slot, "verdict": self.verdict,
                "evidence": {"kind": self.evidence_kind, "detail": self.evidence_detail},
                "mistake": self.mistake, "message": self.message,
                "counterexample": self.counterexample, "parsed_latex": self.parsed_latex,
                "seconds": round(self.seconds, 4)}

    @classmethod
    def from_dict(cls, d: dict) -> "AnswerResult":
        return cls(d["slot"], d["verdict"], d["evidence"]["kind"], d["evidence"]["detail"], d["message"],
                   d.get("mistake"), d.get("counterexample"), d.get("parsed_latex"), d.get("seconds", 0.0))
