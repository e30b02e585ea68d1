"""Answers with densities, expectations and KL divergences, decided on random finite models.

A model gives every random variable (X, Z, z_1, z_2, ...) a small finite support and draws a
random joint distribution p and a random variational distribution q. Both are Bayesian
networks with the factorisation the reference uses (p(x|z_1) p(z_1|z_2) p(z_2) makes z_2 and
x independent given z_1; q(z_1|x) q(z_2|z_1) likewise), or unrestricted joints when the
reference names no factorisation. Then every object has a value:

* p(A|B) = p(A, B) / p(B) by marginalising the joint; q(A|B) likewise, always given the
  observed variables (q is a distribution over the latents for the data point at hand, so
  q(Z) and q(Z|X) are the same density);
* E_{d_1 d_2 ...}[f] sums f against the product of the subscript's densities over their
  variables; KL(a || b) = sum_a a log(a / b): argument order matters;
* anything left free (the data x, a latent outside every expectation) is enumerated.

Equal values in every model and at every free assignment is exact-numeric evidence that
holds whatever the densities are; one differing value refutes, with the model as the
counterexample (this is how E_{q(z2|z1)}[KL(q(z1|x) || p(z1|z2))] is shown not to be the
HVAE's middle term). The rewrite rules the derivations use (KL as an expectation of a log
ratio, log of a product, linearity of E) hold in every model by construction, so an answer
written with or without them is judged the same.
"""
from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field

import mpmath
import sympy as sp

from ..evidence import Evidence, Kind, Status
from ..symbols import as_expr
from ..latex.objects import KL, Density, Expectation

MODELS = 12
DIGITS = 30
TOL = mpmath.mpf("1e-20")


class Unsupported(ValueError):
    """An object no finite model gives a value (an expectation over bare variables, ...)."""


def _densities(*exprs) -> list[Density]:
    out = []
    for e in exprs:
        if isinstance(e, sp.Basic):
            out.extend(e.atoms(Density))
    return out


def _variables(dens) -> list[sp.Symbol]:
    seen = {}
    for d in dens:
        for v in d.variables + d.given:
            seen.setdefault(v, None)
    return sorted(seen, key=lambda s: s.name)


def _network(factors: list[Density], variables: list) -> list[tuple[tuple, tuple]] | None:
    """(children, parents) factors if they form a Bayesian network over ``variables``."""
    net, covered = [], set()
    for d in factors:
        left = tuple(d.variables)
        if covered & set(left):
            return None
        covered |= set(left)
        net.append((left, tuple(d.given)))
    if covered != set(variables):
        return None
    order, done = [], set()
    while len(order) < len(net):
        progress = False
        for f in net:
            if f not in order and set(f[1]) <= done | (set(f[1]) - covered):
                order.append(f)
                done |= set(f[0])
                progress = True
        if not progress:
            return None
    return order


@dataclass
class Model:
    """One random finite model: supports, the joint p and the conditional q."""

    support: dict                                  # variable -> list of values
    p: dict = field(default_factory=dict)          # full assignment tuple -> probability
    q: dict = field(default_factory=dict)          # (latents..., observed...) -> q(latents | observed)
    order: list = field(default_factory=list)      # variables, in assignment-tuple order
    latents: list = field(default_factory=list)    # the variables q is a distribution over

    def _key(self, assign, vars_):
        return tuple(assign[v] for v in vars_)

    def _marginal(self, table, fixed: dict, over: list):
        """Sum of ``table`` over assignments agreeing with ``fixed``."""
        total = mpmath.mpf(0)
        free = [v for v in over if v not in fixed]
        for values in itertools.product(*(self.support[v] for v in free)):
            a = dict(fixed)
            a.update(zip(free, values))
            total += table[self._key(a, over)]
        return total

    def density(self, d: Density, assign: dict):
        need = set(d.variables) | set(d.given)
        missing = [v for v in need if v not in assign]
        if missing:
            raise Unsupported(f"{d} is used where {missing[0]} has no value")
        if d.family == "p":
            num = self._marginal(self.p, {v: assign[v] for v in need}, self.order)
            den = self._marginal(self.p, {v: assign[v] for v in d.given}, self.order) if d.given else 1
            return num / den
        if d.family == "q":
            observed = {v: assign[v] for v in self.order if v not in self.latents}
            if any(v not in assign for v in self.order if v not in self.latents):
                raise Unsupported("q used without the observed variables")
            cond = {**observed, **{v: assign[v] for v in d.given if v in self.latents}}
            num_fix = {**cond, **{v: assign[v] for v in d.variables}}
            num = self._marginal(self.q, num_fix, self.order)
            den = self._marginal(self.q, cond, self.order)
            return num / den
        raise Unsupported(f"the density family {d.family}")


