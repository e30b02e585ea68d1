"""Unit tests of the loss -> f-divergence mechanism (``derivations.fdiv`` and its helpers).

Each expected value below is an independent textbook fact compared through a proof (region by
region, or on two-point spaces), never a string match; and each check is shown able to fail on a
deliberately wrong claim, with a counterexample.
"""
from __future__ import annotations


import pytest
import sympy as sp

from derivations import divergences as dv
from derivations.evidence import Status
from derivations.fdiv import (AnalysisError, FDivError, InvalidLoss, UnboundedLoss, alpha, analyse,
                              p_d, p_g, t)
from derivations.fdiv_pieces import check_on_cells, regions

a = alpha
ZERO_ONE = sp.Piecewise((1, a <= 0), (0, True))
HINGE = sp.Max(0, 1 - a)
SQUARED_HINGE = sp.Max(0, 1 - a) ** 2
MODIFIED_HUBER = sp.Piecewise((sp.Max(0, 1 - a) ** 2, a >= -1), (-4 * a, True))


@pytest.fixture(scope="module")
def results():
    losses = {"zero_one": ZERO_ONE, "square": (1 - a) ** 2, "logistic": sp.log(1 + sp.exp(-a)),
              "hinge": HINGE, "exponential": sp.exp(-a)}
    return {k: analyse(v, prove=False) for k, v in losses.items()}


def _proved(ev):
    assert ev.status is Status.PROVED, ev.detail
    return ev


def _refuted(ev):
    assert ev.status is Status.REFUTED, ev.detail
    assert ev.counterexample, "a refutation must come with a counterexample"
    return ev


# --- the named-divergence table is consistent with itself -------------------------------------
@pytest.mark.parametrize("div", dv.TABLE, ids=lambda d: d.name)
def test_generator_matches_integrand(div):
    """p_g f_N(p_d/p_g) = n(p_d, p_g): the two independently written forms of each divergence."""
    _proved(dv.check_integrands(p_g * div.generator.subs(t, p_d / p_g), "=", div.integrand))
    assert sp.simplify(div.generator.subs(t, 1)) == 0


def test_integrand_check_refutes_a_wrong_divergence():
    tv = dv.TABLE[0]
    _refuted(dv.check_integrands(p_g * tv.generator.subs(t, p_d / p_g), "=", sp.Abs(p_d - p_g)))


# --- the five losses: f, D*, divergence (independent textbook forms, proved equal) ------------
TEXTBOOK_F = {"zero_one": -sp.Min(t, 1), "square": -4 * t / (t + 1),
              "logistic": t * sp.log(t) - (t + 1) * sp.log(t + 1), "hinge": -2 * sp.Min(t, 1),
              "exponential": -2 * sp.sqrt(t)}
TEXTBOOK_RISK = {"zero_one": (1 - dv.TABLE[0].symbol) / 2, "square": 1 - dv.TABLE[1].symbol / 2,
                 "logistic": sp.log(2) - dv.TABLE[2].symbol, "hinge": 1 - dv.TABLE[0].symbol,
                 "exponential": dv.BC}


@pytest.mark.parametrize("name", list(TEXTBOOK_F))
def test_f_and_risk_of_the_five_losses(results, name):
    res = results[name]
    _proved(res.accepts_f(TEXTBOOK_F[name]))
    _proved(res.accepts_risk(TEXTBOOK_RISK[name]))
    assert res.match is not None


def test_divergence_names(results):
    names = {k: r.match.divergence.name for k, r in results.items()}
    assert names == {"zero_one": "TV", "square": "Delta", "logistic": "JS", "hinge": "TV",
                     "exponential": "H2"}


def test_normalisation_constant_is_f_at_1(results):
    for res in results.values():
        assert sp.simplify(res.match.b - res.f_at_1) == 0
    assert sp.simplify(results["logistic"].f_at_1 + 2 * sp.log(2)) == 0


