"""The pointwise problem of a margin loss: inf over alpha of l(alpha) t + l(-alpha), t > 0.

One method for every loss, smooth or not:
1. Split the alpha line at the breakpoints of l(alpha) and l(-alpha) (none for a smooth loss).
2. On each open piece the objective is one smooth formula h(alpha, t). Its infimum over the
   piece is the least of its one-sided limits at the ends and its values at the stationary
   points inside: a continuous function on an open interval that dips below both end limits
   attains its minimum at a critical point, and ``solveset`` returns *all* critical points or
   the analysis stops. A piece where h does not depend on alpha is attained everywhere on it.
   Each breakpoint is a candidate of its own (where the 0-1 loss takes its value l(0)).
3. This leaves finitely many candidates c_i(t). Between consecutive values of t where two of
   them cross, their order cannot change (they are continuous), so comparing them at one
   sample t gives the minimum and the minimisers on the whole interval. At each crossing the
   problem is solved again with t fixed, so ties (p_d = p_g) get their own minimiser set.
Limits of -oo mean the loss is not a loss (the pointwise problem is unbounded below).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .symbols import as_expr
from sympy.calculus.util import continuous_domain

from .fdiv_pieces import Region, breakpoints, is_smooth, regions, resolve
from .limits import CheckTimeout, time_limit
from .printing import latex

oo = sp.oo
T_DOMAIN = sp.Interval.open(0, oo)
DIGITS = 50
PROBE_T = (sp.Rational(1, 4), sp.S.One, sp.S(4))
PROBE_ALPHA = (-3, -1, sp.Rational(-1, 2), 0, sp.Rational(1, 2), 1, 3)


class FDivError(ValueError):
    """The input cannot be turned into an f-divergence; the message says why."""


class InvalidLoss(FDivError):
    """Not a margin loss: undefined somewhere, or the pointwise problem is unbounded below."""


class UnboundedLoss(InvalidLoss):
    """inf over alpha of l(alpha) t + l(-alpha) is -oo for some t > 0."""


class AnalysisError(FDivError):
    """A step had no closed form (e.g. the stationarity condition could not be solved)."""


@dataclass(frozen=True)
class Candidate:
    """A possible value of the infimum: reached ``how``, attained on ``argmin`` (maybe empty)."""

    value: sp.Expr
    how: str
    argmin: sp.Set = sp.S.EmptySet
    valid: sp.Set = T_DOMAIN    # the t for which this candidate exists
    end: sp.Expr | None = None  # for a one-sided limit: the alpha it is approached at


@dataclass(frozen=True)
class Stationary:
    """A stationary point alpha*(t) of the objective ``h`` on ``piece`` (for t in ``valid``)."""

    piece: Region
    objective: sp.Expr
    root: sp.Expr
    valid: sp.Set


@dataclass(frozen=True)
class RegionMin:
    """On ``region`` of t: the infimum ``value`` and the set of alphas attaining it."""

    region: Region
    value: sp.Expr
    argmin: sp.Set
    how: tuple[str, ...]
    ends: tuple = ()            # alpha ends (+-oo, or a finite end) where the infimum is approached


@dataclass(frozen=True)
class Pointwise:
    loss: sp.Expr
    alpha: sp.Symbol
    t: sp.Symbol
    objective: sp.Expr
    pieces: tuple[tuple[Region, sp.Expr | None], ...]
    candidates: tuple[Candidate, ...]
    stationary: tuple[Stationary, ...]
    regions: tuple[RegionMin, ...]
    inf: sp.Expr


def _split_logs(expr) -> sp.Expr:
    """log(1 + 1/t) -> log(t + 1) - log(t): factor each log's argument, expand, collect logs."""
    expanded = expr
    for _ in range(2):
        expanded = sp.expand_log(expanded).replace(
            lambda e: isinstance(e, sp.log), lambda e: sp.log(sp.factor(e.args[0])))
    expanded = sp.expand(sp.expand_log(expanded))
    parts = sp.collect(expanded, sorted(expanded.atoms(sp.log), key=sp.default_sort_key),
                       evaluate=False)
    return sp.Add(*(sp.factor_terms(coeff) * term for term, coeff in parts.items()))


