"""Q3: GAN discriminators and f-divergences (slots ``gan.*``).

Source: the seed's Q3 (R_l(D) = E_{(x,y)~P}[l(y D(x))], P = 1/2 P_d + 1/2 P_g, y = +1 for
data, -1 for generated; sections 3.3.1, 3.3.4, 3.3.5 of its solution) and the outline's Q3.

Notation key: alpha = D(x) (the margin's argument); t = p_d(x)/p_g(x); the pointwise objective
is l(alpha) t + l(-alpha); f(t) = -inf_alpha of it; I_f = \\int f(p_d/p_g) p_g dx.

The five losses below are the only thing written by hand. Every reference (D*, f, the best
risk and its named divergence) is computed from the loss by ``derivations.fdiv.analyse``, and
every step re-checks one of its claims from the loss (``derivations.fdiv_checks``).

What a grader compares an answer with (slot representations):
- ``gan.<loss>.dstar``: an expression in p_d, p_g (> 0). ``accepts`` decides whether an answer
  is an optimal discriminator (l(D) p_d + l(-D) p_g equals the pointwise infimum on every
  region of p_d/p_g); for the 0-1 and hinge losses the optimum is a set and the reference is one
  member (sign(p_d - p_g)); failing only at the ties p_d = p_g is remarked, not refused.
- ``gan.<loss>.f``: an expression in t > 0; ``accepts`` proves equality region by region, so
  -min(t, 1), max(-t, -1) and a Piecewise are all the same answer.
- ``gan.<loss>.risk``: the best risk in named divergences TV, Delta, JS, H2 (also BC, KL, KLrev,
  chi2); ``definitions`` maps each name to its integrand in p_d, p_g (the name stands for the
  integral over x), constants stand for themselves (\\int p_d = \\int p_g = 1). ``accepts``
  compares on every two-point space, so any right normalisation passes and a wrong constant
  (the seed's "R = 1 - I_f") is refuted with two explicit distributions.
- ``gan.<loss>.convex``: structural: f is convex and non-increasing on t > 0. The reference is
  f itself; ``definitions`` give f' and f'' (region-wise, as Piecewise where f has kinks).
"""
from __future__ import annotations

import sympy as sp

from .. import fdiv_checks as checks
from .. import nonneg
from ..divergences import DEFINITIONS, TABLE, check_integrands, check_two_point, p_d, p_g, t, t_regions
from ..evidence import Evidence, unchecked
from ..fdiv import alpha, analyse, set_text
from ..fdiv_pieces import check_on_cells, combine, to_piecewise
from ..printing import latex
from ..prove import check_relation
from ..registry import derivation, slot
from ..startup_cache import cached
from ..step import Step
from ..symbols import declare
from .common import worked, worked_sides

SOURCE = "seed Q3 (sections 3.3.1-3.3.5); outline Q3"

LOSSES = {  # name -> (title, l(alpha))
    "zero_one": ("0-1 loss 1[alpha <= 0]", sp.Piecewise((1, alpha <= 0), (0, True))),
    "square": ("square loss (1 - alpha)^2", (1 - alpha) ** 2),
    "logistic": ("logistic loss log(1 + e^{-alpha})", sp.log(1 + sp.exp(-alpha))),
    "hinge": ("hinge loss max(0, 1 - alpha)", sp.Max(0, 1 - alpha)),
    "exponential": ("exponential loss e^{-alpha}", sp.exp(-alpha)),
}


def _analysed(loss):
    res = analyse(loss, alpha, prove=False)
    res.f_at_1, res.dstar                  # noqa: B018  (cached properties, stored with the result)
    return res


RESULTS = {name: cached("fdiv", sp.srepr((loss, alpha, "prove=False")),   # computed once, kept on disk
                        lambda loss=loss: _analysed(loss))
           for name, (_, loss) in LOSSES.items()}