def test_unique_minimisers(results):
    _proved(results["square"].accepts_dstar((p_d - p_g) / (p_d + p_g)))
    _proved(results["logistic"].accepts_dstar(sp.log(p_d) - sp.log(p_g)))
    _proved(results["exponential"].accepts_dstar(sp.log(p_d / p_g) / 2))
    assert results["square"].unique and not results["square"].set_valued


def test_zero_one_minimiser_set(results):
    res = results["zero_one"]
    assert res.set_valued and not res.unique
    for member in (sp.sign(p_d - p_g), (p_d - p_g) / (p_d + p_g), sp.log(p_d / p_g), 7 * (p_d - p_g)):
        ev = _proved(res.accepts_dstar(member))
    assert ev.extra.get("ties_ok") is False  # D = 0 at p_d = p_g costs l(0)(p_d + p_g): remarked
    ev = _proved(res.accepts_dstar(sp.sign(p_d - p_g)))
    assert "p_d = p_g" in ev.detail


def test_wrong_dstar_is_refuted_with_densities(results):
    """The seed's D* = sign(p_g - p_d) for the 0-1 loss, and a non-homogeneous near miss."""
    ev = _refuted(results["zero_one"].accepts_dstar(sp.sign(p_g - p_d)))
    cx = ev.counterexample
    assert {"p_d", "p_g"} <= set(cx)
    ev = _refuted(results["zero_one"].accepts_dstar(p_d - 2 * p_g))
    assert 1 < ev.counterexample["p_d"] / ev.counterexample["p_g"] < 2
    _refuted(results["hinge"].accepts_dstar((p_d - p_g) / (p_d + p_g)))
    _refuted(results["logistic"].accepts_dstar(sp.log(p_d / p_d)))


def test_wrong_f_is_refuted(results):
    _refuted(results["zero_one"].accepts_f(-sp.Max(t, 1)))
    _refuted(results["square"].accepts_f(-4 * t / (t + 1) + (t - 1)))  # same divergence, other f


def test_wrong_risk_is_refuted_on_two_point_spaces(results):
    """The seed's "R = 1 - I_f" (f = -4t/(t+1)) for the square loss is wrong by a factor."""
    res = results["square"]
    i_seed = sp.Symbol("I_seed", positive=True)
    defs = {**dv.DEFINITIONS, i_seed: p_g * (-4 * t / (t + 1)).subs(t, p_d / p_g)}
    i_f = sp.Symbol("I_f", positive=True)
    ev = _refuted(dv.check_two_point(1 - i_seed, -i_f / 2, {**defs, i_f: p_g * res.f.subs(t, p_d / p_g)}))
    assert {"q", "r"} <= set(ev.counterexample)
    _proved(dv.check_two_point(1 - i_seed / 2 - 1, -i_f / 2, {**defs, i_f: p_g * res.f.subs(t, p_d / p_g)}))
    _refuted(results["zero_one"].accepts_risk(1 - dv.TABLE[0].symbol))       # hinge's risk
    _refuted(results["exponential"].accepts_risk(1 - dv.TABLE[3].symbol / 2))  # other H^2 convention


# --- full evidence ------------------------------------------------------------------------
@pytest.mark.parametrize("loss", [ZERO_ONE, HINGE, (1 - a) ** 2], ids=["zero_one", "hinge", "square"])
def test_all_evidence_proved(loss):
    res = analyse(loss)
    bad = {k: v.detail for k, v in res.evidence.items() if v.status is not Status.PROVED}
    assert not bad
    assert {"convex", "monotone", "divergence", "risk"} <= set(res.evidence)


def test_convexity_and_monotonicity_can_fail():
    from derivations.fdiv_checks import convexity, monotonicity
    _refuted(convexity(sp.Min(t, 1)))       # concave kink
    _refuted(convexity(-sp.log(t) * -1))    # log t is concave
    _refuted(monotonicity(2 * sp.sqrt(t)))
    _proved(convexity(-sp.Min(t, 1)))


