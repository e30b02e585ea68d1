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

from ..symbols import as_expr
from sympy.core.function import AppliedUndef, UndefinedFunction

from lark import Token, Tree

from .names import Scope, canon, declared_symbol, free_atoms, key_of_latex, name_key, tree_of_latex
from .objects import Density


@dataclass
class SlotScope(Scope):
    expansions: dict = field(default_factory=dict)    # named-quantity symbol -> expression
    lambdas: dict = field(default_factory=dict)       # function class -> sp.Lambda
    density_symbols: dict = field(default_factory=dict)  # Density -> the slot's symbol for it
    measures: dict = field(default_factory=dict)      # variable -> its density (E_{x, eps}[...])
    default_calls: dict = field(default_factory=dict)  # function name -> its one application in the reference
    joint_measures: dict = field(default_factory=dict)  # measure symbol -> Lambda(variables, density)


def _definition_pairs(definitions: dict):
    for key, value in (definitions or {}).items():
        yield key, as_expr(value) if not isinstance(value, (sp.Basic, sp.MatrixBase)) else value


def _default_calls(scope: SlotScope, reference) -> None:
    """For each function the reference applies to exactly one argument tuple, that application:
    what the function's bare name means in an answer (``\\epsilon_\\theta`` for ``\\epsilon_\\theta(x_t)``)."""
    items = reference if isinstance(reference, list) else [reference]
    calls: dict = {}
    for item in items:
        if isinstance(item, sp.Basic):
            for call in item.atoms(AppliedUndef):
                calls.setdefault(call.func, set()).add(call)
    for key, f in scope.functions.items():
        if len(calls.get(f, ())) == 1 and key not in scope.names:
            scope.default_calls[key] = next(iter(calls[f]))


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
            if k is None:                      # a phrase such as q(Z) naming a declared symbol
                tree = tree_of_latex(key)
                sym = scope.phrases.get(canon(tree)) if tree is not None else None
                if sym is not None:
                    scope.expansions[sym] = value
                continue
            sym = scope.names.get(k) or _name_for(key, k, value)
            scope.add_name(k, sym, strong=True)
            scope.expansions[sym] = value
        elif isinstance(key, sp.Symbol) and isinstance(value, sp.Lambda):
            # a named joint measure (sm.dsm: q_sigma(x, x~) as the density q(x) phi(eps) over
            # (x, eps)): read only as the measure of an expectation, never as a value
            scope.add_symbol(key)
            scope.joint_measures[key] = value
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
    pool = [reference, *(v for _, v in _definition_pairs(definitions) if not isinstance(v, sp.Lambda)), *extra]
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
        if expr is reference:
            _default_calls(scope, expr)
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
    for expr in pool:
        if isinstance(expr, sp.Basic):
            for integral in expr.atoms(sp.Integral):
                for var, density in _measures(integral).items():
                    scope.measures.setdefault(var, density)
    if matrix:
        dims = {m.shape[0] for m in scope.names.values() if isinstance(m, sp.MatrixSymbol)}
        if len(dims) == 1:
            scope.identity = sp.Identity(dims.pop())
    scope.indexed.pop(None, None)
    return scope


def _name_for(plain: str, key, value):
    """The symbol a named quantity is read as: a MatrixSymbol of the value's shape when the value
    is a matrix (``Sigma = (Lambda + A^T L A)^{-1}``, so ``\\Sigma v`` is a matrix product and the
    matrix kinds find it by its plain name), else a real Symbol."""
    if isinstance(value, (sp.MatrixExpr, sp.MatrixBase)):
        name = plain if plain.isidentifier() else key.text()
        return sp.MatrixSymbol(name, *value.shape)
    return sp.Symbol(key.text(), real=True)


GREEK = set("""alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho
sigma tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega""".split())


def identifier_latex(name: str) -> str:
    """A plain identifier as LaTeX: ``gamma_t`` -> ``\\gamma_{t}``, ``C_1`` -> ``C_{1}``."""
    base, _, sub = name.partition("_")
    base = "\\" + base if base in GREEK else base
    return f"{base}_{{{sub}}}" if sub else base


