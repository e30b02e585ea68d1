"""Names: one canonical key for every way of writing a name, and the scope that maps keys
to a slot's symbols, functions and named quantities.

``\\bar\\alpha_{t-1}``, ``\\bar{\\alpha}_{t - 1}``, ``\\overline{\\alpha}_{t-1}`` and
``\\bar{\\alpha_{t-1}}`` all have the key ``bar(\\alpha)_{t-1}``. The registry's LaTeX forms
and aliases are keyed by the same code (they are parsed like answers), so a name matches
exactly when it would print the same; nothing is matched by guessing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from lark import Token, Tree
from sympy.core.function import AppliedUndef, UndefinedFunction

from .. import symbols as symtab
from .errors import LatexError

_NAME_TOKENS = ("LETTER", "GREEK", "WORD")


def _flat(tree) -> str:
    """A script's content as one canonical string (braces and spaces dropped)."""
    parts: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Token):
            if node.type in ("LBRACE", "RBRACE"):
                continue
            parts.append("\\" + node.value + " " if node.type == "GREEK" else
                         r"\top " if node.type == "TOP" else node.value)
        else:
            stack.extend(reversed(node.children))
    return "".join(parts).strip().replace(" -", "-").replace(" +", "+")


@dataclass(frozen=True)
class Key:
    """A name split into parts: decorations, base, subscript, superscript label, primes."""

    base: str
    decor: tuple[str, ...] = ()
    sub: str = ""
    sup: str = ""
    primes: int = 0

    def text(self) -> str:
        core = self.base
        for d in self.decor:
            core = f"\\{d}{{{core}}}"
        if self.sub:
            core += f"_{{{self.sub}}}"
        if self.sup:
            core += f"^{{{self.sup}}}"
        return core + "'" * self.primes

    __str__ = text


def _base(tok: Token) -> str:
    if tok.type == "GREEK":
        return "\\" + tok.value
    if tok.type == "WORD" and ":" in tok.value:
        font, word = tok.value.split(":", 1)
        return f"\\math{font}{{{word}}}"
    if tok.type == "WORD" and len(tok.value) > 1:
        return f"\\mathrm{{{tok.value}}}"
    return tok.value


def name_key(tree) -> Key | None:
    """The key of a name-like tree (symbol with decorations and scripts), else None."""
    if isinstance(tree, Token):
        return Key(_base(tree)) if tree.type in _NAME_TOKENS else None
    data = tree.data
    if data == "atom":
        return name_key(tree.children[0])
    if data == "braced":
        items = tree.children[1]
        return name_key(items.children[0]) if len(items.children) == 1 else None
    if data == "group":
        return name_key(tree.children[1])
    if data == "decor":
        inner = name_key(tree.children[1])
        if inner is None or inner.sup or inner.primes:
            return None
        return Key(inner.base, (tree.children[0].value,) + inner.decor, inner.sub)
    if data == "sub_script":
        inner = name_key(tree.children[0])
        if inner is None or inner.sub or inner.sup or inner.primes:
            return None
        return Key(inner.base, inner.decor, _flat(tree.children[2]))
    if data == "sup_script":
        inner = name_key(tree.children[0])
        if inner is None or inner.sup or inner.primes:
            return None
        return Key(inner.base, inner.decor, inner.sub, _flat(tree.children[2]))
    if data == "prime":
        inner = name_key(tree.children[0])
        return None if inner is None else Key(inner.base, inner.decor, inner.sub, inner.sup,
                                                inner.primes + 1)
    return None


def canon(tree) -> str:
    """A parse tree as one canonical string: how a whole phrase such as ``p_\\theta(X\\mid Z)``
    or ``l_1(\\theta)`` is matched, whatever braces and spellings were used."""
    if isinstance(tree, Token):
        if tree.type in ("LBRACE", "RBRACE"):
            return ""
        return "\\" + tree.value if tree.type == "GREEK" else tree.value
    kids = [c for c in tree.children if not (isinstance(c, Token) and c.type in ("LBRACE", "RBRACE"))]
    if tree.data in ("atom", "group") or (tree.data == "braced" and len(kids) == 1
                                           and len(kids[0].children) == 1):
        return canon(kids[0]) if tree.data != "braced" else canon(kids[0].children[0])
    if tree.data == "items":
        return " ".join(canon(c) for c in kids)
    return tree.data + "(" + " ".join(canon(c) for c in kids) + ")"


def tree_of_latex(form: str):
    from .syntax import parse_tree
    try:
        chain = parse_tree(form).children[0]
    except LatexError:
        return None
    return chain.children[0] if len(chain.children) == 1 else None


def key_of_latex(form: str) -> Key | None:
    """Key of a registry form such as ``\\bar\\alpha_{t-1}``; None if it is not one name."""
    from .syntax import parse_tree
    try:
        tree = parse_tree(form)
    except LatexError:
        return None
    chain = tree.children[0]
    return name_key(chain.children[0]) if len(chain.children) == 1 else None


def quantity_argument(form: str) -> str | None:
    """``\\theta`` when a declared LaTeX form is a name applied to one parameter name
    (``l_3(\\theta)``: the quantity is an objective written as a function of theta), else None."""
    tree = tree_of_latex(form)
    if not isinstance(tree, Tree) or tree.data != "call" or name_key(tree.children[0]) is None:
        return None
    delim = tree.children[1]
    if not isinstance(delim, Tree) or delim.data != "paren":
        return None
    inner = [c for c in delim.children[1].children] if isinstance(delim.children[1], Tree) else []
    key = name_key(inner[0]) if len(inner) == 1 else None
    return key.text() if key is not None and key.base in ("\\theta", "\\phi") else None