def _pull_scale(expr) -> sp.Expr:
    """Min(2, 2 t) -> 2 Min(1, t): a common positive rational factor moved out of Min/Max."""
    def pull(m):
        k = sp.gcd([sp.Rational(a.as_coeff_Mul()[0]) for a in m.args])
        return k * m.func(*(a / k for a in m.args)) if k.is_positive and k != 1 else m
    return expr.replace(lambda e: isinstance(e, (sp.Min, sp.Max)), pull)


def cancel_radicals(expr) -> sp.Expr:
    """(t - 2 sqrt(t) + 1)/(t - 1) -> (sqrt(t) - 1)/(sqrt(t) + 1): write each positive symbol
    that appears under a root as s^m (m the lcm of the root orders), cancel, write back."""
    expr = as_expr(expr)
    for x in sorted(expr.free_symbols, key=str):
        if not x.is_positive:
            continue
        orders = [p.exp.q for p in expr.atoms(sp.Pow) if p.base == x and p.exp.is_Rational]
        m = sp.ilcm(1, 1, *orders)
        if m > 1:
            s = sp.Dummy("s", positive=True)
            expr = sp.factor(sp.cancel(sp.together(expr.subs(x, s ** m)))).subs(s, x ** sp.Rational(1, m))
    return expr


def _factor_radicands(expr) -> sp.Expr:
    """sqrt(t^2 + 2 t + 1) -> t + 1: each radicand factored, so that powers of positive factors
    leave the root (SymPy does sqrt(x^2) = x itself for x > 0)."""
    def fix(p):
        base = sp.factor(p.base)
        return base ** p.exp if base != p.base else p
    return expr.replace(lambda e: isinstance(e, sp.Pow) and e.exp.is_Rational and not e.exp.is_Integer
                        and e.base.is_polynomial() and not e.base.is_Symbol, fix)


def tidy(expr) -> sp.Expr:
    """A short form: logs of products and powers split (t > 0), then the fewest operations."""
    expr = as_expr(expr)
    if expr.has(sp.Pow):
        expr = _factor_radicands(expr)
    if expr.is_number or (expr.is_rational_function() and not expr.has(sp.Min, sp.Max)):
        return sp.factor(sp.cancel(expr)) if not expr.is_number else sp.simplify(expr)
    simple = sp.simplify(expr)
    forms = [expr, simple]
    if simple.has(sp.Pow) and not simple.has(sp.log, sp.exp, sp.Min, sp.Max):
        forms.append(cancel_radicals(simple))
    if simple.has(sp.Min, sp.Max):
        forms.insert(0, _pull_scale(simple))
    if simple.has(sp.log):
        forms.append(_split_logs(simple))
    if not simple.has(sp.log, sp.exp):
        forms.append(sp.factor(sp.cancel(simple)))

    def plain(arg):
        return arg.is_Symbol or arg.is_Number or (arg.is_Add and arg.is_polynomial())

    def score(e):
        compound = sum(1 for g in e.atoms(sp.log) if not plain(g.args[0]))
        return compound, sp.count_ops(e), len(str(e))
    return min(forms, key=score)


def check_defined(loss, alpha) -> None:
    """A loss depends on alpha only and is a real number at every alpha (probed at a few)."""
    extra = as_expr(loss).free_symbols - {alpha}
    if extra:
        names = ", ".join(sorted(map(str, extra)))
        raise InvalidLoss(f"the loss may depend on {alpha} only; it also contains {names}")
    if is_smooth(loss):
        try:
            domain = continuous_domain(loss, alpha, sp.S.Reals)
        except (NotImplementedError, ValueError, TypeError):
            domain = sp.S.Reals  # undecided: the probes below and the limits still apply
        if domain != sp.S.Reals:
            raise InvalidLoss(f"l({alpha}) must be defined and continuous for every real {alpha}; "
                              f"it is only on {domain}")
    for a in PROBE_ALPHA:
        value = sp.N(as_expr(loss).subs(alpha, a), 20)
        if not value.is_number or value.has(sp.nan, sp.zoo, oo, -oo) or not value.is_real:
            raise InvalidLoss(f"l({alpha}) must be a real number for every real {alpha}; "
                              f"at {alpha} = {a} it is {value}")


