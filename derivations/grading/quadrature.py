"""Integrals of unknown smooth functions (score matching: q(x), s_theta(x), grad log q),
decided with random concrete functions and quadrature.

An identity between such integrals (ESM = ISM + C_1, which needs integration by parts) must
hold for every density q and every score model s_theta with q s_theta -> 0 at infinity. A
world replaces each unknown density by a random two-component Gaussian mixture and each
other unknown function by a random quadratic polynomial (so the boundary terms vanish),
differentiates exactly, and integrates on a uniform grid over [-L, L] (the trapezoid rule
is spectrally accurate for such smooth, Gaussian-decaying integrands). Values are float64:
a relative difference above ``REL_TOL`` refutes, agreement in every world is numeric
evidence. The integrand is evaluated by a small interpreter over SymPy's tree (numpy
arrays), never by generated code.
"""
from __future__ import annotations

import random
from collections import OrderedDict

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

_trapezoid = getattr(np, "trapezoid", None) or np.trapz
L = 12.0
STEP = 0.1
REL_TOL = 1e-7


class Unsupported(ValueError):
    pass


def applies(expr) -> bool:
    """Integrals whose integrand applies unknown functions to the integration variables."""
    for integral in expr.atoms(sp.Integral):
        bound = {lim[0] for lim in integral.limits}
        if any(set(f.free_symbols) & bound for f in integral.function.atoms(AppliedUndef)):
            return True
    return False


class Functions(dict):
    """A world's concrete functions; ``token`` names the draw (the functions and the generator's
    state before it), so values computed with them can be kept (``value``)."""
    token = None


_FUNCTIONS: OrderedDict = OrderedDict()     # (funcs, rng state) -> (Functions, rng state after)
_VALUES: OrderedDict = OrderedDict()        # (expr, point, token) -> value
CACHE_SIZE = 20000


def _remember(table: OrderedDict, key, value) -> None:
    table[key] = value
    if len(table) > CACHE_SIZE:
        table.popitem(last=False)


def random_functions(funcs, rng: random.Random) -> dict:
    """Concrete Lambdas: densities (names starting with p or q) as Gaussian mixtures.

    The same functions from the same generator state are built once per process and the
    generator is left where the draw would have left it: every answer to a slot is checked
    against the same worlds, so their functions (and the reference's values) are reused."""
    key = (tuple(sorted(funcs, key=lambda f: f.__name__)), rng.getstate())
    hit = _FUNCTIONS.get(key)
    if hit is not None:
        out, after = hit
        rng.setstate(after)
        return out
    out = Functions(_draw(funcs, rng))
    out.token = key
    _remember(_FUNCTIONS, key, (out, rng.getstate()))
    return out


def _draw(funcs, rng: random.Random) -> dict:
    out = {}
    u = sp.Dummy("u")
    for f in sorted(funcs, key=lambda f: f.__name__):
        if f.__name__[:1] in ("p", "q"):
            w = sp.Rational(rng.randint(2, 8), 10)
            comps = []
            for weight in (w, 1 - w):
                m = sp.Rational(rng.randint(-10, 10), 10)
                s = sp.Rational(rng.randint(6, 15), 10)
                comps.append(weight * sp.exp(-(u - m) ** 2 / (2 * s**2)) / (s * sp.sqrt(2 * sp.pi)))
            out[f] = sp.Lambda(u, sp.Add(*comps))
        else:
            a, b, c = (sp.Rational(rng.randint(-10, 10), 10) for _ in range(3))
            out[f] = sp.Lambda(u, a + b * u + c * u**2 / 4)
    return out


def concretise(expr, functions: dict):
    """Unknown functions replaced by the world's concrete ones; derivatives carried out."""
    expr = expr.replace(lambda e: isinstance(e, AppliedUndef) and e.func in functions,
                        lambda e: functions[e.func](*e.args))
    return expr.replace(lambda e: isinstance(e, sp.Derivative), lambda e: e.doit())


_UNARY = {sp.exp: np.exp, sp.log: np.log, sp.Abs: np.abs, sp.sign: np.sign,
          sp.sin: np.sin, sp.cos: np.cos, sp.tanh: np.tanh}


def interpret(expr, env: dict):
    """Value of ``expr`` with the symbols in ``env`` bound to numpy arrays or floats."""
    if expr in env:
        return env[expr]
    if expr.is_Number or expr.is_NumberSymbol:
        return float(expr)
    if isinstance(expr, sp.Symbol):
        raise Unsupported(f"the symbol {expr} has no value")
    if isinstance(expr, sp.Integral):
        return integrate(expr, env)
    args = [interpret(a, env) for a in expr.args]
    if isinstance(expr, sp.Add):
        out = args[0]
        for a in args[1:]:
            out = out + a
        return out
    if isinstance(expr, sp.Mul):
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if isinstance(expr, sp.Pow):
        return np.power(args[0], args[1])
    for kind, fn in _UNARY.items():
        if isinstance(expr, kind):
            return fn(args[0])
    raise Unsupported(f"{type(expr).__name__} inside an integral")


def integrate(integral: sp.Integral, env: dict):
    grid = np.arange(-L, L + STEP / 2, STEP)
    variables = []
    for lim in integral.limits:
        if len(lim) == 3 and not (lim[1] == -sp.oo and lim[2] == sp.oo):
            raise Unsupported("an integral over a bounded range")
        variables.append(lim[0])
    if len(variables) > 2:
        raise Unsupported("an integral over more than two variables")
    mesh = np.meshgrid(*([grid] * len(variables)), indexing="ij")
    inner = dict(env)
    inner.update(zip(variables, mesh))
    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(interpret(integral.function, inner), dtype=float), mesh[0].shape)
    if not np.all(np.isfinite(values)):
        raise Unsupported("the integrand is not finite on the grid")
    total = values
    for _ in variables:
        total = _trapezoid(total, dx=STEP, axis=0)
    return float(total)


def value(expr, point: dict, functions: dict) -> float:
    point = {k: v for k, v in point.items() if k in expr.free_symbols}
    token = getattr(functions, "token", None)
    key = (expr, frozenset(point.items()), token) if token is not None else None
    if key is not None and key in _VALUES:
        return _VALUES[key]                  # a pure function of (expr, point, functions)
    concrete = concretise(expr.xreplace(point), functions)
    env = {}
    with np.errstate(all="ignore"):
        v = interpret(concrete, env)
    v = float(v)
    if key is not None:
        _remember(_VALUES, key, v)
    return v
