"""What the catalogue's steps share: unevaluated operations and the checker that carries them out.

A step's printed claim is the relation that is checked. When a side is the *result* of an
operation (a derivative, a substitution, an expectation), building it eagerly would let SymPy
do the step's work while the catalogue is read, and the step would print as ``X = X``. So such
a side is written unevaluated (``sp.Derivative``, ``sp.Subs``, ``Expect``) and the checker
``worked`` evaluates the step's own sides before comparing them.
"""
from __future__ import annotations

import sympy as sp
from ..symbols import as_expr

from ..evidence import Evidence
from ..expectation import E, E_exp, Normal
from ..prove import check_relation


class Expect(sp.Function):
    """E[integrand] under nested Gaussian measures, unevaluated until ``doit``.

    ``Expect(integrand, (z1, m1, v1), (z2, m2, v2), ...)``: z_i ~ N(m_i, v_i), outermost first,
    each conditional on the earlier ones (``expectation.E_exp`` computes it by moments).
    """

    @classmethod
    def eval(cls, *args):
        return None

    @property
    def measures(self) -> tuple[Normal, ...]:
        return tuple(Normal(*m) for m in self.args[1:])

    @property
    def free_symbols(self):
        bound = {m[0] for m in self.args[1:]}
        inner = self.args[0].free_symbols - bound
        for m in self.args[1:]:
            inner |= (m[1].free_symbols | m[2].free_symbols) - bound
        return inner

    def doit(self, **hints):
        integrand = self.args[0].doit(**hints) if hints.get("deep", True) else self.args[0]
        return (E_exp if integrand.has(sp.exp) else E)(integrand, *self.measures)

    def _eval_derivative(self, s):
        # the measures may depend on s: differentiate the computed expectation, not the integrand
        return sp.diff(self.doit(), s)

    def _latex(self, printer):
        under = r",\ ".join(rf"{printer._print(m[0])} \sim \mathcal{{N}}({printer._print(m[1])},\ "
                            rf"{printer._print(m[2])})" for m in self.args[1:])
        return rf"\mathbb{{E}}_{{{under}}}\left[{printer._print(self.args[0])}\right]"


def expect(integrand, *measures: Normal) -> Expect:
    """``Expect`` from ``expectation.Normal`` measures."""
    return Expect(integrand, *(sp.Tuple(m.variable, m.mean, m.var) for m in measures))


def carried_out(side):
    """``side`` with its unevaluated operations (Derivative, Subs, Sum, Expect) carried out."""
    if isinstance(side, sp.MatrixBase):
        return side.applyfunc(lambda e: as_expr(e).doit())
    return as_expr(side).doit() if isinstance(side, sp.Basic) else side


def worked_sides(step) -> tuple:
    """The step's own sides, built and evaluated."""
    return tuple(carried_out(side) for side in step.sides())


def worked(step) -> Evidence:
    """Checker: carry out the step's unevaluated operations, then prove the relation between
    its sides (with the step's gap certificate, if any)."""
    lhs, rhs = worked_sides(step)
    return check_relation(lhs, step.rel, rhs, step.assume, step.family, gap=step.certificate())