NAMED = tuple(DEFINITIONS)
I_f = sp.Symbol("I_f", positive=True)

# --- the general statements ---------------------------------------------------------------
l = sp.Function("l")
D = declare("D", "D", meaning="discriminator output D(x) at one x")
RISK_INTEGRAND = sp.Rational(1, 2) * (l(D) * p_d + l(-D) * p_g)
OBJECTIVE = l(alpha) * t + l(-alpha)

slot("gan.risk_integral",
     "R_l(D) = E_{(x,y)~P}[l(y D(x))] = 1/2 \\int [l(D(x)) p_d(x) + l(-D(x)) p_g(x)] dx; the "
     "reference is the integrand. Pointwise minimisation (unlimited capacity) gives "
     "R_l(D*) = -1/2 \\int f(p_d/p_g) p_g dx = -1/2 I_f(P_d, P_g).",
     reference=RISK_INTEGRAND, symbols=(D, p_d, p_g), functions=(l,),
     latex=r"\frac{1}{2}\left[\ell(D)\, p_d + \ell(-D)\, p_g\right]")
slot("gan.general.f",
     "f(t) = -inf_alpha [l(alpha) t + l(-alpha)] = sup_alpha [-(l(alpha) t + l(-alpha))]: a "
     "supremum of affine functions of t (so convex; non-increasing when l >= 0); the reference "
     "is the objective inside the infimum.",
     reference=OBJECTIVE, symbols=(alpha, t), functions=(l,), kind="structural",
     latex=r"f(t) = -\inf_{\alpha}\left[\ell(\alpha)\, t + \ell(-\alpha)\right]")

_k = sp.Symbol("k", integer=True, nonnegative=True)   # the label y = 2k - 1: k = 1 data, k = 0 generated
_mixture = sp.Sum(sp.Rational(1, 2) * (_k * p_d + (1 - _k) * p_g) * l((2 * _k - 1) * D), (_k, 0, 1))
derivation("gan.general", "The risk of a margin loss as an integral, and f as a supremum of affine maps", [
    Step(_mixture, "=", RISK_INTEGRAND,
         "E over (x, y) ~ P: y = +1 with probability 1/2 and x ~ p_d, y = -1 with probability 1/2 "
         "and x ~ p_g (the sum runs over the label y = 2k - 1); the integrand of R_l(D)",
         establishes=("gan.risk_integral",), cite="seed Q3 part 1", check=worked),
    Step(RISK_INTEGRAND, "=", p_g / 2 * OBJECTIVE.subs(alpha, D).subs(t, p_d / p_g),
         "factor p_g > 0: the integrand is p_g/2 times the pointwise objective at t = p_d/p_g, so "
         "with unlimited capacity inf_D R = 1/2 \\int p_g inf_alpha[...] dx = -1/2 I_f",
         establishes=("gan.risk_integral",)),
    Step(sp.Derivative(OBJECTIVE, (t, 2)), "=", 0,
         "for each alpha the objective is affine in t, so f = sup_alpha of affine maps is convex",
         establishes=("gan.general.f",), check=worked),
    Step(sp.Derivative(-OBJECTIVE, t), "=", -l(alpha),
         "the slope in t of each affine map is -l(alpha) <= 0 when l >= 0, so f is non-increasing",
         establishes=("gan.general.f",), check=worked),
    Step(OBJECTIVE.subs(alpha, -alpha), "=", t * OBJECTIVE.subs(t, 1 / t),
         "alpha -> -alpha maps the problem at t to t times the problem at 1/t: f(t) = t f(1/t) "
         "(the divergence is symmetric in P_d, P_g)", establishes=("gan.general.f",)),
], source=SOURCE)


