"""Turn a relation into evidence: a symbolic proof if SymPy finds one, else high-precision
evaluation at random admissible points, which either refutes it with a counterexample or
backs it as exact-numeric evidence (never called a proof).

Cheap canonical forms are tried before expensive ones; bounded symbols are also tried in a
positive parametrisation (x in (lo, hi) as lo + (hi - lo) u/(1 + u), u > 0), which lets
SymPy use the bounds (e.g. sqrt((1 - abar)^2) = 1 - abar).
"""
from __future__ import annotations

import dataclasses
import time

import sympy as sp

from .symbols import as_expr

from . import identity, nonneg, sampling, search
from . import symbols as symtab
from .evidence import Evidence, Kind, Status
from .limits import CheckTimeout, time_limit
from .step import as_matrix

SYMBOLIC_SECONDS = 8.0       # CPU seconds per symbolic attempt: the same work on a loaded machine
NUMERIC_POINTS = 24



def _factor_radicands(expr):
    """Factor the base of every fractional power, so that sqrt((1 - a)**2 b) can become
    (1 - a) sqrt(b) once the bounds make 1 - a positive."""
    expr = expr.replace(lambda e: e.is_Pow and e.exp.is_Rational and not e.exp.is_integer,
                        lambda e: sp.factor(e.base) ** e.exp)
    return sp.powdenest(expr, force=False)


def _expanded_numerator(expr):
    """For a rational function of its atoms (no exp, log or fractional power), the numerator over
    one denominator (``as_numer_denom``, an identity), expanded: 0 exactly when ``expr`` is 0
    where its denominator is not, as ``cancel`` decides, without the gcd computations (5-10x
    cheaper on the lemma's 2x2 blocks). Anything else is returned as it is (no proof)."""
    if not isinstance(expr, sp.Expr) or expr.has(sp.exp, sp.log) or not all(
            p.exp.is_Integer for p in expr.atoms(sp.Pow)):
        return expr       # only for rational functions: with exponentials or roots it can blow up
    numer, _ = expr.as_numer_denom()
    return sp.expand(numer)


# Cheap canonical forms first; each is applied to the original expression, not cumulatively.
ALGEBRAIC_FORMS = (
    sp.expand,
    _expanded_numerator,
    lambda e: sp.cancel(sp.together(e)),
    lambda e: sp.cancel(_factor_radicands(sp.together(e))),
)
EXPONENTIAL_SUM_TERMS = 40      # more terms than this: the pairwise grouping is not tried


def exp_form(expr) -> tuple[sp.Expr, sp.Expr]:
    """(prefactor, exponent) with expr = prefactor * exp(exponent): the shape of a Gaussian integral."""
    exponent, prefactor = sp.Integer(0), sp.Integer(1)
    for factor in sp.Mul.make_args(sp.powsimp(as_expr(expr), combine="exp")):
        if isinstance(factor, sp.exp):
            exponent += factor.args[0]
        else:
            prefactor *= factor
    return prefactor, exponent


def _exponential_sum(expr):
    """A sum of terms c_i exp(E_i) (densities, Gaussian integrals, e^KL with their normalising
    roots) grouped by exponent (E_i - E_j = 0 as rational functions of their atoms): when the
    prefactors of every group sum to 0 in an algebraic form, so does the whole sum, whatever the
    exponents are; 0 is returned then. Anything else is returned as it is (no proof)."""
    if not isinstance(expr, sp.Expr) or not expr.has(sp.exp):
        return expr
    terms = sp.Add.make_args(sp.expand(sp.powsimp(sp.expand(expr), combine="exp")))
    if len(terms) > EXPONENTIAL_SUM_TERMS:
        return expr
    groups: list[tuple[sp.Expr, list]] = []
    for term in terms:
        prefactor, exponent = exp_form(term)
        for known, prefactors in groups:
            if sp.cancel(sp.together(sp.expand(known - exponent))) == 0:
                prefactors.append(prefactor)
                break
        else:
            groups.append((exponent, [prefactor]))
    for _, prefactors in groups:
        total = sp.Add(*prefactors)
        if not (total == 0 or any(form(total) == 0 for form in ALGEBRAIC_FORMS)):
            return expr
    return sp.Integer(0)