def _limit(h, alpha, end, direction, t):
    """The one-sided limit of h at ``end``, or None when it is +oo; raises when -oo.

    A branch is one elementary formula (no Piecewise/Max/Heaviside left), continuous wherever it
    is finite and real; so at a finite end where it is, substitution is the limit, and ``limit``
    is needed only at the infinite ends and at singular points.
    """
    value = h.subs(alpha, end) if end.is_finite else sp.nan
    if value.has(sp.nan, sp.zoo, oo, -oo) or value.is_real is not True:
        value = sp.limit(h, alpha, end, direction)
    if value == oo:
        return None
    bad = (oo, -oo, sp.zoo, sp.nan, sp.AccumBounds, sp.Limit)
    if not value.has(*bad):
        return value
    probes = PROBE_T if t is not None and value.has(t) else ()
    for s in probes:
        if sp.limit(h.subs(t, s), alpha, end, direction) == -oo:
            value = -oo
            break
    if value == -oo:
        at = f" at t = {s}" if probes else ""
        raise UnboundedLoss(
            f"the pointwise problem is unbounded below{at}: l({alpha}) t + l(-{alpha}) -> -oo "
            f"as {alpha} -> {end}; a loss must make inf_{alpha} [l({alpha}) t + l(-{alpha})] "
            f"finite for every t > 0")
    raise AnalysisError(f"cannot decide the limit of {h} as {alpha} -> {end}: {value}")


def _t_set(cond, t) -> sp.Set:
    """The t > 0 satisfying ``cond`` (a relational in t)."""
    if cond in (sp.true, sp.false):
        return T_DOMAIN if cond is sp.true else sp.S.EmptySet
    if t is None or not cond.has(t):
        return T_DOMAIN if bool(sp.N(cond.lhs - cond.rhs, DIGITS) > 0) == isinstance(
            cond, (sp.StrictGreaterThan, sp.GreaterThan)) else sp.S.EmptySet
    found = solve_t(cond, t)
    if found is None:
        raise AnalysisError(f"cannot solve {cond} for t")
    return found


SOLVE_SECONDS = 8.0   # one solveset call; SymPy's radical solver can run without end


def bounded(call, seconds: float = SOLVE_SECONDS):
    """call() within a wall-clock limit: None when it runs out or SymPy raises on the way."""
    try:
        with time_limit(seconds):
            return call()
    except (CheckTimeout, TypeError, NotImplementedError, ValueError, RecursionError):
        return None


def solve_t(eq, t) -> sp.Set | None:
    """The t > 0 where ``eq`` (an expression = 0, or a relational) holds, or None.

    Roots of t (t^(1/3), from a loss with powers) defeat solveset (a TypeError, or a radical
    solver that does not stop): then the problem is solved in s = t^(1/m) > 0, m the lcm of the
    root orders, and mapped back by s -> s^m (increasing, so intervals map to intervals)."""
    m = sp.ilcm(1, 1, *(p.exp.q for p in eq.atoms(sp.Pow) if p.base == t and p.exp.is_Rational))
    found = None
    if m > 1:
        s = sp.Dummy("s", positive=True)
        in_s = bounded(lambda: sp.solveset(eq.subs(t, s ** m), s, T_DOMAIN))
        if isinstance(in_s, (sp.FiniteSet, type(sp.S.EmptySet))):
            found = sp.FiniteSet(*(x ** m for x in in_s))
        elif in_s is not None and not isinstance(in_s, sp.ConditionSet):
            found = sp.imageset(sp.Lambda(s, s ** m), in_s)
    if found is None or isinstance(found, (sp.ConditionSet, sp.ImageSet)):
        found = bounded(lambda: sp.solveset(eq, t, T_DOMAIN))
    if found is None or isinstance(found, (sp.ConditionSet, sp.ImageSet)):
        return None
    return found


REAL_PROBE_T = (sp.Rational(1, 97), sp.Rational(1, 7), sp.Rational(1, 3), sp.Rational(1, 2),
                sp.Rational(3, 2), sp.S(3), sp.S(7), sp.S(97))


def _numerically_real(root, t) -> bool | None:
    """Real at every probe t > 0 (True), at none (False), or at some only (None). A probe where
    the root is undefined (a removable pole) is skipped. Used only to sort candidate points:
    every claim built from them is proved afterwards (``fdiv_checks``), so a wrong sort shows up
    as a failed proof, never as a silent result."""
    verdicts = set()
    for v in (REAL_PROBE_T if t is not None and root.has(t) else (None,)):
        value = sp.N(root if v is None else root.subs(t, v), 30)
        if not value.is_number or value.has(sp.nan, sp.zoo, oo, -oo):
            continue
        re, im = value.as_real_imag()
        verdicts.add(abs(im) <= sp.Float(10) ** -20 * (1 + abs(re)))
    return None if len(verdicts) != 1 else verdicts.pop()