# the question's own name for the divergence of the loss's f: R = -1/2 I_f(P_d || P_g), I_f = \int f(p_d/p_g) p_g
I_F = declare("I_f_loss", "I_f", aliases=(r"\mathbb{I}_f", r"\mathbb{I}_{f}", "D_f", r"\mathbb{D}_f", r"\mathcal{I}_f"),
              meaning="the f-divergence of the slot's loss, \\int f(p_d/p_g) p_g dx (the question's I_f; f <= 0, so "
                      "it is <= 0)")


def _i_f_integrand(res):
    return p_g * res.f.subs(t, p_d / p_g)


def _risk_acceptance(res):
    """The loss's own risk test; an answer written with I_f (the question's name for the f-divergence
    of this loss's f) is compared on every two-point space with I_f as its integral."""
    def accepts(answer):
        if isinstance(answer, sp.Basic) and answer.has(I_F):
            defs = {**DEFINITIONS, I_F: _i_f_integrand(res)}
            return check_two_point(checks._canonical(answer), res.risk, defs)
        return res.accepts_risk(answer)
    return accepts


# --- one loss ------------------------------------------------------------------------------
def _derivative_defs(f) -> dict:
    pw = to_piecewise(f)
    return {"f_prime": sp.diff(pw, t), "f_second": sp.diff(pw, t, 2)}


