"""What backs a verdict: its status and the kind of evidence, never one without the other."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum


class Status(str, Enum):
    PROVED = "proved"
    REFUTED = "refuted"
    UNCHECKED = "unchecked"
    ERROR = "error"


class Kind(str, Enum):
    SYMBOLIC = "symbolic"              # SymPy proves the relation under the assumptions
    SYMBOLIC_FAMILY = "symbolic-family"  # proved in a stated concrete family only
    EXACT_NUMERIC = "exact-numeric"    # high-precision evaluation at random admissible points
    MONTE_CARLO = "monte-carlo"        # estimate with standard error
    DEFINITION = "definition"          # a definition or base case: stated, not proved (status-neutral)
    NONE = "none"                      # nothing checked it


@dataclass(frozen=True)
class Evidence:
    status: Status
    kind: Kind
    detail: str
    counterexample: dict | None = None   # {symbol: value, ..., "lhs": v, "rhs": v}
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is Status.PROVED

    def as_dict(self) -> dict:
        d = asdict(self)
        d["status"], d["kind"] = self.status.value, self.kind.value
        return d


def unchecked(reason: str) -> Evidence:
    return Evidence(Status.UNCHECKED, Kind.NONE, reason)


def definition(reason: str) -> Evidence:
    """A definition or base case: nothing to prove. Its status is ``unchecked`` (it is never
    counted as passed) and its kind ``definition`` keeps it out of every verdict: a derivation's
    status and the summaries neither count it as proved nor as failed."""
    return Evidence(Status.UNCHECKED, Kind.DEFINITION, reason)


def error(message: str) -> Evidence:
    return Evidence(Status.ERROR, Kind.NONE, message)