def _plain_root(root) -> sp.Expr:
    """A root in its simplest closed form: inverse hyperbolic functions as logs (atanh((t-1)/(t+1))
    is log(t)/2), then simplified and radicals cancelled."""
    root = as_expr(root)
    if root.has(sp.atanh, sp.asinh, sp.acosh, sp.acoth):
        logs = sp.expand_log(sp.simplify(root.rewrite(sp.log)), force=False)
        root = min((root, sp.simplify(logs)), key=sp.count_ops)
    return cancel_radicals(sp.simplify(root))


def _without_abs(root, t) -> list[sp.Expr]:
    """A root with Abs(X) in t stands for X or -X depending on t. Where both branches are real
    for every t, both are kept (extra real points only add attained values, upper bounds, to the
    candidates) and the Abs goes, so the minimum needs no case split inside a region; a branch
    that is complex for some t (|log t|^(1/3) -> (log t)^(1/3)) leaves the root as it is."""
    roots, done = [root], []
    while roots:
        r = roots.pop()
        a = next((a for a in r.atoms(sp.Abs) if a.has(t)), None)
        branches = [] if a is None else [cancel_radicals(sp.simplify(r.xreplace({a: sign * a.args[0]})))
                                         for sign in (1, -1)]
        if branches and all(_numerically_real(b, t) for b in branches):
            roots += branches
        else:  # |log t|^(1/3) sign(log t): a branch would be complex for some t; keep it whole
            done.append(r)
    return done


def _real_roots(found, t=None) -> sp.FiniteSet | None:
    """All real solutions as a finite set, or None when solveset did not give them in closed form.

    solveset may answer Intersection({r1, r2}, Reals) when it cannot tell whether roots with a
    parameter are real; after simplification a root SymPy proves real for every t > 0 is kept,
    one it proves non-real is dropped; a root SymPy cannot decide is sorted by its values at a
    few t (real at all of them: kept; at none: dropped); a root real for some t only means no
    closed form (None). A Union of such answers is the union of its parts.
    """
    if isinstance(found, sp.Union):
        parts = [_real_roots(a, t) for a in found.args]
        return None if any(p is None for p in parts) else sp.FiniteSet(*(x for p in parts for x in p))
    if isinstance(found, type(sp.S.EmptySet)):
        return found
    if isinstance(found, sp.FiniteSet):
        finite = found
    elif isinstance(found, sp.Intersection):
        finite = [a for a in found.args if isinstance(a, sp.FiniteSet)]
        if len(finite) != 1 or not all(a == sp.S.Reals or isinstance(a, sp.Interval) or a is finite[0]
                                       for a in found.args):
            return None
        finite = finite[0]
    else:
        return None
    kept = []
    for root in finite:
        if sp.count_ops(root) > 120:  # Cardano-sized: not a closed form anyone can use
            return None
        root = _plain_root(root)
        num, den = sp.fraction(sp.together(root))
        real = root.is_real if root.is_real is not None else (num.is_real and den.is_real) or None
        if real is None:
            real = _numerically_real(root, t)
        if real is None:
            return None
        if real:  # real wherever defined; its poles in t are removed in _piece_candidates
            kept += _without_abs(root, t) if t is not None else [root]
    return sp.FiniteSet(*kept)  # membership of the piece is decided per root (``_t_set``)


def _drop_positive_factors(slope) -> sp.Expr:
    """The numerator of the slope without factors SymPy proves positive (1/cosh^2, 1 + alpha^2):
    they do not change where it vanishes, and they defeat solveset's pattern matching."""
    num, _ = sp.fraction(sp.together(slope))
    return sp.Mul(*[f for f in sp.Mul.make_args(sp.factor_terms(num)) if f.is_positive is not True])


def _power_factors(expr, alpha):
    """expr = c * prod b_i^(e_i), with c free of alpha and e_i rational: (c, [(b_i, e_i)])."""
    expr = sp.factor(expr)
    c, rest = expr.as_independent(alpha, as_Add=False)
    out = []
    for f in sp.Mul.make_args(rest):
        b, e = f.as_base_exp()
        if not e.is_Rational:
            return c, []
        out.append((b, e))
    return c, out


