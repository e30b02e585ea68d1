"""The scope of a slot: every name an answer to it may use, taken from the registry.

Sources, most authoritative first: the slot's declared symbols (their LaTeX, then aliases),
the named quantities in ``definitions`` (Delta, gamma_t, f_theta(x_t), ...), the declared
``functions``, and whatever else occurs in the reference (so a slot written without a
symbol list still reads its own notation). Named quantities keep their own symbol in the
parsed answer (the student wrote \\Delta, not its integral); ``expansions`` says how to
expand each into the slot's primitives.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp
from sympy.core.function import AppliedUndef, UndefinedFunction

from .names import Scope, free_atoms, key_of_latex
from .objects import Density


@dataclass
class SlotScope(Scope):
    expansions: dict = field(default_factory=dict)    # named-quantity symbol -> expression
    lambdas: dict = field(default_factory=dict)       # function class -> sp.Lambda


def _definition_pairs(definitions: dict):
    for key, value in (definitions or {}).items():
        yield key, sp.sympify(value) if not isinstance(value, (sp.Basic, sp.MatrixBase)) else value


def build(symbols=(), functions=(), definitions=None, reference=None, matrix: bool = False,
          extra=()) -> SlotScope:
    """A scope from the parts of a slot (any of them may be empty)."""
    scope = SlotScope()
    for s in symbols:
        if isinstance(s, (sp.Symbol, sp.MatrixSymbol)):
            scope.add_symbol(s)
        elif isinstance(s, sp.IndexedBase):
            scope.indexed.setdefault(key_of_latex(sp.latex(s.label)), s)
        elif isinstance(s, (UndefinedFunction, AppliedUndef)):
            scope.add_function(s)
    for key, value in _definition_pairs(definitions):
        if isinstance(key, str):
            k = key_of_latex(key) or key_of_latex(identifier_latex(key))
            if k is None:
                continue
            sym = scope.names.get(k) or sp.Symbol(k.text(), real=True)
            scope.add_name(k, sym, strong=True)
            scope.expansions[sym] = value
        elif isinstance(key, (sp.Symbol, sp.MatrixSymbol)):
            scope.add_symbol(key)
            scope.expansions[key] = value
        elif isinstance(key, AppliedUndef):
            scope.add_function(key.func)
            if all(isinstance(a, sp.Symbol) for a in key.args):
                scope.lambdas[key.func] = sp.Lambda(key.args, value)
        elif isinstance(key, UndefinedFunction) and isinstance(value, sp.Lambda):
            scope.add_function(key)
            scope.lambdas[key] = value
    for f in functions:
        scope.add_function(f)
    pool = [reference, *(v for _, v in _definition_pairs(definitions)), *extra]
    for expr in pool:
        if expr is None:
            continue
        if isinstance(expr, sp.Basic) and expr.is_Relational:
            expr = [expr.lhs, expr.rhs]
        syms, funcs, bases = free_atoms(expr)
        for s in sorted(syms, key=sp.default_sort_key):
            if not _is_family(s, expr):
                scope.add_symbol(s, strong=False)
        for f in funcs:
            scope.add_function(f)
        for base in bases:
            scope.indexed.setdefault(key_of_latex(sp.latex(base.label)), base)
        for item in (expr if isinstance(expr, list) else [expr]):
            if not isinstance(item, sp.Basic):
                continue
            for d in item.atoms(Density):
                scope.families.add(d.family)
            for s in item.atoms(sp.Sum, sp.Product):
                for var, lo, hi in s.limits:
                    scope.index_limits.setdefault(sp.latex(var), (lo, hi))
    if matrix:
        dims = {m.shape[0] for m in scope.names.values() if isinstance(m, sp.MatrixSymbol)}
        if len(dims) == 1:
            scope.identity = sp.Identity(dims.pop())
    scope.indexed.pop(None, None)
    return scope


GREEK = set("""alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho
sigma tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega""".split())


def identifier_latex(name: str) -> str:
    """A plain identifier as LaTeX: ``gamma_t`` -> ``\\gamma_{t}``, ``C_1`` -> ``C_{1}``."""
    base, _, sub = name.partition("_")
    base = "\\" + base if base in GREEK else base
    return f"{base}_{{{sub}}}" if sub else base


def _is_family(s, expr) -> bool:
    items = expr if isinstance(expr, list) else [expr]
    return any(isinstance(i, sp.Basic) and any(d.args[0] == s for d in i.atoms(Density)) for i in items)


@lru_cache(maxsize=256)
def for_slot(slot_id: str) -> SlotScope:
    """The scope of a registered slot (cached: slots do not change within a process)."""
    from .. import registry
    slot = registry.get_slot(slot_id)
    return build(slot.symbols, slot.functions, slot.definitions, slot.reference,
                 matrix=slot.kind == "matrix", extra=tuple(getattr(slot, "aliases_of", ()) or ()))
