"""The rewrite rules of the derivations, as a canonical form for answers about densities.

Rules (each an identity that holds for every density):
* the KL definition: KL(a || b) = E_a[log a - log b];
* log of a product or ratio: log(a b / c) = log a + log b - log c;
* the chain rule of the model: log p(A | B) = log p(A, B) - log p(B), and a joint over an
  ancestrally closed set of the model's Bayesian network is the sum of its factors' logs
  (log p(x, z1, z2) = log p(x|z1) + log p(z1|z2) + log p(z2) for the HVAE);
* linearity of E, E of a constant, nested expectations as one over the product measure, and
  marginalisation: E_{q(z1|x) q(z2|z1)}[g(z1)] = E_{q(z1|x)}[g(z1)].

An expression becomes a linear combination of E_measure[log factor] terms; two expressions
with the same combination are equal (a symbolic proof by these rules). Different
combinations prove nothing (the rules are not complete); the random finite models decide.
"""
from __future__ import annotations

from collections import defaultdict

import sympy as sp

from ..latex.objects import KL, Density, Expectation


class NotLinear(ValueError):
    """The expression is not a linear combination of logs of densities under expectations."""


class Network:
    """A family's factorisation: (children, parents) factors; observed variables for q."""

    def __init__(self, family: str, factors, observed=()):
        self.family, self.factors, self.observed = family, list(factors), frozenset(observed)

    def closed(self, variables: frozenset) -> bool:
        """Is ``variables`` a union of whole factors whose parents are also inside (or observed)?"""
        used = set()
        for children, parents in self.factors:
            if set(children) & variables:
                if not set(children) <= variables:
                    return False
                if not set(parents) <= variables | self.observed:
                    return False
                used |= set(children)
        return used == set(variables)

    def logs(self, variables: frozenset) -> list | None:
        """log p(variables) as factor atoms, when the set is ancestrally closed."""
        if not self.closed(variables):
            return None
        return [Density.make(self.family, c, tuple(p for p in parents if p not in self.observed or
                                                    self.family == "p"))
                for c, parents in self.factors if set(c) <= variables]


def _key(d: Density) -> Density:
    return Density.make(d.family, sorted(d.variables, key=str), sorted(d.given, key=str))