def _random_cpt(children, parents, support, rng):
    table = {}
    for pv in itertools.product(*(support[v] for v in parents)):
        weights = {cv: mpmath.mpf(rng.randint(1, 30)) for cv in itertools.product(*(support[v] for v in children))}
        total = sum(weights.values())
        for cv, w in weights.items():
            table[(pv, cv)] = w / total
    return table


def make_model(reference_dens, all_dens, rng: random.Random, k: int) -> Model:
    variables = _variables(all_dens)
    support = {v: list(range(k)) for v in variables}
    latents = sorted({v for d in all_dens if d.family == "q" for v in d.variables}, key=lambda s: s.name)
    m = Model(support, order=variables, latents=latents)
    p_factors = [d for d in reference_dens if d.family == "p"]
    net = _network(_unique(p_factors), variables)
    if net is None:
        net = [(tuple(variables), ())]
    m.p = _joint(net, variables, support, rng)
    observed = [v for v in variables if v not in latents]
    q_factors = [d for d in reference_dens if d.family == "q"]
    qnet = _network(_unique(q_factors), latents) if latents else None
    if qnet is None:
        qnet = [(tuple(latents), tuple(observed))] if latents else []
    qnet = qnet + [((v,), ()) for v in observed]          # observed: any positive distribution
    m.q = _joint(qnet, variables, support, rng)
    return m


def _unique(dens):
    seen, out = set(), []
    for d in dens:
        key = (d.variables, d.given)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _joint(net, variables, support, rng) -> dict:
    cpts = [(_random_cpt(c, p, support, rng), c, p) for c, p in net]
    table = {}
    for values in itertools.product(*(support[v] for v in variables)):
        a = dict(zip(variables, values))
        prob = mpmath.mpf(1)
        for cpt, c, p in cpts:
            prob *= cpt[(tuple(a[v] for v in p), tuple(a[v] for v in c))]
        table[values] = prob
    return table


def evaluate(expr, model: Model, assign: dict):
    """The value of a structured expression in ``model`` at ``assign`` (mpmath)."""
    if isinstance(expr, Density):
        return model.density(expr, assign)
    if isinstance(expr, Expectation):
        measure = list(expr.measure)
        if not all(isinstance(m, Density) for m in measure):
            raise Unsupported("an expectation over variables without their distribution")
        if any(not m.variables for m in measure):
            measure = _whole(measure, model)
        drawn = [v for m in measure for v in m.variables if v not in assign]
        drawn = list(dict.fromkeys(drawn))
        total = mpmath.mpf(0)
        for values in itertools.product(*(model.support[v] for v in drawn)):
            a = {**assign, **dict(zip(drawn, values))}
            weight = mpmath.mpf(1)
            for m in measure:
                weight *= model.density(m, a)
            total += weight * evaluate(expr.body, model, a)
        return total
    if isinstance(expr, KL):
        a, b = expr.args
        if set(a.variables) != set(b.variables):
            raise Unsupported("a KL divergence between densities of different variables")
        total = mpmath.mpf(0)
        drawn = [v for v in a.variables]
        for values in itertools.product(*(model.support[v] for v in drawn)):
            x = {**assign, **dict(zip(drawn, values))}
            pa, pb = model.density(a, x), model.density(b, x)
            total += pa * (mpmath.log(pa) - mpmath.log(pb))
        return total
    if isinstance(expr, sp.Integral):
        return _sum_over_support(expr, model, assign)
    if expr.is_Number or expr in (sp.pi, sp.E):
        return mpmath.mpf(sp.N(expr, DIGITS))
    if isinstance(expr, sp.Symbol):
        raise Unsupported(f"the symbol {expr} in a structured answer")
    args = [evaluate(a, model, assign) for a in expr.args]
    if isinstance(expr, sp.Add):
        return mpmath.fsum(args)
    if isinstance(expr, sp.Mul):
        return mpmath.fprod(args)
    if isinstance(expr, sp.Pow):
        return args[0] ** args[1]
    if isinstance(expr, sp.log):
        return mpmath.log(args[0])
    if isinstance(expr, sp.exp):
        return mpmath.exp(args[0])
    raise Unsupported(f"{type(expr).__name__} in a structured answer")