# --- losses a user may try -------------------------------------------------------------------
@pytest.mark.parametrize("loss,f,divergence", [
    (SQUARED_HINGE, -4 * t / (t + 1), "Delta"),
    (MODIFIED_HUBER, -4 * t / (t + 1), "Delta"),
    (sp.exp(-2 * a), -2 * sp.sqrt(t), "H2"),
    (sp.log(1 + sp.exp(-2 * a)), t * sp.log(t) - (t + 1) * sp.log(t + 1), "JS"),
    (sp.Heaviside(-a), -sp.Min(t, 1), "TV"),
], ids=["squared_hinge", "modified_huber", "exp2", "logistic2", "heaviside"])
def test_extra_losses(loss, f, divergence):
    res = analyse(loss, prove=False)
    _proved(res.accepts_f(f))
    assert res.match.divergence.name == divergence


def test_squared_hinge_dstar_is_the_square_losses():
    res = analyse(SQUARED_HINGE, prove=False)
    assert res.unique
    _proved(res.accepts_dstar((p_d - p_g) / (p_d + p_g)))


def test_user_symbol_and_not_attained_infimum():
    x = sp.Symbol("x")
    res = analyse(sp.exp(-x), x, prove=False)
    _proved(res.accepts_f(-2 * sp.sqrt(t)))
    sigmoid = analyse(1 / (1 + sp.exp(a)), prove=False)   # inf approached as |alpha| -> oo
    assert sigmoid.dstar is None and sigmoid.match.divergence.name == "TV"


@pytest.mark.parametrize("loss,error", [
    (-a, UnboundedLoss), (a ** 3, UnboundedLoss), (sp.log(a), InvalidLoss),
    (1 / a, InvalidLoss), (sp.exp(-a) + sp.Symbol("c"), InvalidLoss),
    (1 / (a - sp.Rational(3, 10)), InvalidLoss),   # a pole the probe points miss
])
def test_invalid_losses_raise_clear_errors(loss, error):
    with pytest.raises(error) as info:
        analyse(loss, prove=False)
    assert isinstance(info.value, FDivError) and str(info.value)


def test_unbounded_message_says_why():
    with pytest.raises(UnboundedLoss, match="unbounded below"):
        analyse(-a, prove=False)


def test_no_closed_form_is_an_analysis_error():
    with pytest.raises(AnalysisError):
        analyse(sp.exp(-a) + a ** 4 * sp.exp(-a ** 2) + sp.cos(a) / 10, prove=False)


# --- region machinery ------------------------------------------------------------------------
def test_cells_refute_across_a_hidden_breakpoint():
    """A Piecewise whose kink is not a region boundary must not be resolved at the sample."""
    ev = check_on_cells(sp.Max(t, 2), "=", t, {t: regions([1], 0, sp.oo)})
    assert ev.status is Status.REFUTED


def test_describe_and_json(results):
    import json
    text = results["hinge"].describe()
    assert "total variation" in text and "p_d = p_g" in text
    json.dumps(results["zero_one"].as_dict())


def test_answers_in_plain_symbols_of_the_same_name(results):
    """A parser's p_d, t, TV (no assumptions) are read as ours."""
    pd, pg, tt, tv = sp.symbols("p_d p_g t TV")
    _proved(results["hinge"].accepts_dstar(sp.sign(pd - pg)))
    _proved(results["zero_one"].accepts_f(sp.Max(-tt, -1)))
    _proved(results["hinge"].accepts_risk(1 - tv))
    _refuted(results["hinge"].accepts_risk((1 - tv) / 2))


def test_cubic_hinge_roots_with_radicals():
    """Stationary points with sqrt(t) (and a removable pole at t = 1) are still found."""
    res = analyse(sp.Max(0, 1 - a) ** 3, prove=False)
    _proved(res.accepts_f(-8 * t / (sp.sqrt(t) + 1) ** 2))
    _proved(res.accepts_dstar((sp.sqrt(p_d) - sp.sqrt(p_g)) / (sp.sqrt(p_d) + sp.sqrt(p_g))))
    assert res.match is None and res.risk is None