def _measures(integral: sp.Integral) -> dict:
    """Each integration variable's density, read off a reference integral: the factors that
    depend on that variable alone and are not the integrand's unknown model functions
    (q(x) stays q(x); exp(-eps^2/2) is normalised to the standard normal density)."""
    out = {}
    factors = sp.Mul.make_args(sp.factor_terms(integral.function))
    for lim in integral.limits:
        var = lim[0]
        mine = [f for f in factors if f.free_symbols == {var} and not f.has(sp.Derivative)
                and all(a.func.__name__[:1] in ("p", "q") for a in f.atoms(AppliedUndef))]
        if not mine:
            continue
        density = sp.Mul(*mine)
        if not density.atoms(AppliedUndef):
            try:
                total = sp.integrate(density, (var, -sp.oo, sp.oo))
            except Exception:
                continue
            if not (total.is_positive and total.is_finite):
                continue
            density = sp.simplify(density / total)
        out[var] = density
    return out


def _is_family(s, expr) -> bool:
    items = expr if isinstance(expr, list) else [expr]
    return any(isinstance(i, sp.Basic) and any(d.args[0] == s for d in i.atoms(Density)) for i in items)


def density_mode(scope: SlotScope) -> SlotScope:
    """The same scope, reading p(x|z), q_\\phi(z|x) as ``Density`` objects (random variables
    may be new names); a declared symbol whose LaTeX is a density (``p_\\theta(X\\mid Z)``)
    is remembered in ``density_symbols`` so pointwise references can be compared too."""
    from .reader import Reader
    from .syntax import parse_tree
    dens = SlotScope(**{**scope.__dict__, "phrases": {}, "families": set(scope.families) | {"p", "q"},
                        "random_variables": True, "density_symbols": {}})
    reader = Reader(dens)
    for sym in dict.fromkeys(scope.phrases.values()):
        if sym in scope.joint_measures:        # a declared joint measure stays the slot's measure
            continue
        for form in _forms(sym):
            try:
                value = reader.chain(parse_tree(form)).members[0]
            except Exception:
                continue
            if isinstance(value, Density):
                dens.density_symbols.setdefault(value, sym)
    as_density = set(dens.density_symbols.values())
    dens.phrases = {k: v for k, v in scope.phrases.items() if v not in as_density}
    return dens


def _forms(sym) -> list[str]:
    from .. import symbols as symtab
    info = symtab.info(sym)
    return [info.latex, *info.aliases]


@lru_cache(maxsize=256)
def for_slot(slot_id: str, densities: bool = False) -> SlotScope:
    """The scope of a registered slot (cached: slots do not change within a process)."""
    from .. import registry
    slot = registry.get_slot(slot_id)
    scope = build(slot.symbols, slot.functions, slot.definitions, slot.reference,
                  matrix=slot.kind == "matrix", extra=tuple(getattr(slot, "aliases_of", ()) or ()))
    question = registry.question_slots(slot_id.split(".")[0])   # not the whole catalogue
    for other in _question_symbols(slot, question):
        scope.add_symbol(other, strong=False)
    for f in _question_functions(slot, question):
        scope.add_function(f)
    _own_notation(scope, slot, question)
    return density_mode(scope) if densities else scope


def _question_functions(slot, table) -> list:
    """Functions other slots of the same question declare (\\epsilon_\\theta in every ddim.* slot):
    an answer that applies one its quantity does not involve is wrong, not unreadable."""
    prefix = slot.id.split(".")[0] + "."
    out = {}
    for sid, other in table.items():
        if sid.startswith(prefix) and sid != slot.id:
            for f in other.functions:
                out.setdefault(f, None)
    return list(out)


def own_names(text: str) -> list:
    """Keys of the names a slot's own LaTeX uses (``\\tilde x`` in sm.dsm's statement), not those
    written as a function (the callee of ``l_3(\\theta)``); none when the text does not parse."""
    from .errors import LatexError
    from .syntax import parse_tree
    try:
        tree = parse_tree(text) if text else None
    except LatexError:
        return []
    if tree is None:
        return []
    keys, stack = {}, [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Tree) and node.data == "call":
            stack.append(node.children[1])           # the arguments; the callee names a function
            continue
        key = name_key(node) if isinstance(node, (Tree, Token)) else None
        if key is not None:
            keys.setdefault(key, None)
            continue
        if isinstance(node, Tree):
            stack.extend(node.children)
    return list(keys)


