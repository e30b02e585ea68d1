"""GAN losses as f-divergences: from a margin loss l(alpha) to the optimal discriminator, the
generator f, its convexity and monotonicity, and the best risk as a named divergence.

Source: the seed's Q3 and the outline's ``gan.*`` slots. Notation key:
  alpha          D(x), the discriminator's output (a margin: the loss is l(y D(x)))
  t              p_d(x)/p_g(x) > 0
  objective      l(alpha) t + l(-alpha); the risk's integrand is p_g/2 times it
  f(t)           -inf_alpha [l(alpha) t + l(-alpha)]
  D*(x)          alpha*(p_d(x)/p_g(x)), a minimiser (a set for the 0-1 and hinge losses)
  R_l(D*)        -1/2 I_f(P_d, P_g) = -1/2 \\int f(p_d/p_g) p_g dx

``analyse(loss, alpha)`` runs one mechanism for every loss (``fdiv_pointwise.solve``: pieces,
limits, stationary points, crossings), recognises f among the named divergences up to
a f_N + b + c (t - 1) (``divergences.identify``), and, unless ``prove=False``, attaches the
evidence of ``fdiv_checks`` (stationarity and convexity in alpha, the minimiser set, convexity
and monotonicity of f, the integrand identity). Nothing about any particular loss is stored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from .symbols import as_expr

from . import fdiv_checks as checks
from .divergences import Match, identify, p_d, p_g, t
from .evidence import Evidence, unchecked
from .fdiv_pieces import is_smooth
from .fdiv_pointwise import (AnalysisError, FDivError, InvalidLoss, Pointwise, UnboundedLoss,
                             cancel_radicals, solve, tidy)
from .printing import latex
from .symbols import declare

alpha = declare("alpha", r"\alpha", meaning="discriminator output D(x), argument of the margin loss")

__all__ = ["analyse", "FDivResult", "FDivError", "InvalidLoss", "UnboundedLoss", "AnalysisError",
           "alpha", "t", "p_d", "p_g"]


def in_densities(expr) -> sp.Expr:
    """An expression in t rewritten in p_d, p_g (t = p_d/p_g, p_g > 0 pulled out of signs)."""
    expr = as_expr(expr)
    if isinstance(expr, sp.Piecewise):  # branch by branch; t < c reads p_d < c p_g
        def cond(c):
            if isinstance(c, sp.core.relational.Relational) and c.lhs == t and c.rhs.is_number:
                return c.func(p_d, c.rhs * p_g)
            return c.subs(t, p_d / p_g)
        return sp.Piecewise(*[(in_densities(e), cond(c)) for e, c in expr.args])
    e = expr.subs(t, p_d / p_g)
    e = e.replace(lambda x: isinstance(x, (sp.sign, sp.Heaviside)),
                  lambda x: x.func(sp.factor(sp.together(x.args[0])) * p_g, *x.args[1:]))
    e = cancel_radicals(sp.cancel(e)) if not e.has(sp.log, sp.exp, sp.Piecewise) else e
    e = _no_leading_minus(e)
    return e.replace(lambda x: isinstance(x, sp.Function) and not isinstance(x, (sp.sign, sp.Heaviside,
                                                                               sp.Piecewise))
                     and isinstance(x.args[0], sp.Expr) and not x.args[0].is_Atom,
                     lambda x: x.func(sp.factor(sp.cancel(sp.together(x.args[0]))), *x.args[1:]))


def _no_leading_minus(e) -> sp.Expr:
    """-(p_g - p_d)/(p_d + p_g) -> (p_d - p_g)/(p_d + p_g): the -1 taken into a sum factor."""
    c, rest = e.as_coeff_Mul()
    if not e.is_Mul or not c.is_negative:
        return e
    factors = list(sp.Mul.make_args(rest))
    negatives = lambda f: sum(1 for a in f.args if a.could_extract_minus_sign())
    for i, f in enumerate(factors):
        if f.is_Add and 2 * negatives(f) >= len(f.args):
            factors[i] = sp.Add(*(-a for a in f.args))
            return sp.Mul(-c, *factors)
    return e


def ratio_text(region) -> str:
    """The region of t in words about the densities: 'p_d < p_g', 'p_d = 2*p_g', ..."""
    return _ratio_words(region, lambda k: "p_g" if k == 1 else f"{k}*p_g")


def _ratio_words(region, scaled) -> str:
    """The region of t about the densities, each bound k written as ``scaled(k)`` (k p_g)."""
    if not region.point and region.lo == 0 and region.hi.is_infinite:
        return "everywhere"
    if region.point:
        return f"p_d = {scaled(region.lo)}"
    lo = "" if region.lo == 0 else f"{scaled(region.lo)} < "
    hi = "" if region.hi.is_infinite else f" < {scaled(region.hi)}"
    return f"{lo}p_d{hi}"


def set_text(s: sp.Set, name: str = "D") -> str:
    """A minimiser set in words: 'D < 0', 'D = 1', '-1 <= D <= 1', 'any D', 'none'."""
    return _set_words(s, name, str, "<=")


def _set_words(s: sp.Set, name: str, show, le: str) -> str:
    """A minimiser set in words, its numbers written by ``show`` (str or LaTeX) and <= as ``le``."""
    if s is sp.S.EmptySet:
        return "none (the infimum is only approached)"
    if s == sp.S.Reals:
        return f"any {name}"
    if isinstance(s, sp.Union):
        return " or ".join(_set_words(p, name, show, le) for p in s.args)
    if isinstance(s, sp.FiniteSet):
        return " or ".join(f"{name} = {show(v)}" for v in s.args)
    if not isinstance(s, sp.Interval):
        return _set_sentence(s, name)
    lo = "" if s.inf.is_infinite else f"{show(s.inf)} {'<' if s.left_open else le} "
    hi = "" if s.sup.is_infinite else f" {'<' if s.right_open else le} {show(s.sup)}"
    return f"{lo}{name}{hi}"


def _set_sentence(s: sp.Set, name: str) -> str:
    """A set with no interval or list form, in words with LaTeX math: a ConditionSet (SymPy found
    no closed form) reads 'the D with <condition> (no closed form was found)'."""
    if isinstance(s, sp.ConditionSet):
        where = latex(s.condition.subs(s.sym, sp.Symbol(name)))
        domain = "" if s.base_set == sp.S.Reals else f" in {latex(s.base_set)}"
        return f"the {name}{domain} with {where} (no closed form was found)"
    return f"{name} \\in {latex(s)}"


def set_latex(s: sp.Set, name: str = "D") -> str:
    """A minimiser set as LaTeX math inside words: 'D = -1', '-1 \\le D \\le 1', 'any D', 'none ...'."""
    return _set_words(s, name, latex, r"\le")


def ratio_latex(region) -> str:
    """The region of t about the densities, in LaTeX: 'p_d < p_g', 'p_d = 2 p_g', 'everywhere'."""
    return _ratio_words(region, lambda k: "p_g" if k == 1 else f"{latex(k)} p_g")


def _element(s: sp.Set) -> sp.Expr:
    """The simplest member of a minimiser set (0, then +-1, then an end or the middle)."""
    if isinstance(s, sp.FiniteSet):
        return min(s.args, key=lambda e: (sp.count_ops(e), len(str(e))))
    if isinstance(s, sp.Union):
        return _element(s.args[0])
    for x in (0, 1, -1):
        if s.contains(x) is sp.true:
            return sp.S(x)
    lo, hi = s.inf, s.sup
    return (lo + hi) / 2 if lo.is_finite and hi.is_finite else (lo + 1 if lo.is_finite else hi - 1)


def representative(pointwise: Pointwise) -> sp.Expr | None:
    """One minimiser alpha*(t) per open region of t (None where the infimum is not attained).

    Ties (the crossing points, e.g. p_d = p_g) are left to ``minimisers``: they matter only on
    sets where the two densities are proportional. A region-wise answer that equals sign(t - r)
    on every open region is written so (``fdiv_checks.global_minimum`` and ``f_value`` check it
    region by region; ``FDivResult.tie_misses`` says where it fails at a tie).
    """
    chosen = []
    for r in pointwise.regions:
        if r.region.point:
            continue
        if r.argmin is sp.S.EmptySet:
            return None
        chosen.append((_element(r.argmin), r.region))
    if all(sp.simplify(e - chosen[0][0]) == 0 for e, _ in chosen):
        return chosen[0][0]
    scale = chosen[-1][0]
    for cut in {reg.lo for _, reg in chosen if reg.lo != 0}:
        if scale.is_nonzero and all(sp.simplify(e - scale * sp.sign(reg.sample() - cut)) == 0
                                     for e, reg in chosen):
            return scale * sp.sign(t - cut)
    merged: list[list] = []  # [expression, upper end of its run of regions]
    for e, reg in chosen:
        if merged and sp.simplify(merged[-1][0] - e) == 0:
            merged[-1][1] = reg.hi
        else:
            merged.append([e, reg.hi])
    return sp.Piecewise(*[(e, t < hi) for e, hi in merged[:-1]], (merged[-1][0], True))


@dataclass
class FDivResult:
    """Everything ``analyse`` derives from one loss; evidence keyed by claim."""

    loss: sp.Expr
    pointwise: Pointwise
    f: sp.Expr
    dstar_t: sp.Expr | None      # alpha*(t); a representative when the minimiser is a set
    unique: bool                 # one minimiser for every t off the ties
    match: Match | None
    evidence: dict[str, Evidence] = field(default_factory=dict)

    @property
    def alpha(self) -> sp.Symbol:
        return self.pointwise.alpha

    @property
    def objective(self) -> sp.Expr:
        return self.pointwise.objective

    @property
    def smooth(self) -> bool:
        return is_smooth(self.loss)

    @cached_property             # kept with the result (the catalogue's start-up cache)
    def f_at_1(self) -> sp.Expr:
        return sp.expand_log(sp.simplify(self.f.subs(t, 1)), factor=True)

    @property
    def set_valued(self) -> bool:
        """Some region of t (ties included) has more than one optimal D, or none."""
        return not all(isinstance(r.argmin, sp.FiniteSet) and len(r.argmin) == 1
                       for r in self.pointwise.regions)

    @cached_property
    def dstar(self) -> sp.Expr | None:
        """D*(x) as an expression in p_d, p_g."""
        return None if self.dstar_t is None else in_densities(self.dstar_t)

    @property
    def risk_integrand(self) -> sp.Expr:
        """The best risk's integrand, -1/2 f(p_d/p_g) p_g, in p_d and p_g."""
        return tidy(-self.f.subs(t, p_d / p_g) * p_g / 2)

    @property
    def risk(self) -> sp.Expr | None:
        """The best risk in named divergences (symbols TV, Delta, JS, H2, ...), if recognised."""
        return self.match.risk if self.match else None

    def minimisers(self) -> list[tuple[str, sp.Set]]:
        """(where, in words about p_d and p_g; set of optimal D values there) per region of t."""
        return [(ratio_text(r.region), r.argmin.subs(t, p_d / p_g)) for r in self.pointwise.regions]

    @cached_property
    def calibration(self) -> tuple[str, Evidence]:
        """('calibrated' | 'reversed' | 'not calibrated' | 'undecided', evidence): does every
        optimal D have the sign of p_d - p_g (``fdiv_checks.calibration``)?"""
        return checks.calibration(self)

    @cached_property
    def affine(self) -> Evidence | None:
        """Proof that f is affine (then I_f = f(1) for all P_d, P_g: no divergence), or None."""
        return None if self.match is not None else checks.affine(self)

    def tie_misses(self) -> list[tuple[str, sp.Expr]]:
        """(where, value) at each tie p_d = r p_g where the representative D* is not optimal
        (sign(p_d - p_g) is 0 at p_d = p_g, and D = 0 is not optimal there for the 0-1 loss)."""
        return [(ratio_text(region), value) for region, value in self._tie_misses()]

    def verdict(self, key: str) -> Evidence:
        return self.evidence.get(key) or unchecked(f"{key}: not checked (analyse(prove=False))")

    # answers a grader compares with this result
    def accepts_dstar(self, answer) -> Evidence:
        return checks.accepts_dstar(self, answer)

    def accepts_f(self, answer) -> Evidence:
        return checks.accepts_f(self, answer)

    def accepts_risk(self, answer) -> Evidence:
        return checks.accepts_risk(self, answer)

    def as_dict(self) -> dict:
        m = self.match
        return {
            "loss": str(self.loss), "smooth": self.smooth, "objective": str(self.objective),
            "dstar_t": None if self.dstar_t is None else str(self.dstar_t),
            "dstar": None if self.dstar is None else str(self.dstar),
            "dstar_latex": None if self.dstar is None else sp.latex(self.dstar),
            "unique": self.unique, "set_valued": self.set_valued,
            "dstar_not_optimal_at": [{"where": w, "D": str(v)} for w, v in self.tie_misses()],
            "minimisers": [{"where": str(c), "D": set_text(s), "set": str(s)} for c, s in self.minimisers()],
            "f": str(self.f), "f_latex": sp.latex(self.f), "f_at_1": str(self.f_at_1),
            "risk_integrand": str(self.risk_integrand),
            "risk": None if m is None else str(m.risk),
            "risk_latex": None if m is None else sp.latex(m.risk),
            "divergence": None if m is None else {
                "name": m.divergence.name, "title": m.divergence.title,
                "generator": str(m.divergence.generator), "integrand": str(m.divergence.integrand),
                "a": str(m.a), "b": str(m.b), "c": str(m.c), "normalisation": m.normalisation()},
            "calibration": {"verdict": self.calibration[0], **self.calibration[1].as_dict()},
            "affine_f": self.affine is not None,
            "evidence": {k: v.as_dict() for k, v in self.evidence.items()},
        }

    def describe(self) -> str:
        """A short report for the terminal: words, and every expression in LaTeX (never a SymPy
        string); a set SymPy could not solve reads as a sentence."""
        L = latex
        lines = [f"loss        l(\\alpha) = {L(self.loss)}",
                 f"pointwise   \\inf_{{\\alpha}} \\left[{L(self.objective)}\\right]   (t = p_d/p_g > 0)"]
        if self.dstar is None:
            lines.append("D*          the infimum is not attained (approached as |\\alpha| \\to \\infty)")
        else:
            kind = ("unique" if not self.set_valued else "unique off the ties" if self.unique
                    else "one choice; the optimal set is below")
            misses = self._tie_misses()
            if misses:
                at = "; ".join(f"at {ratio_latex(region)} it gives D = {L(v)}, which is not optimal there"
                               for region, v in misses)
                kind = f"one choice, optimal off the ties only: {at}; the full optimal set is below"
            lines.append(f"D*(x)       D^*(x) = {L(self.dstar)}   ({kind})")
        if self.set_valued:
            for r in self.pointwise.regions:
                where = ratio_latex(r.region)
                lines.append(f"    {where if where == 'everywhere' else 'where ' + where}: "
                             f"{set_latex(r.argmin.subs(t, p_d / p_g))}")
        lines += [f"f(t)        f(t) = {L(self.f)}", f"f(1)        f(1) = {L(self.f_at_1)}"]
        if self.match:
            m, d = self.match, self.match.divergence
            name = L(d.symbol)
            lines += [f"divergence  {d.title}: {name} = \\int {_integrand(d.integrand)} \\, dx",
                      f"            f(t) = {_affine_latex(m.a, f'f_{{{name}}}(t)', m.b, m.c)}, with the textbook "
                      f"generator f_{{{name}}}(t) = {L(d.generator)} (f_{{{name}}}(1) = 0): "
                      f"scale {L(m.a)}, constant shift f(1) = {L(m.b)}, affine term c = {L(m.c)} (integrates to 0)",
                      f"best risk   R(D^*) = -\\tfrac12 I_f = {L(m.risk)}"]
        elif self.affine is not None:
            const = L(sp.simplify(-self.f_at_1 / 2))
            lines += [f"divergence  none: f is affine, so I_f = f(1) = {L(self.f_at_1)} for every P_d, P_g "
                      f"(the c (t - 1) part integrates to 0): the best risk is the constant "
                      f"{const} and measures no divergence",
                      f"best risk   R(D^*) = {const} whatever P_d, P_g"]
        else:
            lines += ["divergence  not one of the named divergences",
                      f"best risk   R(D^*) = \\int {_integrand(self.risk_integrand)} \\, dx"]
        verdict, ev = self.calibration
        lines.append(f"calibration {verdict}: {_readable(ev.detail)}")
        for key, ev in self.evidence.items():
            lines.append(f"  [{ev.status.value:9}] {key:13} ({ev.kind.value}) {_readable(ev.detail)[:160]}")
        return "\n".join(lines)

    def _tie_misses(self) -> list[tuple]:
        """``tie_misses`` with each tie's region (for the LaTeX of where it is)."""
        out = []
        for r in self.pointwise.regions:
            if not r.region.point or self.dstar_t is None:
                continue
            value = self.dstar_t.subs(t, r.region.lo)
            if value.is_number and r.argmin.contains(value) is not sp.true:
                out.append((r.region, value))
        return out


