"""Closed forms that a named theorem makes >= 0: the certificates of inequalities.

Numbers can refute an inequality but never prove it, and SymPy's sign reasoning rarely sees
that a KL divergence in closed form is >= 0. So an inequality step states its gap (lhs - rhs
for >=, rhs - lhs for <=) as a sum of such terms with nonnegative coefficients; the prover then
checks the identity gap = lhs - rhs (the terms written out by ``expand_known``) and the gap's
sign from these atoms' assumptions. Trust rests on each atom's formula, which its test checks
against an independent implementation (torch.distributions).
"""
from __future__ import annotations

import sympy as sp

from .symbols import as_expr


class Nonnegative(sp.Function):
    """An unevaluated closed form known to be >= 0; ``formula`` writes it out, ``reason`` names
    the theorem."""

    reason = ""

    @classmethod
    def formula(cls, *args) -> sp.Expr:
        raise NotImplementedError

    def _eval_is_extended_real(self):
        return True

    def _eval_is_extended_nonnegative(self):
        return True

    def _eval_is_finite(self):
        return True

    def written_out(self) -> sp.Expr:
        return self.formula(*self.args)


class GaussianKL(Nonnegative):
    """KL(N(m1, s1^2) || N(m2, s2^2)) for standard deviations s1, s2 > 0."""

    nargs = 4
    reason = "a KL divergence is >= 0 (Gibbs' inequality)"

    @classmethod
    def formula(cls, m1, s1, m2, s2):
        return sp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)


class BernoulliKL(Nonnegative):
    """KL(Bern(a) || Bern(b)) for a, b in (0, 1)."""

    nargs = 2
    reason = "a KL divergence is >= 0 (Gibbs' inequality)"

    @classmethod
    def formula(cls, a, b):
        return a * sp.log(a / b) + (1 - a) * sp.log((1 - a) / (1 - b))


class ExpAboveTangent(Nonnegative):
    """e^x - 1 - x: the exponential lies above its tangent at 0 (convexity)."""

    nargs = 1
    reason = "e^x >= 1 + x (the exponential is convex)"

    @classmethod
    def formula(cls, x):
        return sp.exp(x) - 1 - x


def expand_known(expr) -> sp.Expr:
    """``expr`` with every known-nonnegative atom written out as its formula."""
    return as_expr(expr).replace(lambda e: isinstance(e, Nonnegative), lambda e: e.written_out())


def reasons(expr) -> list[str]:
    """The theorems ``expr``'s known-nonnegative atoms rest on, each once."""
    seen: dict[str, None] = {}
    for atom in as_expr(expr).atoms(Nonnegative):
        seen.setdefault(atom.reason)
    return list(seen)