def _power_roots(eq, alpha, t) -> sp.Set | None:
    """The real zeros of eq = c_A P(alpha)^k t + c_B Q(alpha)^k (k >= 2), or None for another form.

    Then (Q/P)^k = r t with r = -c_A/c_B: for odd k, Q = w P with w the real k-th root of r t;
    for even k, Q = +-w P when r > 0 and nothing when r < 0; plus the common zeros of P and Q.
    (t (1 - alpha)^3 = (1 + alpha)^3 gives (1 + alpha)/(1 - alpha) = t^(1/3), where solveset
    would give Cardano's formula.)"""
    A, B = sp.S.Zero, sp.S.Zero
    for term in sp.Add.make_args(sp.expand_mul(eq)):
        rest, in_t = term.as_independent(t, as_Add=False)
        if in_t == t:
            A += rest
        elif in_t == 1:
            B += rest
        else:
            return None
    (ca, fa), (cb, fb) = _power_factors(A, alpha), _power_factors(B, alpha)
    exps = [sp.Rational(m) for _, m in fa + fb]
    if not fa or not fb or not all(e.is_Rational and e > 0 for e in exps):
        return None
    k = sp.Rational(sp.igcd(*(e.p for e in exps), 0), sp.ilcm(*(e.q for e in exps), 1))
    if k <= 1 or not (ca.is_number and cb.is_number) or ca == 0 or cb == 0:
        return None
    P = sp.Mul(*(b ** (m / k) for b, m in fa))
    Q = sp.Mul(*(b ** (m / k) for b, m in fb))
    r = sp.nsimplify(-ca / cb)
    w = (abs(r) * t) ** (1 / k)
    if not k.is_Integer:  # a real power of a base needs the base >= 0: Q/P >= 0
        ratios = [w] if r > 0 else []
    else:
        ratios = [sp.sign(r) * w] if k % 2 else [w, -w] if r > 0 else []
    found = sp.solveset(sp.gcd(P, Q), alpha, sp.S.Reals)
    for v in ratios:
        found = found | sp.solveset(Q - v * P, alpha, sp.S.Reals)
    return found


def _stationary_points(slope, alpha, interval, t) -> sp.FiniteSet:
    """Every real zero of the slope in closed form, or ``AnalysisError``.

    Tried in turn: solveset over the reals and over the piece; with exp in place of hyperbolic
    functions; and first, for a polynomial A(alpha) t + B(alpha) with A, B constants
    times k-th powers, by taking k-th roots (``_power_roots``).
    """
    eq = _drop_positive_factors(slope)
    tries = [lambda: sp.solveset(eq, alpha, sp.S.Reals), lambda: sp.solveset(eq, alpha, interval)]
    if eq.has(sp.tanh, sp.sinh, sp.cosh, sp.coth) and not eq.has(sp.sin, sp.cos, sp.tan):
        tries.append(lambda: sp.solveset(eq.rewrite(sp.exp), alpha, sp.S.Reals))
    if t is not None and eq.has(t) and (not eq.is_polynomial(alpha) or sp.degree(eq, alpha) > 2):
        tries.insert(0, lambda: _power_roots(eq, alpha, t))
    last = None
    for attempt in tries:
        last = bounded(attempt)
        if last is None:
            continue
        listed = [e for fs in (last.atoms(sp.FiniteSet) | ({last} if isinstance(last, sp.FiniteSet) else set()))
                  for e in fs.args]
        if sum(sp.count_ops(e) for e in listed) > 400:
            continue  # Cardano's formula and the like: no usable closed form, try the next way
        roots = _real_roots(last, t)
        if roots is not None and not any(r.has(sp.I) or sp.count_ops(r) > 80 for r in roots):
            return roots
    raise AnalysisError(f"the stationarity condition {latex(slope)} = 0 has no closed-form solution "
                        f"on {latex(interval)} ({_solveset_said(last)})")


def _solveset_said(found) -> str:
    """What solveset returned, in words: never a raw ConditionSet or a page of radicals."""
    if found is None:
        return "SymPy's solveset ran out of time or gave up"
    if isinstance(found, sp.ConditionSet):
        return "SymPy's solveset could only restate the equation"
    text = latex(found)
    return f"SymPy's solveset gave {text}" if len(text) <= 200 else \
        "SymPy's solveset gave roots it cannot sort into real and complex ones"


