"""The exponential-sum canonical form of ``prove``: a sum of c_i exp(E_i) is 0 when, grouped by
exponents proved equal, every group's prefactors sum to 0. It proves vae.prior_mc's certificate
identity (e^KL e^G written two ways) and must never call a nonzero sum zero."""
import sympy as sp

from derivations.evidence import Kind, Status
from derivations.prove import _exponential_sum, check_relation

x, y = sp.symbols("x y", real=True)
s = sp.Symbol("s", positive=True)


def test_groups_equal_exponents_written_differently():
    # exp(x + log(s)/2) = sqrt(s) exp(x); (x+1)^2 - x^2 - 2x is 1 written out
    expr = sp.exp(x + sp.log(s) / 2) - sp.sqrt(s) * sp.exp(x) + sp.exp((x + 1) ** 2 - x ** 2 - 2 * x) - sp.E
    assert _exponential_sum(expr) == 0


def test_a_nonzero_sum_is_never_zero():
    for wrong in (sp.exp(x) - sp.exp(2 * x),                                   # exponents differ
                  sp.exp(x) * (1 + s) - sp.exp(x) * s,                          # a prefactor sum of 1
                  sp.sqrt(s) * sp.exp(x + y) - s * sp.exp(y + x),               # sqrt(s) != s
                  sp.exp(x) - sp.exp(x) * (1 + 10 ** -12)):                     # a tiny difference
        assert _exponential_sum(wrong) != 0, wrong


def test_check_relation_proves_with_it_and_refutes_a_near_miss():
    right = check_relation(sp.exp(x + sp.log(s)) * sp.exp(y), "=", s * sp.exp(x + y))
    assert right.status is Status.PROVED and right.kind is Kind.SYMBOLIC
    near = check_relation(sp.exp(x + sp.log(s)) * sp.exp(y), "=", s * sp.exp(x + y) * (1 + sp.Rational(1, 10 ** 9)))
    assert near.status is Status.REFUTED