def _declared() -> set:
    return {i.symbol for i in symtab.declared()}


def _function_name(f) -> str:
    return f.__name__ if isinstance(f, UndefinedFunction) else str(f)


@dataclass
class Scope:
    """What an answer may name: symbols, functions, named quantities, density families."""

    names: dict[Key, sp.Basic] = field(default_factory=dict)
    functions: dict[Key, object] = field(default_factory=dict)
    families: set[str] = field(default_factory=set)      # density families (p, q, p_\theta)
    indexed: dict[Key, sp.IndexedBase] = field(default_factory=dict)
    index_limits: dict[str, tuple] = field(default_factory=dict)
    identity: sp.Basic | None = None                     # what I means in a matrix slot
    ambiguous: set[Key] = field(default_factory=set)
    phrases: dict[str, sp.Basic] = field(default_factory=dict)   # canon(tree) -> symbol
    random_variables: bool = False                       # density mode: X, Z may be new variables

    def add_phrase(self, form: str, value) -> bool:
        tree = tree_of_latex(form)
        if tree is None:
            return False
        self.phrases.setdefault(canon(tree), value)
        return True

    def _add_name(self, key: Key | None, value, strong: bool = False) -> None:
        if key is None:
            return
        old = self.names.get(key)
        if old is not None and old != value:
            if strong:
                self.names[key] = value
            else:
                return                      # the first (more authoritative) form wins
        self.names[key] = value

    def add_symbol(self, s, strong: bool = True) -> None:
        """A symbol under its declared LaTeX, its aliases and SymPy's own printing of it."""
        inf = symtab.info(s) if isinstance(s, sp.Symbol) and s in _declared() else None
        forms = [inf.latex] if inf is not None else [sp.latex(s)]
        for i, form in enumerate(forms):
            key = key_of_latex(form)
            if key is None:
                self.add_phrase(form, s)
            self.add_name(key, s, strong=strong and i == 0)
        argument = quantity_argument(forms[0])
        for alias in (inf.aliases if inf is not None else ()):
            key = key_of_latex(alias)
            if key is None:
                self.add_phrase(alias, s)
            self.add_name(key, s)
            if key is not None and argument is not None:
                # an objective written as a function of its parameters, l(\theta): every name
                # of it reads with the same argument (J_{2,q_\sigma}(\theta)), the quantity itself
                self.add_phrase(f"{alias}({argument})", s)

    def add_name(self, key, value, strong: bool = False) -> None:
        self._add_name(key, value, strong)
        if key is not None and key.base == "l" and not key.decor:       # \ell is how l is typeset
            self._add_name(Key("\\ell", (), key.sub, key.sup, key.primes), value, strong)

    def add_function(self, f) -> None:
        f = f.func if isinstance(f, AppliedUndef) else f
        key = key_of_latex(sp.latex(sp.Symbol(_function_name(f))))
        if key is not None:
            self.functions.setdefault(key, f)
            if key.base == "l" and not key.decor:
                self.functions.setdefault(Key("\\ell", (), key.sub), f)

    def known(self) -> tuple[str, ...]:
        shown = [k.text() for k in self.names] + [k.text() + "(\\cdot)" for k in self.functions]
        return tuple(sorted(shown))[:24]


def free_atoms(expr) -> tuple[set, set, set]:
    """Symbols, unknown functions and indexed bases that occur in ``expr`` (matrices too)."""
    syms, funcs, bases = set(), set(), set()
    items = list(expr) if isinstance(expr, (sp.MatrixBase, list, tuple)) else [expr]
    for e in items:
        if not isinstance(e, sp.Basic):
            continue
        syms |= {a for a in e.atoms(sp.Symbol, sp.MatrixSymbol)}
        funcs |= {a.func for a in e.atoms(AppliedUndef)}
        bases |= set(e.atoms(sp.IndexedBase))
    return syms, funcs, bases


_DECLARED_KEYS: dict = {}


def declared_symbol(key: Key):
    """The one scalar symbol the registry declares under the LaTeX name ``key`` (its LaTeX or an
    alias); None when there is none or more than one (a name that is not the registry's to say).
    Read from the whole catalogue's index (``declared_index``), so the answer is the same whichever
    questions this process has loaded; without a current index, the whole catalogue is loaded."""
    from . import declared_index
    indexed = declared_index.keys()
    if indexed is not None:
        found = indexed.get(key, ())
        return declared_index.symbol(*next(iter(found))) if len(found) == 1 else None
    from .. import registry
    registry.load()
    table = symtab.declared()
    if _DECLARED_KEYS.get("n") != len(table):
        keys: dict = {}
        for info in table:
            if isinstance(info.symbol, sp.Symbol):
                for form in (info.latex, *info.aliases):
                    k = key_of_latex(form)
                    if k is not None:
                        keys.setdefault(k, set()).add(info.symbol)
        _DECLARED_KEYS.clear()
        _DECLARED_KEYS.update(n=len(table), keys=keys)
    found = _DECLARED_KEYS["keys"].get(key, ())
    return next(iter(found)) if len(found) == 1 else None