def _poles(expr, t) -> sp.Set:
    """The t > 0 where ``expr`` is undefined (zeros of its denominator)."""
    if t is None or not as_expr(expr).has(t):
        return sp.S.EmptySet
    found = solve_t(sp.fraction(sp.together(expr))[1], t)
    if not isinstance(found, (sp.FiniteSet, type(sp.S.EmptySet))):
        raise AnalysisError(f"cannot find where {latex(expr)} is undefined")
    return found


# strictly increasing functions g of alpha, with their inverse: an objective that depends on alpha
# only through g(alpha) is minimised in u = g(alpha) over g's image (the same candidates)
LINKS = {sp.atan: sp.tan, sp.tanh: sp.atanh, sp.asinh: sp.sinh, sp.sinh: sp.asinh, sp.erf: sp.erfinv}


def _link(h, alpha):
    """(g(alpha), inverse) when ``h`` depends on alpha only through one g(alpha) of ``LINKS``
    (g odd, so g(-alpha) = -g(alpha) is caught too); else None."""
    atoms = {a for a in h.atoms(sp.Function) if a.has(alpha)}
    powers = {p.exp for p in h.atoms(sp.Pow) if p.base == alpha}
    k = sp.igcd(0, *powers) if powers and all(e.is_Integer and e > 0 for e in powers) else 0
    if k >= 3 and k % 2 == 1:  # alpha^3 (odd, so increasing): u = alpha^3, alpha = real cube root
        u = sp.Dummy("u", real=True)
        if not h.subs(alpha ** k, u).has(alpha):
            return alpha ** k, lambda x, k=k: sp.real_root(x, k), u
    if len(atoms) != 1:
        return None
    g = atoms.pop()
    if g.func not in LINKS or g.args[0] != alpha:
        return None
    u = sp.Dummy("u", real=True)
    return (g, LINKS[g.func], u) if not h.subs(g, u).has(alpha) else None


def _linked_candidates(h, piece: Region, alpha, t, link):
    """The piece solved in u = g(alpha) on (g(lo), g(hi)), and mapped back: a minimiser u* is
    alpha = g^{-1}(u*), a limit at an end of g's image is the limit at the piece's end."""
    g, inverse, u = link
    lo, hi = (g.subs(alpha, e) if e.is_finite else sp.limit(g, alpha, e) for e in (piece.lo, piece.hi))
    image = Region(lo, hi)
    found, stationary, flat = _piece_candidates(h.subs(g, u), image, u, t)
    back = {lo: piece.lo, hi: piece.hi}

    def alpha_of(x):
        return _plain_root(inverse(x)) if isinstance(inverse, type) else inverse(x)

    out = []
    for c in found:
        argmin = c.argmin
        if isinstance(argmin, sp.FiniteSet):
            argmin = sp.FiniteSet(*(alpha_of(x) for x in argmin))
        elif argmin is not sp.S.EmptySet:
            argmin = piece.as_set()  # flat on the whole image: flat on the whole piece
        end = None if c.end is None else back.get(c.end, c.end)
        how = (f"{alpha} = {alpha_of(next(iter(c.argmin)))}" if isinstance(c.argmin, sp.FiniteSet)
               else f"{alpha} -> {end}" if end is not None else c.how)
        out.append(Candidate(c.value, how, argmin, c.valid, end))
    stationary = [Stationary(piece, h, alpha_of(st.root), st.valid) for st in stationary]
    return out, stationary, flat


def _piece_candidates(h, piece: Region, alpha, t):
    """Candidates of one open piece, its stationary points, and t where it turns flat."""
    h = as_expr(h)
    link = _link(h, alpha)
    if link is not None:
        return _linked_candidates(h, piece, alpha, t, link)
    slope = sp.simplify(sp.diff(h, alpha))
    interval = piece.as_set()
    if slope == 0:
        return [Candidate(tidy(h), f"{alpha} in {interval}", interval)], [], set()
    found = []
    for end, direction in ((piece.lo, "+"), (piece.hi, "-")):
        value = _limit(h, alpha, end, direction, t)
        if value is not None:
            found.append(Candidate(tidy(value), f"{alpha} -> {end}{'' if end.is_infinite else direction}",
                                   end=end))
    flat = _flat_at(slope, piece, alpha, t)
    if not slope.has(alpha):  # affine in alpha: no stationary point (flat where the slope is 0)
        return found, [], flat
    roots = _stationary_points(slope, alpha, interval, t)
    stationary = []
    for root in roots:
        if _extraneous(slope, alpha, root, t):
            continue
        valid = T_DOMAIN - _poles(root, t)
        if piece.lo.is_finite:
            valid = valid & _t_set(sp.StrictGreaterThan(root, piece.lo), t)
        if piece.hi.is_finite:
            valid = valid & _t_set(sp.StrictLessThan(root, piece.hi), t)
        if valid is sp.S.EmptySet:
            continue
        found.append(Candidate(tidy(h.subs(alpha, root)), f"{alpha} = {root}", sp.FiniteSet(root), valid))
        stationary.append(Stationary(piece, h, root, valid))
    return found, stationary, flat