CANONICAL_FORMS = ALGEBRAIC_FORMS + (
    _exponential_sum,
    sp.simplify,
    lambda e: sp.simplify(_factor_radicands(sp.together(e))),
)


def positive_parametrisation(expr) -> tuple[sp.Expr, dict]:
    """Replace each bounded symbol by a map of a fresh positive symbol onto its interval."""
    mapping = {}
    for s in as_expr(expr).free_symbols:
        dom = symtab.info(s).domain
        if dom.integer or not isinstance(s, sp.Symbol):
            continue
        u = sp.Symbol(f"u_{s.name}", positive=True)
        if dom.lo.is_finite and dom.hi.is_finite:
            mapping[s] = dom.lo + (dom.hi - dom.lo) * u / (1 + u)
        elif dom.lo.is_finite and dom.lo != 0:
            mapping[s] = dom.lo + u
        elif dom.hi.is_finite:
            mapping[s] = dom.hi - u
    return as_expr(expr).xreplace(mapping), mapping


def _symbolic_zero(diff) -> bool:
    """Is ``diff`` zero in some canonical form, as given or in the positive parametrisation?"""
    if diff == 0:
        return True
    reparam, mapping = positive_parametrisation(diff)
    forms = (diff, reparam) if mapping else (diff,)
    return any(simplify(form) == 0 for simplify in CANONICAL_FORMS for form in forms)


def condition_parametrisation(expr, conditions) -> sp.Expr:
    """Each positive symbol s bounded above by a side condition (s < b, s^2 <= b) replaced by a
    map of a fresh positive symbol onto (0, b^(1/k)), so that SymPy's signs see the condition.
    The maps cover exactly the region the conditions allow (up to its boundary), so a sign
    proved after them holds there."""
    expr = as_expr(expr)
    for c in conditions:
        if not getattr(c, "is_Relational", False) or c.rel_op not in ("<", "<=", ">", ">="):
            continue
        small, big = (c.lhs, c.rhs) if c.rel_op in ("<", "<=") else (c.rhs, c.lhs)
        base, k = small.as_base_exp()
        if not (isinstance(base, sp.Symbol) and k in (1, 2) and base in expr.free_symbols):
            continue
        dom = symtab.info(base).domain
        if dom.lo != 0 or dom.integer or base in big.free_symbols:
            continue
        u = sp.Symbol(f"u_{base.name}_c", positive=True)
        expr = expr.xreplace({base: big ** sp.Rational(1, k) * u / (1 + u)})
    return expr


def _symbolic_sign(d, rel, conditions=()) -> bool:
    """Prove ``d rel 0`` (d = lhs - rhs) from the symbols' assumptions (and the side conditions
    that bound a symbol above, through ``condition_parametrisation``)."""
    want = {"<=": "is_nonpositive", "<": "is_negative", ">=": "is_nonnegative", ">": "is_positive"}[rel]
    for make in (lambda: d, lambda: sp.factor(d), lambda: sp.simplify(d)):     # cheapest first
        if getattr(make(), want) is True:
            return True
    reparam, mapping = positive_parametrisation(d)
    if mapping:
        for form in (sp.factor(sp.together(reparam)), sp.simplify(reparam)):
            if getattr(form, want) is True:
                return True
    if conditions:
        bounded = condition_parametrisation(d, conditions)
        if bounded != d:
            reparam, _ = positive_parametrisation(bounded)
            if getattr(sp.factor(sp.together(reparam)), want) is True:
                return True
    return False