def _own_notation(scope: SlotScope, slot, table) -> None:
    """A name the slot's own LaTeX uses (\\tilde x in sm.dsm's statement) that the registry declares
    joins its scope when another slot of the question defines it in this slot's names
    (sm.kernel_score: \\tilde x = x + \\sigma\\epsilon): that definition is its expansion. A name with
    no such definition stays unknown (its meaning in this slot would be a guess)."""
    known = set(scope.names.values())
    prefix = slot.id.split(".")[0] + "."
    for key in own_names(getattr(slot, "latex", "") or ""):
        if key in scope.names or key in scope.functions:
            continue
        sym = declared_symbol(key)
        if sym is None or sym in known:
            continue
        for sid, other in table.items():
            value = (other.definitions or {}).get(sym) if sid.startswith(prefix) else None
            if isinstance(value, sp.Basic) and not isinstance(value, sp.MatrixBase) and \
                    value.free_symbols <= known and not value.atoms(AppliedUndef):
                scope.add_symbol(sym, strong=False)      # only a name whose meaning here is known
                scope.expansions.setdefault(sym, value)
                break


def _question_symbols(slot, table) -> list:
    """Declared scalar symbols of the other slots of the same question (ddim.*): an answer that
    uses one the quantity does not depend on is wrong, not unreadable."""
    prefix = slot.id.split(".")[0] + "."
    out = {}
    for sid, other in table.items():
        if sid.startswith(prefix) and sid != slot.id and other.kind == slot.kind:
            for s in other.symbols:
                if isinstance(s, sp.Symbol) and s not in slot.symbols:
                    out.setdefault(s, None)
    return list(out)


# A convention a sheet or a slot may declare (``conventions: {alpha: ddim}``): a name read in
# another paper's notation. DDIM (Song et al. 2021) writes alpha_t for the cumulative product that
# DDPM (and this catalogue) writes \bar\alpha_t; under ``alpha=ddim`` the ddim slots read
# \alpha_t, \alpha_{t-1} as \bar\alpha_t, \bar\alpha_{t-1}. Without it \alpha_t keeps its meaning
# (DDPM's alpha_t = abar_t / abar_{t-1}).
CONVENTIONS = {
    ("alpha", "ddim"): ("ddim.", {r"\alpha_t": "abar_t", r"\alpha_{t-1}": "abar_prev"},
                        "alpha=ddim (DDIM's \\alpha_t is the cumulative product \\bar\\alpha_t)"),
}


def parse_conventions(items) -> tuple:
    """``["alpha=ddim"]`` or ``{"alpha": "ddim"}`` as a sorted tuple of (name, value) pairs; an
    unknown convention raises ValueError naming the known ones."""
    pairs = items.items() if isinstance(items, dict) else \
        [tuple(part.split("=", 1)) if "=" in part else (part, "") for part in items or ()]
    out = set()
    for name, value in pairs:
        pair = (str(name).strip().lower(), str(value).strip().lower())
        if pair not in CONVENTIONS:
            known = ", ".join(f"{a}={b}" for a, b in CONVENTIONS)
            raise ValueError(f"unknown convention {pair[0]}={pair[1]}; known: {known}")
        out.add(pair)
    return tuple(sorted(out))


@lru_cache(maxsize=256)
def for_slot_with(slot_id: str, conventions: tuple = (), densities: bool = False) -> tuple[SlotScope, tuple]:
    """The slot's scope under ``conventions`` (from ``parse_conventions``) and the descriptions of
    those that apply to it (for the message: which convention was used). A convention that does not
    concern the slot leaves its scope as it is."""
    from .. import symbols as symtab
    base = for_slot(slot_id, densities)
    used, renames = [], {}
    for pair in conventions:
        prefix, names, what = CONVENTIONS[pair]
        if slot_id.startswith(prefix):
            used.append(what)
            renames.update(names)
    if not renames:
        return base, ()
    scope = SlotScope(**{**base.__dict__, "names": dict(base.names), "phrases": dict(base.phrases)})
    by_name = {str(i.symbol): i.symbol for i in symtab.declared()}
    for form, name in renames.items():
        key = key_of_latex(form)
        if key is None or name not in by_name:
            raise ValueError(f"convention: {form} or {name} is not declared")
        scope.names[key] = by_name[name]
    return scope, tuple(used)