def _sum_over_support(integral: sp.Integral, model: Model, assign: dict):
    """``\\int p(X|Z) p(Z) dZ``: on a finite model an integral over a random variable (over its
    whole range) is the sum over that variable's support."""
    drawn = []
    for lim in integral.limits:
        var = lim[0]
        if len(lim) == 3 and not (lim[1] == -sp.oo and lim[2] == sp.oo):
            raise Unsupported("an integral over a bounded range")
        if var not in model.support:
            raise Unsupported(f"an integral over {var}, which no density in the answer is of")
        if var in assign:
            raise Unsupported(f"an integral over {var}, which already has a value")
        drawn.append(var)
    total = mpmath.mpf(0)
    for values in itertools.product(*(model.support[v] for v in drawn)):
        total += evaluate(integral.function, model, {**assign, **dict(zip(drawn, values))})
    return total


def _whole(measure, model):
    """``E_q[...]`` written without arguments: q over all the latents, or p over everything."""
    out = []
    for m in measure:
        if m.variables:
            out.append(m)
        elif m.family == "q":
            out.append(Density.make("q", model.latents))
        else:
            out.append(Density.make(m.family, model.order))
    return out


def _measure_order(measure) -> list | None:
    """The factors of a product measure, each after the factors that draw what it is given
    (q(z1|x) before q(z2|z1)); None when they cannot be so ordered or are not all densities."""
    factors = list(measure)
    if len(factors) < 2 or not all(isinstance(m, Density) and m.variables for m in factors):
        return None
    drawn = {v for m in factors for v in m.variables}
    placed, order = set(), []
    while factors:
        ready = [m for m in factors if not (set(m.given) & drawn) - placed]
        if not ready:
            return None
        order.append(ready[0])
        placed |= set(ready[0].variables)
        factors.remove(ready[0])
    return order


def nest_measures(expr):
    """``E_{q(z1|x) q(z2|z1)}[f]`` as ``E_{q(z1|x)}[E_{q(z2|z1)}[f]]`` (the same number: the tower
    rule), so that a variable one factor draws and another is given (z1) is bound, not read as a
    free variable of the expression. Measures whose factors do not condition on one another, or
    cannot be ordered, are left as written."""
    if not isinstance(expr, sp.Basic) or not expr.has(Expectation):
        return expr
    if isinstance(expr, Expectation):
        body = nest_measures(expr.body)
        order = _measure_order(expr.measure)
        drawn = {v for m in expr.measure if isinstance(m, Density) for v in m.variables}
        chained = order is not None and any(set(m.given) & drawn for m in order)
        if not chained:
            return Expectation.make(body, expr.measure) if body is not expr.body else expr
        for m in reversed(order):
            body = Expectation.make(body, (m,))
        return body
    args = [nest_measures(a) for a in expr.args]
    return expr.func(*args) if any(a is not b for a, b in zip(args, expr.args)) else expr


def explicit_measures(expr, densities):
    """``E_q[...]`` written without arguments as the finite models read it -- q over every latent
    variable (the variables of the q densities), p over every variable -- written out, so that
    those variables are bound by the expectation rather than read as free variables."""
    if not isinstance(expr, sp.Basic) or not expr.has(Expectation):
        return expr
    variables = sorted({v for d in densities for v in d.variables + d.given}, key=lambda v: v.name)
    latents = sorted({v for d in densities if d.family == "q" for v in d.variables}, key=lambda v: v.name)

    def whole(e):
        if not isinstance(e, Expectation):
            return None
        measure = list(e.measure)
        if not any(isinstance(m, Density) and not m.variables for m in measure):
            return None
        out = []
        for m in measure:
            if isinstance(m, Density) and not m.variables:
                over = latents if m.family == "q" else variables
                if not over:
                    return None
                m = Density.make(m.family, over)
            out.append(m)
        return Expectation.make(e.body, out)

    return expr.replace(lambda e: whole(e) is not None, whole)


def for_models(expr, densities):
    """``expr`` as the finite models evaluate it: bare measures written out, chained product
    measures nested (both leave the value unchanged)."""
    return nest_measures(explicit_measures(expr, densities))