def numeric_identity(pairs, conditions=(), seed: int = 0) -> Evidence:
    """Exact-numeric evidence for every ``a = b`` of ``pairs`` (``identity``: analytic pieces at
    points across the whole domain, non-analytic ones branch by branch)."""
    space = sampling.PointSpace([x for pair in pairs for x in pair], conditions, n=NUMERIC_POINTS, seed=seed)
    proved = None
    for a, b in pairs:
        outcome = identity.decide(a, b, space, prove_sign=_symbolic_sign)
        if outcome.status is not Status.PROVED:
            return identity.as_evidence(outcome, space)
        proved = proved or outcome
    if proved is None:
        return Evidence(Status.PROVED, Kind.SYMBOLIC, "nothing to compare")
    return identity.as_evidence(proved, space)


def _from_conditions(d, rel, conditions) -> bool:
    """Prove ``d rel 0`` as a side condition plus something the assumptions sign: d = c + r with
    c > 0 (or >= 0) a condition's own gap and r >= 0 (<= 0 for <=, <)."""
    for c in conditions:
        if not getattr(c, "is_Relational", False) or c.rel_op not in ("<", "<=", ">", ">="):
            continue
        strict = c.rel_op in ("<", ">")
        cgap = c.lhs - c.rhs if c.rel_op in (">", ">=") else c.rhs - c.lhs       # >= 0 (> 0 if strict)
        if rel in ("<", "<=") and (strict or rel == "<="):
            rest = -d - cgap
        elif rel in (">", ">=") and (strict or rel == ">="):
            rest = d - cgap
        else:
            continue
        if rest == 0 or _symbolic_sign(rest, ">="):
            return True
    return False


def _gap_evidence(pairs, rel, gap, conditions, family, seed, symbolic_seconds) -> Evidence | None:
    """An inequality proved from its certificate: lhs - rhs (or rhs - lhs) equals ``gap``, and
    ``gap`` is >= 0 (> 0 for a strict relation) by its terms' assumptions. None when the
    certificate does not apply; a refuted identity is reported as such."""
    if gap is None or len(pairs) != 1:
        return None
    (a, b), = pairs
    big_minus_small = a - b if rel in (">=", ">") else b - a
    want = ">" if rel in ("<", ">") else ">="
    try:
        with time_limit(symbolic_seconds, cpu=True):
            signed = _symbolic_sign(as_expr(gap), want)
    except CheckTimeout:
        signed = False
    except (TypeError, ValueError, NotImplementedError, RecursionError):
        signed = False
    if not signed:
        return Evidence(Status.UNCHECKED, Kind.NONE,
                        f"the certificate's sign is not seen: its terms are not all known to be {_WORD[want]}")
    identity = check_relation(big_minus_small, "=", nonneg.expand_known(gap), conditions, family, seed,
                              symbolic_seconds)
    why = "; ".join(nonneg.reasons(gap)) or "its terms' signs follow from the symbols' domains"
    if identity.status is Status.PROVED and identity.kind not in (Kind.SYMBOLIC, Kind.SYMBOLIC_FAMILY):
        # points would then decide the inequality after all: the identity must be a proof
        return Evidence(Status.UNCHECKED, Kind.NONE, f"the certificate is {_WORD[want]} ({why}), but its identity "
                        f"with the gap is backed only by points ({identity.detail})")
    if identity.status is Status.PROVED:
        return Evidence(Status.PROVED, identity.kind,
                        f"the gap equals a certificate that is {_WORD[want]} ({why}); the identity: {identity.detail}",
                        seconds=identity.seconds, extra=identity.extra)
    if identity.status is Status.REFUTED:
        return Evidence(Status.UNCHECKED, Kind.NONE, "the certificate does not equal the gap (the identity fails "
                        "at an admissible point); the inequality itself is neither proved nor refuted by it",
                        counterexample=identity.counterexample)
    return Evidence(Status.UNCHECKED, Kind.NONE, f"the certificate's identity is unchecked: {identity.detail}")