def _integrand(expr) -> str:
    """An integrand's LaTeX, in parentheses when it is a sum (so dx multiplies all of it)."""
    return rf"\left({latex(expr)}\right)" if isinstance(expr, sp.Add) else latex(expr)


def _affine_latex(a, generator: str, b, c) -> str:
    """'a f_N(t) + b + c (t - 1)' in LaTeX, each term kept (a zero term left out)."""
    out = generator if a == 1 else f"-{generator}" if a == -1 else f"{latex(a)} {generator}"
    for coef, rest in ((b, ""), (c, r"\left(t - 1\right)")):
        if coef == 0:
            continue
        text = latex(-coef if coef.could_extract_minus_sign() else coef)
        if rest and text == "1":
            text = ""
        elif rest and isinstance(coef, sp.Add):
            text = rf"\left({text}\right)"
        out += (" - " if coef.could_extract_minus_sign() else " + ") + text + (" " if text and rest else "") + rest
    return out


def _readable(detail: str) -> str:
    """A checker's detail for the terminal: SymPy's infinity 'oo' written as the LaTeX \\infty."""
    return re.sub(r"(?<![A-Za-z_])(-?)oo(?![A-Za-z_])", r"\1\\infty", detail)


def analyse(loss_expr, alpha_symbol=None, prove: bool = True) -> FDivResult:
    """Derive D*, f, its properties and the best risk from a margin loss l(alpha).

    ``alpha_symbol`` is the symbol the loss is written in (any assumptions); by default the loss's
    only free symbol, or ``alpha``.
    Raises ``InvalidLoss`` (e.g. ``UnboundedLoss``) for an input that is not a loss and
    ``AnalysisError`` where a step has no closed form; both are ``FDivError``s with a message.
    """
    loss = as_expr(loss_expr)
    if alpha_symbol is None and len(loss.free_symbols) == 1:  # a loss has one variable: that one
        alpha_symbol = next(iter(loss.free_symbols))
    if alpha_symbol is not None and alpha_symbol != alpha:
        loss = loss.xreplace({alpha_symbol: alpha})
    try:
        pointwise = solve(loss, alpha, t)
        f = tidy(-pointwise.inf)
        dstar_t = representative(pointwise)
        match = identify(f)
    except FDivError:
        raise
    except (RecursionError, NotImplementedError, TypeError, ValueError, AttributeError,
            sp.PolynomialError) as exc:  # SymPy gave up inside a step: say so, not a traceback
        raise AnalysisError(f"SymPy could not carry out the analysis of {latex(loss)} "
                            f"({type(exc).__name__}: {str(exc)[:200]})") from exc
    unique = all(r.region.point or (isinstance(r.argmin, sp.FiniteSet) and len(r.argmin) == 1)
                 for r in pointwise.regions)
    result = FDivResult(loss, pointwise, f, dstar_t, unique, match)
    if prove:
        result.evidence = checks.all_evidence(result)
    return result


def analyse_latex(latex: str, seconds: float | None = None) -> dict:
    """``analyse`` of a loss written in LaTeX, as plain data ({"json": ..., "text": ...}), for a
    sandboxed worker: the text is read and analysed there, under ``seconds``. LatexError and
    FDivError propagate with their messages; running out of time is an AnalysisError."""
    from .latex import parse_loss
    from .limits import CheckTimeout, time_limit
    try:
        with time_limit(seconds):
            result = analyse(parse_loss(latex))
    except CheckTimeout:
        raise AnalysisError(f"the analysis did not finish within {seconds:g} s") from None
    return {"json": result.as_dict(), "text": result.describe()}