def _extraneous(slope, alpha, root, t) -> bool:
    """A root that solveset found by squaring (sqrt(a - 1) t = -sqrt(a + 1) 'solved' as
    a = (t^2 + 1)/(t^2 - 1)) and that zeroes the slope at none of the probe t where it is real.
    Dropping it loses nothing: it is not a stationary point."""
    probes = REAL_PROBE_T if t is not None and root.has(t) else (None,)
    for v in probes:
        at = root if v is None else root.subs(t, v)
        x = sp.N(at, 30)
        if not x.is_number or x.has(sp.nan, sp.zoo, oo, -oo) or abs(sp.im(x)) > 1e-20:
            continue
        value = sp.N((slope if v is None else slope.subs(t, v)).subs(alpha, sp.re(x)), 30)
        if not value.is_number or abs(value) <= sp.Float(10) ** -15 * (1 + abs(sp.re(x))):
            return False
    return True


def _flat_at(slope, piece: Region, alpha, t) -> set:
    """The t > 0 at which the objective is constant in alpha on the piece (slope identically 0).

    Such t are where a generic solve of the stationarity condition misses a whole interval of
    minimisers (hinge at t = 1); they become crossing points, solved again with t fixed.
    """
    if t is None or not slope.has(t):
        return set()
    trial = solve_t(slope.subs(alpha, piece.sample()), t)
    if not isinstance(trial, sp.FiniteSet):
        return set()
    return {r for r in trial if sp.simplify(slope.subs(t, r)) == 0}


def candidates(objective, pieces, alpha, t):
    """Every candidate of the objective (t symbolic, or None when t has a value)."""
    found, stationary, t_points = [], [], set()
    for piece, h in pieces:
        if piece.point:
            found.append(Candidate(tidy(objective.subs(alpha, piece.lo)), f"{alpha} = {piece.lo}",
                                   sp.FiniteSet(piece.lo)))
            continue
        c, s, p = _piece_candidates(h, piece, alpha, t)
        found += c
        stationary += s
        t_points |= p
    return found, stationary, t_points


def crossings(cands, t) -> set:
    """t > 0 where two candidates are equal (without being the same function), or appear."""
    points = set()
    for c in cands:
        points |= {b for b in c.valid.boundary if b.is_finite and b > 0}
    values = list({c.value: c for c in cands})
    for i, a in enumerate(values):
        for b in values[i + 1:]:
            diff = sp.simplify(a - b)
            if diff == 0 or not diff.has(t):
                continue
            roots = solve_t(diff, t)
            if not isinstance(roots, (sp.FiniteSet, type(sp.S.EmptySet))):
                raise AnalysisError(f"cannot find where {latex(a)} and {latex(b)} cross ({_solveset_said(roots)})")
            points |= set(roots)
    return points


def _numeric(x):
    return sp.N(x, DIGITS)


def minimum(cands, region: Region, t) -> RegionMin:
    """The least candidate on ``region``: compared at its sample point (order is constant)."""
    s = region.sample()
    live = [c for c in cands if c.valid.contains(s) is sp.true]
    values = [_numeric(c.value.subs(t, s)) for c in live]
    least = min(values)
    tol = sp.Float(10) ** (10 - DIGITS) * max(1, abs(least))
    tied = [c for c, v in zip(live, values) if abs(v - least) <= tol]
    value = min((c.value for c in tied), key=lambda e: (sp.count_ops(e), len(str(e))))
    argmin = sp.Union(*(c.argmin for c in tied)) if tied else sp.S.EmptySet
    ends = tuple(dict.fromkeys(c.end for c in tied if c.end is not None))
    return RegionMin(region, value, argmin, tuple(c.how for c in tied), ends)