def _register(name: str, title: str) -> None:
    res = RESULTS[name]
    prefix = f"gan.{name}"
    obj, f, a_star = res.objective, res.f, res.dstar_t
    slot(f"{prefix}.dstar", f"optimal discriminator for the {title}: D*(x) = alpha*(p_d(x)/p_g(x))"
         + (" (a set: any D in it is optimal; the reference is one member)" if res.set_valued else ""),
         reference=res.dstar, symbols=(p_d, p_g), accepts=res.accepts_dstar,
         definitions={t: p_d / p_g},              # the question's ratio t = p_d/p_g
         kind="set" if res.set_valued else "expression")
    slot(f"{prefix}.f", f"f(t) = -inf_alpha [l(alpha) t + l(-alpha)] for the {title}",
         reference=f, symbols=(t,), accepts=res.accepts_f)
    slot(f"{prefix}.risk", f"best risk R_l(D*) = -1/2 I_f for the {title}, in named divergences (I_f, the "
         f"question's \\mathbb{{I}}_f(\\mathbb{{P}}_d \\Vert \\mathbb{{P}}_g), is \\int f(p_d/p_g) p_g dx with this loss's f)",
         reference=res.risk, symbols=NAMED, definitions={**DEFINITIONS, I_F: _i_f_integrand(res)},
         accepts=_risk_acceptance(res))
    slot(f"{prefix}.convex", f"f of the {title} is convex and non-increasing on t > 0",
         reference=f, symbols=(t,), kind="structural", definitions=_derivative_defs(f))

    S = {k: (f"{prefix}.{k}",) for k in ("dstar", "f", "risk", "convex")}
    at_best = sp.Subs(obj, alpha, a_star)          # the objective at alpha*(t), unevaluated
    steps = []
    if not res.set_valued:  # smooth, unique: stationarity and convexity in alpha
        steps += [
            Step(sp.Subs(sp.Derivative(obj, alpha), alpha, a_star), "=", 0,
                 f"stationarity: d/dalpha [l(alpha) t + l(-alpha)] vanishes at alpha*(t) = {a_star}",
                 establishes=S["dstar"], check=worked),
            Step(sp.Derivative(obj, (alpha, 2)), ">=", 0,
                 "the objective is convex in alpha for every t > 0, so the stationary point is its "
                 "global minimum", establishes=S["dstar"], check=worked),
        ]
    else:  # non-smooth: case analysis over the pieces, with the whole optimal set
        sets = "; ".join(f"{where}: {checks_text}" for where, checks_text in _set_lines(res))
        steps.append(Step(obj, ">=", res.pointwise.inf, f"case analysis over the pieces of l: the "
                          f"optimal set is {sets}; every alpha in it attains the infimum, every other "
                          f"alpha is strictly worse", establishes=S["dstar"],
                          check=lambda step, r=res: minimiser_set(r, step),
                          claim_latex=rf"{latex(obj)} \ge {latex(res.pointwise.inf)},\ \text{{with equality "
                                      rf"exactly for }} \alpha \in \{{{sets}\}}"))
    steps += [
        Step(obj, ">=", at_best,
             "global minimality checked directly from the loss, for every alpha and every t off "
             "the ties" + (f"; the gap is {GAP_REASONS[name]}" if name in GAP_REASONS else ""),
             establishes=S["dstar"], gap=GAPS.get(name), check=lambda step, r=res: global_minimum(r, step)),
        Step(res.dstar, "=", sp.Subs(a_star, t, p_d / p_g), "D*(x) = alpha*(t) at t = p_d(x)/p_g(x)",
             establishes=S["dstar"], check=lambda step: check_integrands(*_rel(step))),
        Step(f, "=", -at_best, "f(t) = -(objective at the minimiser)",
             establishes=S["f"], check=lambda step, r=res: on_t_regions(step, checks._open_t_regions(r))),
        Step(f, "=", t * sp.Subs(f, t, 1 / t), "cross-check: f(t) = t f(1/t)",
             establishes=S["f"], check=lambda step: on_t_regions(step)),
        Step(sp.Subs(f, t, 1), "=", res.f_at_1, "f(1): the constant by which f is shifted from a "
             "generator with f(1) = 0", establishes=S["f"], check=worked),
        Step(sp.Derivative(to_piecewise(f), (t, 2)), ">=", 0, "f'' >= 0 between kinks, slope non-decreasing "
             "across them: f is convex", establishes=S["convex"], check=lambda step: shape(step, "convex")),
        Step(sp.Derivative(to_piecewise(f), t), "<=", 0, "f' <= 0 between kinks, f continuous: f is "
             "non-increasing", establishes=S["convex"], check=lambda step: shape(step, "monotone")),
    ]
    if res.match is not None:
        m = res.match
        lhs, rhs = m.integrands(f)
        steps += [
            Step(lhs, "=", rhs, f"the integrands agree for all p_d, p_g > 0: {m.normalisation()}",
                 establishes=S["risk"], check=lambda step: check_integrands(*_rel(step))),
            Step(res.risk, "=", -I_f / 2, f"integrate: c (p_d - p_g) gives 0 and b p_g "
                 f"gives b, so R = -1/2 I_f = {m.risk}; cross-checked on every two-point space",
                 establishes=S["risk"], check=lambda step, r=res: two_point(step, _risk_definitions(r)),
                 claim_latex=rf"R_\ell(D^*) = {latex(m.risk)} = -\tfrac12 I_f"),
        ]
    steps += _audits(name, res)
    derivation(prefix, f"{title}: optimal discriminator, f and best risk", steps, source=SOURCE)


# --- the checkers: each compares the step's own sides ------------------------------------
def _rel(step) -> tuple:
    lhs, rhs = worked_sides(step)
    return lhs, step.rel, rhs


def on_t_regions(step, grid=None) -> Evidence:
    """The step's relation on every open region of t (between the breakpoints of both sides,
    or the given regions)."""
    lhs, rel, rhs = _rel(step)
    regions_t = grid if grid is not None else [r for r in t_regions(lhs, rhs) if not r.point]
    return check_on_cells(lhs, rel, rhs, {t: regions_t}, symbolic_seconds=checks.SECONDS)


def two_point(step, definitions) -> Evidence:
    """The step's sides, statements about divergences, equal on every two-point space (an
    equality only: two-point spaces say nothing about an ordering for all distributions)."""
    lhs, rel, rhs = _rel(step)
    if rel != "=":
        return unchecked(f"a two-point check decides equalities, not {rel}")
    return check_two_point(lhs, rhs, definitions)