def free_variables(expr) -> set:
    """Random variables with no value from an enclosing expectation or KL."""
    if isinstance(expr, Density):
        return set(expr.variables) | set(expr.given)
    if isinstance(expr, Expectation):
        bound = {v for m in expr.measure if isinstance(m, Density) for v in m.variables}
        inner = free_variables(expr.body) - bound
        given = {v for m in expr.measure if isinstance(m, Density) for v in m.given}
        return inner | (given - bound)      # q(z1|x) q(z2|z1): z1 is drawn, not given from outside
    if isinstance(expr, KL):
        a, b = expr.args
        return (set(a.given) | set(b.given)) | (free_variables(a) | free_variables(b)) - set(a.variables)
    if isinstance(expr, sp.Integral):
        return free_variables(expr.function) - {lim[0] for lim in expr.limits}
    out = set()
    for arg in getattr(expr, "args", ()):
        out |= free_variables(arg)
    return out


def compare_forms(answer, references, seed: int = 0, models: int = MODELS, model_from=None) -> Evidence:
    """Evidence that ``answer`` equals one of ``references`` in every random finite model.

    The model (which density conditions on which) is read off ``model_from`` when given -- the
    slot's own references, when ``references`` are mutations of them that may drop a
    dependence (p(X) written for p(X|Z) must not make X independent of Z) -- else off each
    reference."""
    started = time.perf_counter()
    ref_dens = [d for r in references for d in _densities(r)]
    answer = _same_case(answer, ref_dens)
    all_dens = ref_dens + _densities(answer)
    structure = None if model_from is None else [d for r in model_from for d in _densities(r)]
    all_dens += structure or []
    from . import rewrite
    for reference in references:
        if rewrite.equal(answer, reference, model_from or references):
            return Evidence(Status.PROVED, Kind.SYMBOLIC,
                            "equal by the rewrite rules (KL definition, log of a product, the model's "
                            "chain rule, linearity of E, marginalisation)", seconds=time.perf_counter() - started)
    best = None
    answer_m = for_models(answer, all_dens)
    for reference in references:
        ref_m = for_models(reference, all_dens)
        rng = random.Random(seed)
        ok, example = True, None
        try:
            with mpmath.workdps(DIGITS):
                for i in range(models):
                    model = make_model(structure or _densities(reference), all_dens, rng, 2 + i % 2)
                    free = sorted(free_variables(answer_m) | free_variables(ref_m), key=lambda s: s.name)
                    for values in itertools.product(*(model.support[v] for v in free)):
                        assign = dict(zip(free, values))
                        a, r = evaluate(answer_m, model, assign), evaluate(ref_m, model, assign)
                        if abs(a - r) > TOL * max(1, abs(r)):
                            ok = False
                            example = {"model": i, "support size": 2 + i % 2,
                                       **{str(v): val for v, val in assign.items()},
                                       "answer": float(a), "reference": float(r)}
                            break
                    if not ok:
                        break
        except Unsupported as exc:
            best = best or Evidence(Status.UNCHECKED, Kind.NONE, f"not decidable on finite models: {exc}",
                                    seconds=time.perf_counter() - started)
            continue
        except (ZeroDivisionError, ValueError, TypeError) as exc:
            best = best or Evidence(Status.UNCHECKED, Kind.NONE, f"evaluation failed ({type(exc).__name__})",
                                    seconds=time.perf_counter() - started)
            continue
        if ok:
            return Evidence(Status.PROVED, Kind.EXACT_NUMERIC,
                            f"equal in {models} random finite models (every density, every value of "
                            f"the free variables, {DIGITS} digits)", seconds=time.perf_counter() - started,
                            extra={"points": models})
        refuted = Evidence(Status.REFUTED, Kind.EXACT_NUMERIC,
                           "differs from the reference in a random finite model "
                           "(random densities on a finite support)", counterexample=example,
                           seconds=time.perf_counter() - started)
        if best is None or best.status is not Status.REFUTED:
            best = refuted
    return best or Evidence(Status.UNCHECKED, Kind.NONE, "no reference to compare with")


