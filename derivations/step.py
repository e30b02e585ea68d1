"""A derivation is a titled list of steps; a step is one relation with its reason.

``Step.check`` is optional: by default the relation is proved by ``prove.check_relation``;
a step may instead carry its own checker (a callable returning ``Evidence``), e.g. one that
runs an expectation operator or a piecewise case analysis before comparing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy as sp

RELATIONS = ("=", "<=", ">=", "<", ">")


@dataclass(frozen=True)
class Step:
    lhs: object                      # a SymPy object, or a callable building it lazily
    rel: str
    rhs: object
    why: str
    assume: tuple = ()               # side conditions (SymPy relationals) beyond symbol domains
    establishes: tuple[str, ...] = ()  # slot ids this step proves
    family: str = ""                 # non-empty: the claim is stated in this concrete family only
    check: Callable | None = None    # custom checker: (step) -> Evidence
    cite: str = ""                   # equation / source reference
    claim_latex: str = ""            # overrides the printed claim (e.g. for structured objects)
    audit: str = ""                  # non-empty: a claim quoted from this source to be tested, not
                                     # asserted by derivcheck; its refutation is a finding, not a failure
    gap: object = None               # an inequality's certificate: lhs - rhs (for >=, >) or rhs - lhs
                                     # (for <=, <) written with terms known to be >= 0 (``nonneg``);
                                     # numbers alone never prove an inequality
    definition: bool = False         # a definition or base case, stated as such: not checked, never
                                     # counted as a proof (evidence kind ``definition``)

    def sides(self) -> tuple:
        """(lhs, rhs); a side given as a zero-argument callable is built only when checked,
        so importing the catalogue stays cheap."""
        return tuple(side() if callable(side) else side for side in (self.lhs, self.rhs))

    def certificate(self):
        """The gap certificate, built if given lazily (None when the step has none)."""
        return self.gap() if callable(self.gap) else self.gap

    def __post_init__(self):
        if self.rel not in RELATIONS:
            raise ValueError(f"relation {self.rel!r} is not one of {RELATIONS}")


@dataclass(frozen=True)
class Derivation:
    id: str
    title: str
    steps: tuple[Step, ...]
    source: str = ""
    module: str = ""
    line: int = 0

    @property
    def slots(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for step in self.steps:
            for slot in step.establishes:
                seen.setdefault(slot)
        return tuple(seen)


def eq(lhs, rhs, why, **kw) -> Step:
    return Step(lhs, "=", rhs, why, **kw)


def le(lhs, rhs, why, **kw) -> Step:
    return Step(lhs, "<=", rhs, why, **kw)


def ge(lhs, rhs, why, **kw) -> Step:
    return Step(lhs, ">=", rhs, why, **kw)


def define(lhs, rhs, why, **kw) -> Step:
    """A definition or base case ``lhs := rhs``: stated, never counted as a proof."""
    return Step(lhs, "=", rhs, why, definition=True, **kw)


def chain(first, *links, why=(), **kw) -> list[Step]:
    """``first = e1 = e2 ...`` as consecutive steps; ``links`` are (rel, expr) pairs."""
    steps, lhs = [], first
    reasons = list(why) + [""] * (len(links) - len(why))
    for (rel, rhs), reason in zip(links, reasons):
        steps.append(Step(lhs, rel, rhs, reason, **kw))
        lhs = rhs
    return steps


def as_matrix(x) -> sp.Matrix | None:
    if isinstance(x, sp.MatrixBase):
        return sp.Matrix(x)
    if isinstance(x, sp.MatrixExpr) and all(sp.sympify(k).is_Integer for k in x.shape):
        return sp.Matrix(x.as_explicit())
    return None
