"""Structured objects of probabilistic notation, as SymPy expressions that keep their shape.

``Density(p, (x,), (z,))`` is p(x|z), ``Expectation(body, (q(z|x),))`` is E_{q(z|x)}[body],
``KL(q, p)`` is KL(q || p) (argument order matters). They stay unevaluated so that an answer
keeps the structure the student wrote; ``derivations.grading.structural`` gives them meaning
(rewrite rules, and evaluation on random finite models).
"""
from __future__ import annotations

import sympy as sp

from ..symbols import as_expr


class Density(sp.Function):
    """family(variables | given), a positive number for each value of its variables."""

    nargs = 3

    @classmethod
    def make(cls, family: str, variables, given=()) -> "Density":
        return cls(sp.Symbol(family), sp.Tuple(*variables), sp.Tuple(*given))

    @property
    def family(self) -> str:
        return self.args[0].name

    @property
    def variables(self) -> tuple:
        return tuple(self.args[1])

    @property
    def given(self) -> tuple:
        return tuple(self.args[2])

    def _eval_is_positive(self):
        return True

    def _eval_is_real(self):
        return True

    def _latex(self, printer):
        fam = printer._print(self.args[0])
        left = ", ".join(printer._print(v) for v in self.variables)
        right = ", ".join(printer._print(v) for v in self.given)
        bar = r" \mid " + right if right else ""
        return f"{fam}({left}{bar})"

    def _sympystr(self, printer):
        left = ", ".join(map(str, self.variables))
        right = ", ".join(map(str, self.given))
        return f"{self.family}({left}{' | ' + right if right else ''})"


class Expectation(sp.Function):
    """E_{measure}[body]; ``measure`` is a tuple of densities (their product) or of variables."""

    nargs = 2

    @classmethod
    def make(cls, body, measure) -> "Expectation":
        return cls(as_expr(body), sp.Tuple(*measure))

    @property
    def body(self):
        return self.args[0]

    @property
    def measure(self) -> tuple:
        return tuple(self.args[1])

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer):
        sub = " ".join(printer._print(m) for m in self.measure)
        return rf"\mathbb{{E}}_{{{sub}}}\left[{printer._print(self.body)}\right]"

    def _sympystr(self, printer):
        return f"E_[{' '.join(map(str, self.measure))}][{self.body}]"


class KL(sp.Function):
    """KL(first || second) between two densities over the same variables."""

    nargs = 2

    def _eval_is_real(self):
        return True

    def _latex(self, printer):
        a, b = (printer._print(x) for x in self.args)
        return rf"\mathrm{{KL}}\left({a} \,\middle\|\, {b}\right)"

    def _sympystr(self, printer):
        return f"KL({self.args[0]} || {self.args[1]})"


class _OverVariable(sp.Function):
    """op_v[body] with args (body, v), kept unevaluated; ``op`` is its LaTeX operator."""

    nargs = 2
    op = ""

    def _latex(self, printer):
        return rf"{self.op}_{{{printer._print(self.args[1])}}}\left[{printer._print(self.args[0])}\right]"


class Extremum(_OverVariable):
    """inf_v[body] (``Infimum``) or sup_v[body] (``Supremum``)."""

    is_infimum = True


class Infimum(Extremum):
    is_infimum, op = True, r"\inf"


class Supremum(Extremum):
    is_infimum, op = False, r"\sup"


class ArgExtremum(_OverVariable):
    """argmin_v[body] (``ArgMin``) or argmax_v[body] (``ArgMax``): the point where the extremum is
    reached (it is no value of body, so it is not an ``Extremum``)."""

    is_min = True


class ArgMin(ArgExtremum):
    is_min, op = True, r"\arg\min"


class ArgMax(ArgExtremum):
    is_min, op = False, r"\arg\max"


STRUCTURED = (Density, Expectation, KL)


def is_structured(expr) -> bool:
    return isinstance(expr, sp.Basic) and expr.has(*STRUCTURED)