def _same_case(answer, ref_dens):
    """The answer's random variables renamed to the reference's where they differ only in letter
    case (p(x|z) for the slot's p(X|Z)): one variable, two spellings. A renaming that would merge
    two variables, or that is ambiguous, is not made."""
    if not isinstance(answer, sp.Basic):
        return answer
    mine = _variables(_densities(answer))
    theirs = _variables(ref_dens)
    if not mine or set(mine) <= set(theirs):
        return answer
    spare = [v for v in theirs if v not in mine]
    rename = {}
    for v in mine:
        if v in theirs:
            continue
        match = [r for r in spare if r.name.lower() == v.name.lower()]
        if len(match) != 1 or match[0] in rename.values():
            return answer
        rename[v] = match[0]
    return answer.xreplace(rename) if rename else answer


def _violated(a, b, rel: str) -> bool:
    scale = TOL * max(1, abs(a), abs(b))
    if rel == "=":
        return abs(a - b) > scale
    gap = {"<=": a - b, "<": a - b, ">=": b - a, ">": b - a}[rel]
    return gap > scale if rel in ("<=", ">=") else gap > -scale


def _a_divergence(kl) -> bool:
    """Is KL(a || b) a divergence between two densities over the same variables (so >= 0)? A
    KL(q(Z) || p(X | Z)) compares a density of Z with a likelihood of X: no theorem signs it."""
    a, b = kl.args
    return isinstance(a, Density) and isinstance(b, Density) and set(a.variables) == set(b.variables) \
        and bool(a.variables)


def _nonnegative(expr) -> bool:
    """A nonnegative combination of KL terms (and expectations of them) and of terms SymPy's
    assumptions sign: >= 0 by Gibbs' inequality."""
    expr = sp.expand(expr)
    if isinstance(expr, KL):
        return _a_divergence(expr)
    if not expr.has(KL, Expectation, Density):
        return expr.is_nonnegative is True          # a constant, a square: SymPy's assumptions
    if isinstance(expr, Expectation):
        return _nonnegative(expr.body)
    if isinstance(expr, sp.Add):
        return all(_nonnegative(a) for a in expr.args)
    if isinstance(expr, sp.Mul):
        coeff, rest = expr.as_coeff_Mul()
        return bool(coeff.is_nonnegative) and _nonnegative(rest)
    return False


def _jensen(big, small, factors) -> bool:
    """big = c log E_m[W] and small = c E_m[log W'] with c > 0 and W' = W by the rewrite rules:
    Jensen's inequality for the concave log."""
    from . import rewrite
    cb, big = as_expr(big).as_coeff_Mul()
    cs, small = as_expr(small).as_coeff_Mul()
    if cb != cs or not cb.is_positive:
        return False
    if not (isinstance(big, sp.log) and isinstance(big.args[0], Expectation) and isinstance(small, Expectation)):
        return False
    outer = big.args[0]
    if set(outer.measure) != set(small.measure):
        return False
    try:
        return rewrite.equal(sp.log(outer.body), small.body, [sp.Mul(*factors)] if factors else [])
    except Exception:     # the rules are a proof or nothing
        return False


def _posterior_gap(big, small, factors) -> bool:
    """big - small = E_m[log m - log p(V | X)] by the rewrite rules, for m the measure of an
    expectation in ``small`` (over the variables V) and p(X) a density in ``big``: the gap of an
    evidence bound, a KL divergence between m and the posterior (>= 0 by Gibbs)."""
    from . import rewrite
    refs = [sp.Mul(*factors)] if factors else []
    for e in sorted(as_expr(small).atoms(Expectation), key=sp.default_sort_key):
        measure = [m for m in e.measure if isinstance(m, Density)]
        if not measure or len(measure) != len(e.measure):
            continue
        latent = tuple(dict.fromkeys(v for m in measure for v in m.variables))
        for p in sorted(as_expr(big).atoms(Density), key=sp.default_sort_key):
            if p.given or set(p.variables) & set(latent):
                continue
            posterior = Density(p.args[0], sp.Tuple(*latent), sp.Tuple(*p.variables))
            kl = Expectation(sp.Add(*(sp.log(m) for m in measure)) - sp.log(posterior), sp.Tuple(*e.measure))
            try:
                if rewrite.equal(big - small, kl, refs):
                    return True
            except Exception:     # the rules are a proof or nothing
                continue
    return False


