"""Unit tests of the Gaussian expectation operators (derivations/expectation.py).

Differential where it can be: moments against sympy.stats, Gaussian integrals against scipy
quadrature at a point; and the operators must refuse what they cannot do (divergent or
non-quadratic exponents) instead of returning something.
"""
import math

import pytest
import sympy as sp
from scipy import integrate

from derivations.expectation import (Divergent, E, E_exp, Normal, NotPolynomial, diagonal, log_normal,
                                     log_normal_diag, log_normal_mv, normal_density)

z, z1, z2, t = (sp.Symbol(n, real=True) for n in ("z", "z1", "z2", "t"))
m = sp.Symbol("m", real=True)
v = sp.Symbol("v", positive=True)


def test_moments_agree_with_sympy_stats():
    from sympy.stats import E as stats_E, Normal as stats_Normal
    Zs = stats_Normal("Zs", m, sp.sqrt(v))
    for k in (1, 2, 3, 4):
        assert sp.simplify(E(z**k, Normal(z, m, v)) - stats_E(Zs**k)) == 0


def test_nested_measure_mean_depends_on_earlier_variable():
    # z1 ~ N(0, 1), z2 | z1 ~ N(z1, 1): E[z2^2] = 2, E[z1 z2] = 1
    q = (Normal(z1, 0, 1), Normal(z2, z1, 1))
    assert E(z2**2, *q) == 2 and E(z1 * z2, *q) == 1
    assert E_exp(z2**2, *q) == 2


def test_mgf_is_derived():
    assert sp.simplify(E_exp(sp.exp(t * z), Normal(z, m, v)) - sp.exp(t * m + t**2 * v / 2)) == 0


def test_polynomial_times_exponential():
    assert sp.simplify(E_exp(z**2 * sp.exp(z), Normal(z, 0, 1)) - 2 * sp.exp(sp.Rational(1, 2))) == 0


def test_a_density_integrates_to_one_through_importance_weights():
    # int N(z | m, v) dz = E_{N(0,1)}[N(z | m, v) / N(z | 0, 1)]
    weight = normal_density(z, m, v) / normal_density(z, 0, 1)
    assert sp.simplify(E_exp(weight, Normal(z, 0, 1))) == 1


def test_divergent_integral_is_refused():
    with pytest.raises(Divergent):
        E_exp(sp.exp(z**2), Normal(z, 0, 1))                  # E[exp(eps^2)] = infinity
    with pytest.raises(Divergent):
        E_exp(sp.exp(z**2 / 2), Normal(z, 0, v))             # finite only for v < 1: 1 - v has no known sign


def test_non_quadratic_exponent_is_refused():
    with pytest.raises(NotPolynomial):
        E_exp(sp.exp(z**3), Normal(z, 0, 1))
    with pytest.raises(NotPolynomial):
        E(sp.log(1 + z**2), Normal(z, 0, 1))


def test_gaussian_integral_matches_quadrature():
    # E_{N(m, v)}[z^2 exp(-(z - 1)^2 / 2)] at m = 0.3, v = 0.7, against scipy
    expr = z**2 * sp.exp(-(z - 1) ** 2 / 2)
    closed = float(E_exp(expr, Normal(z, sp.Rational(3, 10), sp.Rational(7, 10))))
    density = lambda y: math.exp(-(y - 0.3) ** 2 / 1.4) / math.sqrt(2 * math.pi * 0.7)  # noqa: E731
    numeric, err = integrate.quad(lambda y: y**2 * math.exp(-(y - 1) ** 2 / 2) * density(y), -30, 30)
    assert closed == pytest.approx(numeric, abs=10 * err + 1e-12)


def test_full_covariance_log_density_reduces_to_diagonal():
    xs, ms = sp.symbols("x1 x2", real=True), sp.symbols("m1 m2", real=True)
    vs = sp.symbols("v1 v2", positive=True)
    mv = log_normal_mv(xs, ms, sp.diag(*vs))
    assert sp.simplify(sp.expand_log(mv - log_normal_diag(xs, ms, vs), force=True)) == 0


def test_diagonal_helper_builds_independent_measures():
    q = diagonal([z1, z2], [m, 0], [v, 1])
    assert E(z1 * z2, *q) == 0 and E(z1**2, *q) == m**2 + v


def test_wrong_kl_from_moments_differs():
    # KL(N(m, v) || N(0, 1)) by moments; the version with +1/2 instead of -1/2 is not it
    kl = E(log_normal(z, m, v) - log_normal(z, 0, 1), Normal(z, m, v))
    right = (v + m**2 - 1 - sp.log(v)) / 2
    assert sp.simplify(kl - right) == 0
    assert sp.simplify(kl - (right + 1)) != 0