def _risk_definitions(res) -> dict:
    return {**DEFINITIONS, I_f: p_g * res.f.subs(t, p_d / p_g)}


def global_minimum(res, step) -> Evidence:
    """lhs >= rhs for every alpha and every t off the ties: from the gap certificate when the
    step has one (a smooth loss), else cell by cell over the pieces of both sides."""
    lhs, rel, rhs = _rel(step)
    gap = step.certificate()
    if gap is not None:
        return check_relation(lhs, rel, rhs, step.assume, gap=gap)
    grid = {alpha: checks.alpha_regions(res, lhs, rhs), t: checks._open_t_regions(res)}
    return check_on_cells(lhs, rel, rhs, grid, symbolic_seconds=checks.SECONDS)


def minimiser_set(res, step) -> Evidence:
    """lhs >= rhs on every region of t, with equality exactly for alpha in the optimal set: on
    each piece of alpha inside the set lhs = rhs, on each piece outside lhs > rhs."""
    lhs, rel, rhs = _rel(step)
    if rel != ">=":     # the claim is not the minimality this checker proves: decide it as stated
        grid = {alpha: checks.alpha_regions(res, lhs, rhs), t: checks._open_t_regions(res)}
        return check_on_cells(lhs, rel, rhs, grid, symbolic_seconds=checks.SECONDS)
    parts = []
    for rm in res.pointwise.regions:
        if rm.argmin.has(t):
            return unchecked("the minimiser depends on t: uniqueness comes from convexity in alpha")
        for ar in checks.alpha_regions(res, lhs, extra=checks.argmin_ends(rm.argmin)):
            inside = rm.argmin.contains(ar.sample()) is sp.true
            ev = check_on_cells(lhs, "=" if inside else ">", rhs, {alpha: [ar], t: [rm.region]},
                                symbolic_seconds=checks.SECONDS)
            parts.append((f"t in {rm.region}, alpha in {ar} ({'inside' if inside else 'outside'})", ev))
    return combine(parts)


def shape(step, which: str) -> Evidence:
    """f'' >= 0 (convex) or f' <= 0 (monotone) between kinks, from the step's sides; when the
    left side is the derivative of f, also f continuous at each kink and (convex) its slope
    not dropping there."""
    base = step.sides()[0]
    lhs, rel, rhs = _rel(step)
    f = base.expr if isinstance(base, sp.Derivative) else None
    grid = {t: [r for r in t_regions(f if f is not None else lhs, lhs, rhs) if not r.point]}
    parts = [(f"{'the second' if which == 'convex' else 'the first'} derivative {rel} {rhs}",
              check_on_cells(lhs, rel, rhs, grid, symbolic_seconds=checks.SECONDS))]
    if f is not None:
        kinks = checks._kinks(f)
        parts += kinks if which == "convex" else [p for p in kinks if p[0].startswith("f continuous")]
    return combine(parts)


# gap certificates of global minimality (objective - objective at alpha*), each >= 0
GAPS = {
    "square": (1 + t) * (alpha - (t - 1) / (t + 1)) ** 2,
    "logistic": (1 + t) * nonneg.BernoulliKL(t / (1 + t), 1 / (1 + sp.exp(-alpha))),
    "exponential": (sp.sqrt(t) * sp.exp(-alpha / 2) - sp.exp(alpha / 2)) ** 2,
}
GAP_REASONS = {
    "square": "(1 + t)(alpha - alpha*)^2",
    "logistic": "(1 + t) KL(Bern(t/(1 + t)) || Bern(sigmoid(alpha))) >= 0",
    "exponential": "(sqrt(t) e^{-alpha/2} - e^{alpha/2})^2",
}


def _set_lines(res):
    return [(where, set_text(s)) for where, s in res.minimisers()]


# --- claims quoted from the seed's solution: tested, not asserted ---------------------------
I_seed = sp.Symbol("I_f_seed", positive=True)
TV, Delta, JS = (d.symbol for d in TABLE[:3])