def solve(loss, alpha, t) -> Pointwise:
    """The infimum of l(alpha) t + l(-alpha) over real alpha, region by region in t > 0."""
    loss = as_expr(loss)
    check_defined(loss, alpha)
    objective = loss * t + loss.subs(alpha, -alpha)
    pieces = tuple((r, None if r.point else resolve(objective, {alpha: r.sample()}))
                   for r in regions(breakpoints(objective, alpha)))
    cands, stationary, t_points = candidates(objective, pieces, alpha, t)
    t_points |= crossings(cands, t)
    found = []
    for region in regions(sorted(t_points, key=lambda x: float(x)), sp.S.Zero, oo):
        if region.point:  # solve again with t fixed: ties and flat pieces show up here
            fixed = tuple((r, None if h is None else h.subs(t, region.lo)) for r, h in pieces)
            local, _, _ = candidates(objective.subs(t, region.lo), fixed, alpha, None)
            found.append(minimum(local, region, t))
        else:
            found.append(minimum(cands, region, t))
    found = _merge(found, t)
    return Pointwise(loss, alpha, t, objective, pieces, tuple(cands), tuple(stationary),
                     tuple(found), _assemble(found, cands, t))


def _same(a, b) -> bool:
    return a == b or sp.simplify(a - b) == 0


def _same_set(a: sp.Set, b: sp.Set) -> bool:
    """Two minimiser sets equal (element-wise up to simplification for finite sets)."""
    if a == b:
        return True
    if isinstance(a, sp.FiniteSet) and isinstance(b, sp.FiniteSet) and len(a) == len(b):
        rest = list(b.args)
        for x in a.args:
            hit = next((y for y in rest if _same(x, y)), None)
            if hit is None:
                return False
            rest.remove(hit)
        return True
    return False


def _merge(found: list[RegionMin], t) -> list[RegionMin]:
    """Join (a, {p}, b) into one region where a and b have the same infimum and minimisers and the
    point p is nothing special (its minimisers are the formula's at p): a crossing of two
    candidates that are not the least there, or a stationary point leaving a piece that does
    not matter, splits nothing."""
    out: list[RegionMin] = []
    for r in found:
        out.append(r)
        while len(out) >= 3 and out[-2].region.point and not out[-3].region.point:
            a, p, b = out[-3:]
            at = a.argmin.subs(t, p.region.lo)
            if not (_same(a.value, b.value) and _same_set(a.argmin, b.argmin) and _same_set(at, p.argmin)):
                break
            if set(a.ends) != set(b.ends):
                break
            out[-3:] = [RegionMin(Region(a.region.lo, b.region.hi), a.value, a.argmin, a.how, a.ends)]
    return out


def _assemble(found: list[RegionMin], cands, t) -> sp.Expr:
    """inf(t) from the least candidate of every open region.

    When every candidate that is least somewhere exists for every t > 0 (its ``valid`` set is
    all of t > 0), each is an upper bound of the infimum everywhere, so their Min equals the
    least one on every region. A candidate that exists only for some t (a stationary point
    inside its piece only for t > 1, say) may undercut the infimum elsewhere; then the infimum
    is written region by region as a Piecewise. At the crossings the infimum (concave in t, as
    an infimum of affine functions, hence continuous) must agree either way, which is checked.
    """
    opens = [r for r in found if not r.region.point]
    active: list[sp.Expr] = []
    for r in opens:
        if not any(sp.simplify(r.value - a) == 0 for a in active):
            active.append(r.value)
    everywhere = {c.value for c in cands if c.valid == T_DOMAIN}
    if len(active) == 1:
        inf = active[0]
    elif all(a in everywhere for a in active):
        inf = sp.Min(*active)
    else:
        merged: list[list] = []           # [value, upper end] with adjacent equal values joined
        for r in opens:
            if merged and sp.simplify(merged[-1][0] - r.value) == 0:
                merged[-1][1] = r.region.hi
            else:
                merged.append([r.value, r.region.hi])
        inf = sp.Piecewise(*[(v, t <= hi) for v, hi in merged[:-1]], (merged[-1][0], True))
    for r in found:
        if r.region.point:
            gap = _numeric(inf.subs(t, r.region.lo) - r.value)
            if abs(gap) > sp.Float(10) ** (10 - DIGITS):
                raise AnalysisError(f"the infimum jumps at t = {r.region.lo}: {r.value} vs {inf}")
    return inf