def inequality_rule(lhs, rel: str, rhs, factors=()) -> str:
    """The symbolic argument for ``lhs rel rhs`` between structured expressions, or "": Jensen's
    inequality log E[W] >= E[log W], an evidence bound whose gap is KL(q || posterior), or a
    difference that is a sum of KL terms."""
    if rel not in ("<=", ">="):
        return ""                              # KL and Jensen gaps can be 0: no strict inequality
    big, small = (lhs, rhs) if rel == ">=" else (rhs, lhs)
    if _jensen(big, small, factors):
        return "Jensen's inequality (log is concave): log E[W] >= E[log W]"
    if _posterior_gap(big, small, factors):
        return "the difference is KL(q || posterior) by the rewrite rules, >= 0 (Gibbs' inequality)"
    if _nonnegative(big - small):
        return "the difference is a sum of KL divergences (>= 0 by Gibbs' inequality) and terms >= 0"
    return ""


def compare_relation(lhs, rel: str, rhs, factors=(), seed: int = 0, models: int = MODELS) -> Evidence:
    """Evidence for ``lhs rel rhs`` (rel: = <= >= < >) between structured expressions, in
    ``models`` random finite models whose joint distributions factorise as ``factors`` (the
    densities of a trusted reference; unrestricted joints when they form no Bayesian network).

    For ``=`` the rewrite rules are tried first (a symbolic proof when they take both sides to one
    form). A strict inequality that holds with equality in some model is refuted there. An
    inequality is proved only by a rule (``inequality_rule``); the models can refute it, never
    prove it."""
    from . import rewrite
    started = time.perf_counter()
    factors = list(factors)
    if rel == "=":
        try:
            if rewrite.equal(lhs, rhs, [sp.Mul(*factors)] if factors else []):
                return Evidence(Status.PROVED, Kind.SYMBOLIC, "equal by the rewrite rules (KL definition, log "
                                "of a product, the model's chain rule, linearity of E, marginalisation)",
                                seconds=time.perf_counter() - started)
        except Exception:      # the rules are a shortcut; the models decide otherwise
            pass
    if rel != "=":
        proof = inequality_rule(lhs, rel, rhs, factors)
        if proof:
            return Evidence(Status.PROVED, Kind.SYMBOLIC, proof, seconds=time.perf_counter() - started)
    sides = [e for e in (lhs, rhs) if isinstance(e, sp.Basic)]
    all_dens = factors + _densities(*sides)
    lhs, rhs = for_models(lhs, all_dens), for_models(rhs, all_dens)
    rng = random.Random(seed)
    try:
        with mpmath.workdps(DIGITS):
            for i in range(models):
                k = 2 + i % 2
                model = make_model(factors, all_dens, rng, k)
                free = sorted(free_variables(lhs) | free_variables(rhs), key=lambda s: s.name)
                for values in itertools.product(*(model.support[v] for v in free)):
                    assign = dict(zip(free, values))
                    a, b = evaluate(lhs, model, assign), evaluate(rhs, model, assign)
                    if _violated(a, b, rel):
                        example = {"model": i, "support size": k, **{str(v): val for v, val in assign.items()},
                                   "lhs": float(a), "rhs": float(b)}
                        return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC,
                                        f"the relation {rel} fails in a random finite model (random densities "
                                        "on a finite support)", counterexample=example,
                                        seconds=time.perf_counter() - started)
    except Unsupported as exc:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"not decidable on finite models: {exc}",
                        seconds=time.perf_counter() - started)
    except (ZeroDivisionError, ValueError, TypeError) as exc:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"evaluation on finite models failed ({type(exc).__name__})",
                        seconds=time.perf_counter() - started)
    how = "factorised as the slot's model" if factors else "with unrestricted joint distributions"
    if rel != "=":
        return Evidence(Status.UNCHECKED, Kind.NONE,
                        f"not proved: it holds in {models} random finite models ({how}), but numbers never prove an "
                        "inequality, and it is neither Jensen's inequality for log E[W] nor a sum of KL terms "
                        "(>= 0 by Gibbs)", seconds=time.perf_counter() - started)
    return Evidence(Status.PROVED, Kind.EXACT_NUMERIC,
                    f"holds in {models} random finite models ({how}; every value of the free variables, "
                    f"{DIGITS} digits)", seconds=time.perf_counter() - started, extra={"points": models})


def compare(slot, answer, reference, seed: int = 0) -> Evidence:
    """A structured answer against the slot's reference forms (see ``core``)."""
    refs = reference if isinstance(reference, (list, tuple)) else [reference]
    refs = [r for r in refs if r is not None]
    return compare_forms(answer, refs, seed)