def check_relation(lhs, rel, rhs, conditions=(), family: str = "", seed: int = 0,
                   symbolic_seconds: float = SYMBOLIC_SECONDS, gap=None) -> Evidence:
    """Evidence for ``lhs rel rhs`` under the symbols' domains and ``conditions``.

    An equality is proved symbolically, or backed by exact numerics (``numeric_identity``:
    analytic pieces at points across the whole domain, non-analytic ones region by region).
    An inequality is proved only symbolically (its sign from the assumptions, or its ``gap``
    certificate from ``nonneg``); numbers can refute it, never prove it.
    """
    started = time.perf_counter()
    ml, mr = as_matrix(lhs), as_matrix(rhs)
    if (ml is None) != (mr is None) and not (ml is not None and mr is None and rhs == 0):
        return Evidence(Status.REFUTED, Kind.SYMBOLIC, "a matrix compared with a scalar",
                        seconds=time.perf_counter() - started)
    if ml is not None:
        mr = mr if mr is not None else sp.zeros(*ml.shape)
        if ml.shape != mr.shape:
            return Evidence(Status.REFUTED, Kind.SYMBOLIC,
                            f"shapes differ: {ml.shape} vs {mr.shape}", seconds=time.perf_counter() - started)
        pairs = list(zip(ml, mr))
    else:
        pairs = [(as_expr(lhs), as_expr(rhs))]

    proof_kind = Kind.SYMBOLIC_FAMILY if family else Kind.SYMBOLIC
    where = f" in the family {family}" if family else ""
    note = ""
    certified = None
    if rel != "=" and gap is not None:
        # The certificate first: checking it is an identity plus the sign of known terms, usually
        # far cheaper than a sign search on lhs - rhs that it would otherwise wait for. Either is a
        # symbolic proof of the same relation; the sign search below still runs when it fails.
        certified = _gap_evidence(pairs, rel, gap, conditions, family, seed, symbolic_seconds)
        if certified is not None and certified.status is Status.PROVED:
            return dataclasses.replace(certified, detail=certified.detail + where,
                                       seconds=time.perf_counter() - started)
    try:
        with time_limit(symbolic_seconds, cpu=True):
            if rel == "=":
                proved = all(_symbolic_zero(a - b) for a, b in pairs)
            else:
                proved = all(_symbolic_sign(a - b, rel, conditions) or _from_conditions(a - b, rel, conditions)
                             for a, b in pairs)
        if proved:
            what = "difference simplifies to 0" if rel == "=" else f"lhs - rhs is {_WORD[rel]} under the assumptions"
            return Evidence(Status.PROVED, proof_kind, what + where, seconds=time.perf_counter() - started)
    except CheckTimeout:
        note = f"symbolic attempt stopped after {symbolic_seconds:g} s of CPU time; "
    except (TypeError, ValueError, NotImplementedError, RecursionError):
        note = "symbolic attempt failed; "

    if rel != "=":
        found = search.violation(pairs, rel, conditions, seed)
        seconds = time.perf_counter() - started
        if found.counterexample is not None:
            return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC,
                            f"{note}the relation fails at an admissible point{where} ({found.how})",
                            counterexample=found.counterexample, seconds=seconds)
        why = certified.detail if certified is not None else "no certificate (gap known to be >= 0) was given"
        return Evidence(Status.UNCHECKED, Kind.NONE,
                        f"{note}not proved: numbers can refute an inequality but never prove it; {why}; "
                        f"a search of {found.tried} admissible points found no violation",
                        counterexample=found.worst, seconds=seconds)

    ev = numeric_identity(pairs, conditions, seed)
    seconds = time.perf_counter() - started
    return dataclasses.replace(ev, detail=note + ev.detail + (where if ev.status is not Status.UNCHECKED else ""),
                               seconds=seconds)


_WORD = {"<=": "<= 0", "<": "< 0", ">=": ">= 0", ">": "> 0"}