class Canon:
    def __init__(self, p: Network | None, q: Network | None):
        self.p, self.q = p, q

    def log_density(self, d: Density) -> dict:
        """log d as {factor atom: coefficient}."""
        net = self.p if d.family == "p" else self.q if d.family == "q" else None
        given = d.given
        if d.family == "q" and net is not None:
            given = tuple(v for v in d.given if v not in net.observed)      # q(Z|X) is q(Z)
        joint = frozenset(d.variables) | frozenset(given)
        out: dict = defaultdict(lambda: sp.Integer(0))

        def add_set(vars_, sign):
            logs = net.logs(vars_) if net is not None and vars_ else None
            if logs is None:
                out[("log", _key(Density.make(d.family, sorted(vars_, key=str))))] += sign
            else:
                for f in logs:
                    out[("log", _key(f))] += sign
        if net is None:
            out[("log", _key(Density.make(d.family, d.variables, given)))] += 1
            return dict(out)
        for children, parents in net.factors:          # a factor of the model is its own atom
            own = tuple(p for p in parents if not (d.family == "q" and p in net.observed))
            if set(children) == set(d.variables) and set(own) == set(given):
                out[("log", _key(Density.make(d.family, children, own)))] += 1
                return dict(out)
        add_set(joint, 1)
        if given:
            add_set(frozenset(given), -1)
        return {k: v for k, v in out.items() if v != 0}

    def terms(self, expr) -> dict:
        """expr as {(measure, atom): coefficient}; measure is a frozenset of densities or ()."""
        if isinstance(expr, KL):
            a, b = expr.args
            return self.terms(Expectation.make(sp.log(a) - sp.log(b), [a]))
        if isinstance(expr, sp.Add):
            out: dict = defaultdict(lambda: sp.Integer(0))
            for arg in expr.args:
                for k, v in self.terms(arg).items():
                    out[k] += v
            return {k: v for k, v in out.items() if v != 0}
        if isinstance(expr, sp.Mul):
            coeff, rest = expr.as_coeff_Mul()
            if coeff != 1:
                return {k: coeff * v for k, v in self.terms(rest).items()}
            raise NotLinear("a product of terms")
        if isinstance(expr, sp.log):
            return self.log_terms(expr.args[0])
        if isinstance(expr, Expectation):
            measure = [m for m in expr.measure]
            if not all(isinstance(m, Density) for m in measure):
                raise NotLinear("an expectation over bare variables")
            drawn = frozenset(v for m in measure for v in m.variables)
            out = defaultdict(lambda: sp.Integer(0))
            outer_vars = {v for m in measure for v in m.variables + m.given}
            for (inner, atom), v in self.terms(expr.body).items():
                inner_drawn = {w for m in (inner or ()) for w in m.variables}
                if inner_drawn & outer_vars:
                    # E_{q(z2|z1)}[E_{q(z1|x)}[...]]: the outer z1 is not the inner one; merging the
                    # two into one product measure would be the seed's invalid step
                    raise NotLinear("an outer expectation over a variable bound inside it")
                full = frozenset(self.measure_key(m) for m in measure) | (frozenset(inner) if inner else frozenset())
                out[(self.marginal(full, atom, drawn), atom)] += v
            return {k: v for k, v in out.items() if v != 0}
        if expr.is_Number:
            return {((), ("const",)): expr} if expr != 0 else {}
        raise NotLinear(f"{type(expr).__name__} in a structured answer")

    def measure_key(self, d: Density) -> Density:
        """q(Z|X) and q(Z) are one measure: q is always given the observed variables."""
        if d.family == "q" and self.q is not None:
            return _key(Density.make("q", d.variables, [v for v in d.given if v not in self.q.observed]))
        return _key(d)

    def log_terms(self, arg) -> dict:
        if isinstance(arg, Density):
            return {((), atom): v for atom, v in self.log_density(arg).items()}
        if isinstance(arg, sp.Mul):
            out: dict = defaultdict(lambda: sp.Integer(0))
            for f in arg.args:
                for k, v in self.log_terms(f).items():
                    out[k] += v
            return dict(out)
        if isinstance(arg, sp.Pow) and arg.exp.is_Number:
            return {k: arg.exp * v for k, v in self.log_terms(arg.base).items()}
        raise NotLinear("a log of something other than densities")

    def marginal(self, measure: frozenset, atom, drawn) -> tuple:
        """Drop measure factors the atom does not need (E of a constant is the constant)."""
        if atom == ("const",):
            return ()
        needed = set(atom[1].variables) | set(atom[1].given)
        keep = set()
        changed = True
        while changed:
            changed = False
            for m in measure:
                if m in keep:
                    continue
                if set(m.variables) & (needed | {v for k in keep for v in k.given}):
                    keep.add(m)
                    changed = True
        if not keep:
            return ()
        return tuple(sorted(keep, key=str))


def networks(references) -> tuple[Network | None, Network | None]:
    """The p and q factorisations the references use (as in ``structural.make_model``)."""
    from .structural import _densities, _network, _unique, _variables
    dens = [d for r in references for d in _densities(r)]
    variables = _variables(dens)
    latents = sorted({v for d in dens if d.family == "q" for v in d.variables}, key=str)
    observed = [v for v in variables if v not in latents]
    p_net = _network(_unique([d for d in dens if d.family == "p"]), variables)
    q_net = _network(_unique([d for d in dens if d.family == "q"]), latents) if latents else None
    p = Network("p", p_net) if p_net else None
    q = Network("q", q_net, observed) if q_net else None
    return p, q


def equal(answer, reference, references) -> bool:
    """Do the rewrite rules take ``answer`` and ``reference`` to the same canonical form?"""
    p, q = networks(references)
    canon = Canon(p, q)
    try:
        return canon.terms(answer) == canon.terms(reference)
    except NotLinear:
        return False
