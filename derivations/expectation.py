"""Expectations under Gaussian measures by moments, not by ``integrate``.

A Gaussian variable z ~ N(m, v) is rewritten z = m + sqrt(v) * eps; a polynomial in eps is
averaged term by term with E[eps^k] = (k - 1)!! for even k and 0 for odd k. Log-densities of
Gaussians are polynomials in their variable (``log_normal``), so KL divergences, ELBOs and
score-matching losses all reduce to moments. Nested measures such as q(z1|x) q(z2|z1) are
listed outermost first and integrated innermost first, so a mean may depend on earlier
variables. This is exact and far faster than ``sympy.integrate`` or ``sympy.stats`` (which the
benchmarks compare against).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .symbols import as_expr


class NotPolynomial(ValueError):
    """The integrand is not a polynomial in the Gaussian variable; no moment route applies."""


@dataclass(frozen=True)
class Normal:
    """z ~ N(mean, var); ``mean`` and ``var`` may depend on variables listed before it."""

    variable: sp.Symbol
    mean: sp.Expr
    var: sp.Expr


def std_normal_moment(k: int) -> sp.Integer:
    return sp.Integer(0) if k % 2 else sp.factorial2(k - 1) if k else sp.Integer(1)


def _average_out(expr, g: Normal) -> sp.Expr:
    eps = sp.Dummy("eps")
    expr = sp.expand(as_expr(expr).xreplace({g.variable: g.mean + sp.sqrt(g.var) * eps}))
    if not expr.has(eps):
        return expr
    try:
        poly = sp.Poly(expr, eps)
    except sp.PolynomialError as exc:
        raise NotPolynomial(f"not a polynomial in {g.variable}: {expr}") from exc
    if any(c.has(eps) for c in poly.coeffs()):
        raise NotPolynomial(f"not a polynomial in {g.variable}")
    return sp.Add(*(c * std_normal_moment(k) for (k,), c in poly.terms()))


def E(expr, *measures: Normal) -> sp.Expr:
    """E[expr] with z_i ~ measures[i], each conditional on the earlier ones."""
    for g in reversed(measures):
        expr = _average_out(expr, g)
    return sp.expand(expr)


def log_normal(x, mean, var) -> sp.Expr:
    """log N(x | mean, var), expanded: a polynomial in x."""
    return -sp.log(2 * sp.pi * var) / 2 - (x - mean) ** 2 / (2 * var)


def log_normal_diag(xs, means, variances) -> sp.Expr:
    """log N(x | mean, diag(variances)) as the sum of its coordinates."""
    return sp.Add(*(log_normal(x, m, v) for x, m, v in zip(xs, means, variances)))


# --- Gaussian integrals of densities: polynomial x exp(quadratic) -------------------------
#
# Densities, likelihood ratios and importance weights of Gaussian models are exponentials of
# quadratics. Against N(m, v) they are integrated exactly by completing the square:
#     E[p(eps) exp(a eps^2 + b eps)] = exp(b^2 / (2k)) / sqrt(k) * E[p(b/k + eta/sqrt(k))],
# with k = 1 - 2a > 0 and eta ~ N(0, 1) (the "tilted" Gaussian), and the last E is by moments.
# k <= 0 means the integral diverges; when SymPy cannot show k > 0 the operator refuses.


class Divergent(ValueError):
    """E[exp(a eps^2 + ...)] with 1 - 2a not provably positive: the integral may diverge."""


def _exponent(factor, eps) -> sp.Expr | None:
    """The exponent of ``factor`` if it is exp(...) (or a power of one); else None."""
    if isinstance(factor, sp.exp):
        return factor.args[0]
    if factor.is_Pow and isinstance(factor.base, sp.exp) and not factor.exp.has(eps):
        return factor.base.args[0] * factor.exp
    return None


def _positive_form(k) -> sp.Expr | None:
    """``k`` in a form whose positivity SymPy sees (so results stay visibly positive), or None."""
    for form in (lambda e: e, sp.factor, lambda e: sp.factor(sp.cancel(sp.together(e))), sp.simplify):
        candidate = form(k)
        if candidate.is_positive:
            return candidate
    return None


def _tilted_term(term, eps) -> sp.Expr:
    """E over eps ~ N(0, 1) of one product ``c * poly(eps) * exp(quadratic(eps))``."""
    coeff, dep = term.as_independent(eps, as_Add=False)
    if dep == 1:
        return term
    exponent, prefactor = sp.Integer(0), sp.Integer(1)
    for factor in sp.Mul.make_args(dep):
        e = _exponent(factor, eps)
        if e is not None:
            exponent += e
        else:
            prefactor *= factor
    try:
        q = sp.Poly(sp.expand(exponent), eps)
    except sp.PolynomialError as exc:
        raise NotPolynomial(f"exponent not polynomial in the Gaussian variable: {exponent}") from exc
    if q.degree() > 2 or any(c.has(eps) for c in q.coeffs()):
        raise NotPolynomial(f"exponent of degree {q.degree()} > 2 in the Gaussian variable")
    a, b, c = (q.coeff_monomial(eps**k) for k in (2, 1, 0))
    k = _positive_form(sp.expand(1 - 2 * a))
    if k is None:
        raise Divergent(f"cannot show 1 - 2a = {sp.expand(1 - 2 * a)} > 0: E[exp(a eps^2 + ...)] may diverge")
    eta = sp.Dummy("eta")
    shifted = as_expr(prefactor).xreplace({eps: b / k + eta / sp.sqrt(k)})
    moments = _average_out(shifted, Normal(eta, 0, 1))
    return coeff * sp.exp(c + b**2 / (2 * k)) / sp.sqrt(k) * moments


def _average_out_exp(expr, g: Normal) -> sp.Expr:
    eps = sp.Dummy("eps")
    expr = as_expr(expr).xreplace({g.variable: g.mean + sp.sqrt(g.var) * eps})
    expr = sp.expand(expr, power_exp=False, log=False)
    return sp.Add(*(_tilted_term(t, eps) for t in sp.Add.make_args(expr)))


def E_exp(expr, *measures: Normal) -> sp.Expr:
    """E[expr] for ``expr`` a sum of terms ``c * polynomial * exp(quadratic)`` in the variables.

    Same conventions as ``E`` (measures outermost first, each conditional on the earlier
    ones); covers E[p(X|Z)] = p(X), importance weights, second moments of weights. Raises
    ``Divergent`` when convergence (1 - 2a > 0) cannot be shown, ``NotPolynomial`` when the
    integrand has another form.
    """
    for g in reversed(measures):
        expr = _average_out_exp(expr, g)
    return expr


def normal_density(x, mean, var) -> sp.Expr:
    """N(x | mean, var) as exp(log_normal): the form ``E_exp`` integrates."""
    return sp.exp(log_normal(x, mean, var))


def diagonal(variables, means, variances) -> tuple[Normal, ...]:
    """Independent coordinates: N(means, diag(variances)) as a tuple of ``Normal`` measures."""
    return tuple(Normal(z, m, v) for z, m, v in zip(variables, means, variances))


def log_normal_mv(x, mean, cov) -> sp.Expr:
    """log N(x | mean, cov) for a full covariance matrix (small, explicit dimensions)."""
    x, mean, cov = sp.Matrix(x), sp.Matrix(mean), sp.Matrix(cov)
    r = x - mean
    quad = (r.T * cov.inv() * r)[0, 0]
    return -sp.log((2 * sp.pi) ** x.rows * cov.det()) / 2 - quad / 2