def _both_optimal(res, step) -> Evidence:
    """Both sides of a claimed D* are optimal discriminators (equal as far as the risk sees)."""
    lhs, _, rhs = _rel(step)
    return combine([("the claim", res.accepts_dstar(lhs)), ("the reference", res.accepts_dstar(rhs))])


def _audit_dstar(res, claim, why, latex):
    return Step(claim, "=", sp.Subs(res.dstar_t, t, p_d / p_g), why, audit="seed", claim_latex=latex,
                check=lambda step: _both_optimal(res, step))


def _audit_risk(res, claim, why, latex, definitions=None):
    defs = {**DEFINITIONS, **(definitions or {})}
    defs[I_f] = p_g * res.f.subs(t, p_d / p_g)
    return Step(claim, "=", -I_f / 2, why, audit="seed", claim_latex=latex,
                check=lambda step: two_point(step, defs))


def _audits(name, res) -> list[Step]:
    if name == "zero_one":
        return [_audit_dstar(res, sp.sign(p_g - p_d), "seed 3.3.1: D*(x) = sign(p_g(x) - p_d(x))",
                             r"D^*(x) = \operatorname{sign}(p_g(x) - p_d(x))"),
                _audit_risk(res, (1 - TV) / 2, "seed 3.3.1: R = 1/2 (1 - I_TV)",
                            r"R_{0-1} = \tfrac12\left(1 - \mathbb{I}_{TV}\right)")]
    if name == "square":
        seed_f = -4 * t / (t + 1)
        return [_audit_dstar(res, (p_d - p_g) / (p_d + p_g), "seed 3.3.4: D* = (p_d - p_g)/(p_d + p_g)",
                             r"D^*(x) = \frac{p_d(x) - p_g(x)}{p_d(x) + p_g(x)}"),
                Step(seed_f, "=", -sp.Subs(res.objective, alpha, res.dstar_t), "seed 3.3.4: f(t) = -4t/(t + 1)",
                     audit="seed",
                     check=lambda step: on_t_regions(step)),
                _audit_risk(res, 1 - Delta / 2, "seed 3.3.4: R = 1/2 [2 - \\int (p_d - p_g)^2/(p_d + p_g)]",
                            r"R_{sqr} = \tfrac12\left[2 - \int \frac{(p_d - p_g)^2}{p_d + p_g}\,dx\right]"),
                _audit_risk(res, 1 - I_seed, "seed 3.3.4: R = 1 - I_f, reading 1: I_f with the question's f, "
                            "f(t) = -4t/(t + 1) (false)",
                            r"R_{sqr} = 1 - \mathbb{I}_f,\quad f(t) = \frac{-4t}{t+1}",
                            {I_seed: p_g * seed_f.subs(t, p_d / p_g)}),
                _audit_risk(res, 1 - Delta, "seed 3.3.4: R = 1 - I_f, reading 2: I_f the triangular discrimination "
                            "its text names, Delta = \\int (p_d - p_g)^2/(p_d + p_g) (false too: R = 1 - Delta/2); "
                            "no reading makes the printed line true",
                            r"R_{sqr} = 1 - \mathbb{I}_f,\quad \mathbb{I}_f = \Delta = "
                            r"\int \frac{(p_d - p_g)^2}{p_d + p_g}\,dx")]
    if name == "logistic":
        return [_audit_dstar(res, sp.log(p_d / p_d), "seed 3.3.5: D*(x) = log(p_d(x)/p_d(x)) (sic)",
                             r"D^*(x) = \log\frac{p_d(x)}{p_d(x)}"),
                _audit_risk(res, sp.log(2) - JS, "seed 3.3.5: R = log 2 - I_JS",
                            r"R = \log 2 - \mathbb{I}_{JS}")]
    return []


for _name, (_title, _) in LOSSES.items():
    _register(_name, _title)
