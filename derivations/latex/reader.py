"""Parse tree -> SymPy, reading every name through a ``Scope``.

Decisions that need the slot are taken here, never guessed in the grammar: ``p_d(x)`` is a
call because ``p_d`` is a declared function, ``\\gamma_t(1 - \\bar\\alpha_t)`` a product because
``\\gamma_t`` is not; ``x^T`` is a transpose unless T is a declared symbol and x a scalar. Every
construct the reader does not know raises ``LatexError`` naming it. Numbers stay exact
(``0.5`` is 1/2) and powers are bounded so no answer can make SymPy build a huge integer.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from lark import Token, Tree

from .errors import LatexError, LimitError, UnknownName
from .lexer import WORD_SYNONYMS
from .names import Key, Scope, _flat, canon, declared_symbol, name_key
from .objects import KL, ArgMax, ArgMin, Density, Expectation, Infimum, Supremum

MAX_EXPONENT = 1000        # |n| in x^n
MAX_DIGITS = 2000          # digits of an exact integer power such as 10^{100}
MAX_TOWER = 2              # exponents with symbols in them nested in one another: e^{e^{t}} is 2
MAX_DEGREE = MAX_EXPONENT  # polynomial degree of a value: (t^{1000}+1)^{1000} would be 10^6
MAX_TERMS = MAX_EXPONENT   # terms of a sum or product with a numeric range (\sum_{i=1}^{10^{12}})
MAX_WORD = 16              # letters in a run read as one name (TV, ELBO written without \mathrm)

_SEPARATORS = ("COMMA", "SEMI", "COND", "KLSEP")
_BRACKETS = ("paren", "bracket", "braces")
DIVERGENCE_BASES = ("D", "\\mathcal{D}", "\\mathrm{D}", "\\mathbb{D}")   # D_{KL}(q \| p) and its fonts
MOMENT_NAMES = ("\\mathrm{Var}", "\\mathrm{Cov}", "\\mathbb{V}", "\\mathrm{var}", "\\mathrm{cov}")
# Elementary functions of one real argument; softplus and sigmoid (the logistic function, as
# machine-learning texts write it) are written out, so the answer's value is what SymPy sees.
ELEMENTARY = {"sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
              "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "arsinh": sp.asinh, "arcosh": sp.acosh,
              "artanh": sp.atanh, "softplus": lambda x: sp.log(1 + sp.exp(x)),
              "sigmoid": lambda x: 1 / (1 + sp.exp(-x))}
PHRASE_ROOTS = {"call", "sub_script", "sup_script", "op", "juxt", "frac", "bigop", "integral",
                "prime", "decor", "nabla"}


@dataclass
class Chain:
    """``a = b \\le c``: the members (None where a leading label could not be read) and relations."""

    members: list
    relations: list[str]
    label_error: str = ""


class BareDensity(sp.Function):
    """A bare ``q`` or ``p`` written as a value (``\\log q``) while it is read: the expectation around
    it gives it its variables; one left over is refused (it never reaches a grader)."""

    nargs = 1

    def _eval_is_positive(self):
        return True

    def _eval_is_real(self):
        return True


class _Operator:
    """An operator written without its argument yet: ``\\mathbb{E}_{x}`` before ``\\|...\\|^2``."""

    def __init__(self, kind: str, spec=()):
        self.kind, self.spec = kind, spec

    def apply(self, reader: "Reader", arg):
        if self.kind == "E":
            return reader.expectation(arg, self.spec)
        if self.kind == "D":
            if not isinstance(self.spec, sp.Symbol):
                raise LatexError("d/dx: the variable must be a symbol")
            return sp.diff(arg, self.spec)
        raise LatexError(f"{self.kind} needs an argument")


def is_matrix(x) -> bool:
    return isinstance(x, (sp.MatrixExpr, sp.MatrixBase))


class Reader:
    def __init__(self, scope: Scope):
        self.scope = scope
        self.bound: list[dict[Key, sp.Basic]] = []
        self.limits = 0            # > 0 while reading a range or a condition, where \infty is read

    def as_limit(self, t):
        """``t`` read where \\infty is a limit, not a number: a sum's or an integral's range, or
        a case's condition."""
        self.limits += 1
        try:
            return self.value(t)
        finally:
            self.limits -= 1

    # --- entry points ---------------------------------------------------------------
    def chain(self, tree: Tree) -> Chain:
        if tree.data == "continuation":    # "= C \\le D" continues the previous step: no first member
            kids = tree.children
            exprs, rels = kids[1::2], [t.value for t in kids[0::2]]
            if "=:" in rels:
                raise LatexError("=: names a quantity; a continuation step cannot")
            return Chain([None] + [self.member(e) for e in exprs], rels)
        kids = tree.children[0].children
        exprs, rels = kids[0::2], [t.value for t in kids[1::2]]
        if "=:" in rels:                   # "... =: ELBO" names what precedes; it is no claim
            cut = rels.index("=:")
            exprs, rels = exprs[:cut + 1], rels[:cut]
        members, label_error = [], ""
        for i, e in enumerate(exprs):
            if i == 0 and len(exprs) > 1:
                try:
                    members.append(self.member(e))
                except LatexError as exc:   # the left side may only name the quantity: f(t) = ...
                    members.append(None)
                    label_error = str(exc)
            else:
                members.append(self.member(e))
        return Chain(members, rels, label_error)

    def member(self, t):
        """A member of the chain: a value with no bare density left (``\\log q`` outside E[...])."""
        v = self.value(t)
        if isinstance(v, sp.Basic) and v.has(BareDensity):
            fam = next(iter(v.atoms(BareDensity))).args[0].name
            raise LatexError(f"a bare {fam} outside an expectation: write its variables ({fam}(Z|X))")
        return v

    def value(self, t):
        v = self.node(t)
        if isinstance(v, _Operator):
            raise LatexError(f"{'an expectation' if v.kind == 'E' else v.kind} without its argument")
        if isinstance(v, sp.FunctionClass) or callable(v) and not isinstance(v, sp.Basic):
            raise LatexError(f"the function {v} is used without its argument")
        if isinstance(v, sp.Basic) and v.has(sp.nan):
            raise LatexError("the answer has no value: an indeterminate form such as 0/0, "
                             "\\infty - \\infty or 0 \\cdot \\infty")
        if isinstance(v, sp.Basic) and v.has(sp.zoo):
            raise LatexError("the answer has no finite value: a division by zero or a log of 0")
        return v

    # --- dispatch -------------------------------------------------------------------
    def node(self, t):
        if isinstance(t, Token):
            return self.token(t)
        if self.scope.phrases and t.data in PHRASE_ROOTS:
            found = self.scope.phrases.get(canon(t))
            if found is not None:
                return found
        method = getattr(self, "n_" + t.data, None)
        if method is None:
            raise LatexError(f"cannot read a {t.data}")
        return method(t)

    def token(self, tok: Token):
        ty, v = tok.type, tok.value
        if ty == "NUMBER":
            return sp.Rational(v) if "." in v else sp.Integer(v)
        if ty == "INFTY":
            if not self.limits:
                raise LatexError("\\infty is not a number: it is read only as the limit of a sum or an "
                                 "integral (\\infty - \\infty, 1/\\infty, e^{-\\infty} have no value here)")
            return sp.oo
        key = name_key(tok)
        if key is not None:
            found = self.lookup(key)
            if found is not None:
                return found
            if ty == "LETTER" and v == "e":
                return sp.E
            if ty == "GREEK" and v == "pi":
                return sp.pi
            if ty == "LETTER" and v == "I" and self.scope.identity is not None:
                return self.scope.identity
            if v in ("bb:E", "E", "mathrm:E"):
                return _Operator("E")
            if v == "KL":
                return _Operator("KL")
            if v in ("p", "q") and ty == "LETTER" and self.scope.random_variables:
                return BareDensity(sp.Symbol(v))     # \log q: resolved by the expectation around it
            bare = self.bare_function(key)
            if bare is not None:
                return bare
            raise UnknownName(key.text(), "symbol", self.scope.known())
        if ty == "TOP":
            raise LatexError(r"\top outside a superscript")
        raise LatexError(f"cannot read {v!r} here")

    def lookup(self, key: Key):
        for frame in reversed(self.bound):
            if key in frame:
                return frame[key]
        if key in self.scope.ambiguous:
            raise LatexError(f"{key.text()} is ambiguous in this slot")
        return self.scope.names.get(key)

    def bare_function(self, key: Key):
        """A declared function written without its argument (``\\epsilon_\\theta``) reads as the one
        application the slot's reference makes of it (``\\epsilon_\\theta(x_t)``); None when the
        reference applies it to several arguments or not at all."""
        return self.scope.default_calls.get(key)

    def named(self, t):
        """A name-like tree that is a known name, else None."""
        key = name_key(t)
        return None if key is None else self.lookup(key)

    # --- arithmetic -----------------------------------------------------------------
    def n_atom(self, t):
        return self.token(t.children[0])

    def n_group(self, t):
        return self.node(t.children[1])

    def n_braced(self, t):
        items = self.items(t.children[1])
        if len(items) != 1 or items[0][0] is not None:
            raise LatexError("a list {a, b} is not a value")
        return _no_relation(items[0][1])

    def n_paren(self, t):
        items = self.items(t.children[1])
        if len(items) != 1:
            raise LatexError("a tuple (a, b) is not a value")
        return _no_relation(items[0][1])

    n_bracket = n_paren

    def n_braces(self, t):
        items = self.items(t.children[1])
        if len(items) != 1:
            raise LatexError(r"a set \{a, b\} is not a value")
        return _no_relation(items[0][1])

    def n_add(self, t):
        terms, sign = [], []
        node = t
        while isinstance(node, Tree) and node.data in ("add", "sub"):
            terms.append(node.children[2])
            sign.append(1 if node.data == "add" else -1)
            node = node.children[0]
        total = self.value(node)
        for term, s in zip(reversed(terms), reversed(sign)):
            v = self.value(term)
            total = _add(total, v if s > 0 else -v)
        return total

    n_sub = n_add

    def n_neg(self, t):
        return -self.value(t.children[1])

    def n_pos(self, t):
        return self.value(t.children[1])

    def n_mul(self, t):
        """``a \\cdot b / c \\cdot d``: a left-nested run, walked in a loop (no recursion per factor)."""
        ops, node = [], t
        while isinstance(node, Tree) and node.data in ("mul", "div"):
            ops.append((node.data, node.children[2]))
            node = node.children[0]
        total = self.value(node)
        for op, operand in reversed(ops):
            total = (_mul if op == "mul" else _div)(total, self.value(operand))
        return total

    n_div = n_mul

    def n_juxt(self, t):
        factors = []
        node = t
        while isinstance(node, Tree) and node.data == "juxt":
            factors.append(node.children[1])
            node = node.children[0]
        factors.append(node)
        return self.product(self.words(list(reversed(factors))))

    def words(self, factors) -> list:
        """Values of juxtaposed factors; a run of letters spelling a named quantity (TV, JS,
        KL written without \\mathrm) is that quantity; ``f{\\left(x\\right)}`` (SymPy's way of
        printing a call) is a call."""
        out, i = [], 0
        while i < len(factors):
            called = self.braced_call(factors, i)
            if called is not None:
                out.append(called)
                i += 2
                continue
            for j in range(min(len(factors), i + MAX_WORD), i + 1, -1):
                run = factors[i:j]
                if all(isinstance(f, Tree) and f.data == "atom" and f.children[0].type == "LETTER"
                       for f in run):
                    word = "".join(f.children[0].value for f in run)
                    found = self.scope.names.get(Key(f"\\mathrm{{{word}}}"))
                    if found is not None:
                        out.append(found)
                        i = j
                        break
            else:
                out.append(self.node(factors[i]))
                i += 1
        return out

    def product(self, values):
        """Left-to-right product; an operator without argument takes everything after it."""
        for i, v in enumerate(values):
            if isinstance(v, _Operator):
                head = values[:i]
                rest = self.product(values[i + 1:]) if values[i + 1:] else None
                if rest is None:
                    raise LatexError("an operator without its argument at the end")
                return self.product(head + [v.apply(self, rest)])
        total = values[0]
        for v in values[1:]:
            total = _mul(total, v)
        return total

    def braced_call(self, factors, i):
        if i + 1 >= len(factors):
            return None
        f, g = factors[i], factors[i + 1]
        if not (isinstance(g, Tree) and g.data == "group" and isinstance(g.children[1], Tree)
                and g.children[1].data == "paren"):
            return None
        power = None
        if isinstance(f, Tree) and f.data == "sup_script":
            f, power = f.children[0], f.children[2]
        key = name_key(f)
        func = self.scope.functions.get(key) if key is not None and self.lookup(key) is None else None
        if func is None:
            return None
        value = _apply(func, [v for _, v in self.items(g.children[1].children[1])])
        return value if power is None else _power(value, self.value(power))

    def n_frac(self, t):
        var = _derivative_operator(t)
        if var is not None:                # \frac{d}{dx}, \frac{\partial}{\partial x}
            return _Operator("D", self.value(var))
        found = _derivative_of(t)
        if found is not None:              # \frac{\partial s(x)}{\partial x}, \frac{df}{dx}
            body, var = found
            return _Operator("D", self.value(var)).apply(self, self.product([self.value(f) for f in body]))
        return _div(self.value(t.children[1]), self.value(t.children[2]))

    def n_sqrt(self, t):
        v = self.value(t.children[1])
        if is_matrix(v):
            raise LatexError("square root of a matrix")
        return sp.sqrt(v)

    def n_root(self, t):
        n, v = self.value(t.children[2]), self.value(t.children[4])
        if not (n.is_Integer and 2 <= n <= MAX_EXPONENT):
            raise LatexError(r"\sqrt[n]{} needs a whole n >= 2")
        return _power(v, sp.Rational(1, n))

    def n_abs(self, t):
        v = self.value(t.children[1])
        if is_matrix(v):
            raise LatexError("absolute value of a matrix")
        return sp.Abs(v)

    def n_norm(self, t):
        return self.norm(self.value(t.children[1]), "")

    def norm(self, v, which: str):
        """``\\|v\\|`` with an optional subscript ``which``: a scalar's norm (any p) is |v|; a vector's
        ``\\|v\\|``, ``\\|v\\|_2`` is Euclidean; a matrix's ``\\|M\\|``, ``\\|M\\|_F`` is Frobenius."""
        which = which.strip().replace("\\infty", "oo").replace("infty", "oo").replace(" ", "")
        if not is_matrix(v):
            if which not in ("", "1", "2", "p", "oo", "F"):
                raise LatexError(f"the norm \\|\\cdot\\|_{{{which}}} is not read")
            return sp.Abs(v)
        if which in ("", "F") or v.shape[1] == 1 and which == "2":
            return sp.sqrt(sp.Trace(v.T * v))             # tr(v^T v): the sum of squared entries
        what = "vector" if v.shape[1] == 1 else "matrix"
        raise LatexError(f"the {what} norm \\|\\cdot\\|_{{{which}}} is not read; write the Euclidean "
                         f"(vector) or Frobenius (matrix) norm")

    def n_pos_part(self, t):
        """``(1 - \\alpha)_+``: the positive part max(0, x) of a number."""
        v = self.value(t.children[0])
        if is_matrix(v) or isinstance(v, sp.core.relational.Relational):
            raise LatexError("the positive part (x)_+ of something that is not a number")
        return sp.Max(0, v)

    def n_cases(self, t):
        """``\\begin{cases} v_1 & c_1 \\\\ v_2 & \\text{otherwise}\\end{cases}``: a Piecewise; a
        double inequality a \\le x < b is both conditions; ``otherwise`` must come last."""
        rows = [r for r in t.children[1].children if isinstance(r, Tree)]
        pieces = []
        for k, row in enumerate(rows):
            kids = [c for c in row.children if not (isinstance(c, Token) and c.type in ("COMMA", "AMP"))]
            value_tree, cond_tree = kids
            value = self.value(value_tree)
            if is_matrix(value) or isinstance(value, sp.core.relational.Relational):
                raise LatexError("a case's value must be a number")
            parts = cond_tree.children
            if len(parts) == 1:                       # otherwise
                if k != len(rows) - 1:
                    raise LatexError("'otherwise' must be the last case")
                cond = sp.true
            else:
                sides = [self.as_limit(x) for x in parts[0::2]]
                rels = [r.value for r in parts[1::2]]
                if any(r not in ("<", "<=", ">", ">=", "=") for r in rels):
                    raise LatexError("a case's condition must be a comparison such as x \\ge 0")
                for x in sides:
                    if is_matrix(x) or not isinstance(x, sp.Expr):
                        raise LatexError("a case's condition compares numbers")
                cond = sp.And(*[_relation(a, r, b) for a, r, b in zip(sides, rels, sides[1:])])
            pieces.append((value, cond))
        if len(pieces) > 1 and pieces[-1][1] is not sp.true and _covers_up_to_boundary([c for _, c in pieces]):
            # x > 0 and x < 0 leave out only x = 0, a set of measure zero: the last case is taken there
            # (a Piecewise without a default is undefined there, and SymPy refuses to reason about it)
            pieces[-1] = (pieces[-1][0], sp.true)
        return sp.Piecewise(*pieces)

    # --- names, scripts, calls ------------------------------------------------------
    def n_decor(self, t):
        found = self.named(t)
        if found is not None:
            return found
        key = name_key(t)
        if key is None:
            raise LatexError(f"\\{t.children[0].value} over an expression is not read")
        raise UnknownName(key.text(), "symbol", self.scope.known())

    def n_prime(self, t):
        found = self.named(t)
        if found is not None:
            return found
        key = name_key(t)
        if key is not None and key.primes == 1 and not isinstance(t.children[0], Tree) or \
                key is not None and key.primes == 1 and t.children[0].data != "prime":
            base = self.named(t.children[0])
            if is_matrix(base):
                return base.T              # A' : the transpose, as in statistics texts and MATLAB
        raise LatexError(f"{key.text() if key else 'a prime'}: derivatives written with ' are not read")

    def n_sub_script(self, t):
        base = t.children[0]
        if isinstance(base, Tree) and base.data == "sup_script":     # x^2_t is x_t^2 in TeX
            inner, sup, power = base.children
            return self.node(Tree("sup_script", [Tree("sub_script", [inner, t.children[1], t.children[2]]),
                                                 sup, power]))
        found = self.named(t)
        if found is not None:
            return found
        base, arg = t.children[0], t.children[2]
        base_key = name_key(base)
        if isinstance(base, Tree) and base.data == "norm":     # \|v\|_2, \|M\|_F
            return self.norm(self.value(base.children[1]), _flat(arg))
        indexed = self.indexed_entry(base, base_key, arg)
        if indexed is not None:
            return indexed
        if self.is_indicator(base):
            cond = self.arg_items(arg)
            if len(cond) == 1 and isinstance(cond[0][1], sp.core.relational.Relational):
                return sp.Piecewise((1, cond[0][1]), (0, True))
        if base_key is not None and not base_key.sub:
            named = self.divergence_name(base_key, arg)
            if named is not None:
                return named
            if base_key.base in ("\\mathbb{E}", "E", "\\mathrm{E}"):
                return _Operator("E", self.arg_items(arg, lenient=True))
            if base_key.base in DIVERGENCE_BASES and _flat(arg) in ("KL", "\\mathrm{KL}"):
                return _Operator("KL")
            if base_key.base == "\\partial":           # \partial_x f: the derivative in x
                return _Operator("D", self.value(arg))
        key = name_key(t)
        if key is None:
            raise LatexError("a subscript on an expression that is not a name")
        bare = self.bare_function(key)
        if bare is not None:
            return bare
        raise UnknownName(key.text(), "symbol", self.scope.known())

    def n_sup_script(self, t):
        found = self.named(t)
        if found is not None:
            return found
        base, arg = t.children[0], t.children[2]
        if _derivative_call(base):         # \frac{d}{dx}(x+1)^2: the derivative of (x+1)^2
            op = self.node(base.children[0])
            return op.apply(self, self.power(self.bracket_value(base.children[1]), arg))
        if isinstance(base, Tree) and base.data == "call":
            head, tail = self.call_parts(base)
            if tail is not None:           # x(1 - x)^2 is x * (1 - x)^2
                return _mul(head, self.power(tail, arg))
            return self.power(head, arg)
        if isinstance(base, Tree) and base.data == "sup_script" and self.named(base) is None:
            raise LatexError("a double superscript x^a^b; write x^{a b} or (x^a)^b")
        if isinstance(arg, Token) and arg.type == "LETTER" and arg.value == "*":
            # D^*, \alpha^*: a decoration (the optimal D), never a power; read only as a name the
            # slot defines (found above), else refused by name
            key = name_key(base)
            what = key.text() if key is not None else "an expression"
            raise LatexError(f"{what}^* (the optimal {what}) is not a name this slot defines; "
                             f"write what it equals")
        return self.power(self.value(base), arg)

    def power(self, b, arg):
        if _is_transpose(arg, self):
            return b.T if is_matrix(b) else b
        if is_matrix(b) and _is_inverse_transpose(arg, self):
            return b.T ** -1         # A^{-T}: the inverse of the transpose (= the transpose of the inverse)
        if is_matrix(b) and isinstance(arg, Token) and arg.type == "LETTER" and arg.value == "T":
            return b.T
        return _power(b, self.value(arg))

    def n_call(self, t):
        head, tail = self.call_parts(t)
        return head if tail is None else _mul(head, tail)

    def bracket_value(self, delim):
        """The one value inside a bracket ``( ... )``, ``\\left[ ... \\right]``."""
        items = self.items(delim.children[1])
        if len(items) != 1 or items[0][0] is not None or isinstance(items[0][1], sp.core.relational.Relational):
            raise LatexError("a derivative of a bracket that does not hold one expression")
        return items[0][1]

    def call_parts(self, t):
        """(value, None) for an application; (left, right) for a product written f(x)."""
        callee, delim = t.children
        if _derivative_call(t):            # \frac{d}{dx}\left[...\right]: the derivative of the bracket
            return self.node(callee).apply(self, self.bracket_value(delim)), None
        key = name_key(callee)
        if key is not None and delim.data == "paren":
            known = self.lookup(key)
            if known is None and isinstance(callee, Tree) and callee.data == "sub_script":
                base_key = name_key(callee.children[0])
                known = self.divergence_name(base_key, callee.children[2]) if base_key else None
            if known is not None and self.is_pointwise(known, delim):
                return known, None         # p_d(x) with p_d a value at the point x
            if known is not None:
                named = self.named_call(known, delim.children[1])
                if named is not None:
                    return named, None
        if key is not None and self.lookup(key) is None and key.base in ("p", "q") and \
                key.base in self.scope.families and key not in self.scope.functions:
            return self.density(key, self.variables(delim.children[1])), None
        items_tree = delim.children[1]
        if key is not None and self.lookup(key) is None and \
                self.scope.functions.get(Key(key.base, key.decor, key.sub)) is not None:
            items_tree = self.without_step_argument(items_tree)
        kl_call = key is not None and self.lookup(key) is None and (
            key.base == "\\mathrm{KL}" and not key.sub or key.base in DIVERGENCE_BASES and key.sub in ("KL", "\\mathrm{KL}"))
        items = self.items(items_tree, lenient=kl_call and self.scope.random_variables)
        seps = [s for s, _ in items if s is not None]
        if key is not None and self.lookup(key) is None:
            f = self.scope.functions.get(key)
            if f is not None:
                if seps and any(s != "COMMA" for s in seps):
                    raise LatexError(f"{key.text()}(...) takes values separated by commas")
                return _apply(f, [v for _, v in items]), None
            if key.base in self.scope.families or (key.base in ("p", "q") and self.scope.families):
                return self.density(key, self.variables(delim.children[1])), None
        if self.is_indicator(callee):
            if len(items) == 1 and isinstance(items[0][1], sp.core.relational.Relational):
                return sp.Piecewise((1, items[0][1]), (0, True)), None
        if key is not None and key.primes and self.lookup(key) is None:
            f = self.scope.functions.get(Key(key.base, key.decor, key.sub, key.sup))
            if f is not None:              # s_\theta'(x): the derivative of a declared function
                args = [v for _, v in items]
                if len(args) != 1 or not isinstance(args[0], sp.Symbol):
                    raise LatexError(f"{key.text()}(...): a derivative written with ' is read at a variable only")
                return sp.diff(f(args[0]), args[0], key.primes), None
        if key is not None and key.sup.startswith("(") and self.lookup(key) is None:
            f = self.scope.functions.get(Key(key.base, key.decor, key.sub))
            if f is not None:              # \epsilon_\theta^{(t)}(x_t): the superscript labels the step
                return _apply(f, [v for _, v in items]), None
        if key is not None and key.base in MOMENT_NAMES and not key.sub and self.lookup(key) is None:
            raise LatexError(f"{key.text()}(...) is read only as the name of the quantity "
                             f"({key.text()}(x | y) = ...); write what it equals")
        if key is not None and not key.sup and self.lookup(key) is None and not _operator_name(key):
            raise UnknownName(key.text(), "function", self.scope.known())
        op = self.node(callee) if key is None or self.lookup(key) is None else None
        if isinstance(op, _Operator):
            if op.kind == "E":
                if "COND" in seps:
                    raise LatexError("a conditional expectation E[x | y] is read only as the name of the "
                                     "quantity (E[x | y] = ...); write what it equals")
                if len(items) != 1:
                    raise LatexError("E[...] takes one expression")
                return self.expectation(items[0][1], op.spec), None
            if op.kind == "KL":
                return self.kl(items), None
        head = op if op is not None and not isinstance(op, _Operator) else self.value(callee)
        if len(items) != 1 or seps:
            what = key.text() if key is not None else "an expression"
            if key is not None and self.lookup(key) is None:
                raise UnknownName(key.text(), "function", self.scope.known())
            raise LatexError(f"{what} is not a function; (a, b) after it is not a value")
        if isinstance(items[0][1], sp.core.relational.Relational):
            raise LatexError("a relation inside brackets")
        return head, items[0][1]

    def without_step_argument(self, items_tree):
        """``\\epsilon_\\theta(x_t, t)``: a network's time input t, the index its first argument
        already carries, labels the step (as ``\\epsilon_\\theta^{(t)}`` does); it is dropped when t
        is no name of the slot."""
        kids = items_tree.children
        if len(kids) != 3 or not (isinstance(kids[1], Token) and kids[1].type == "COMMA"):
            return items_tree
        first, second = name_key(kids[0]), name_key(kids[2])
        if first is None or second is None or not first.sub or second.text() != first.sub or \
                self.lookup(second) is not None:
            return items_tree
        return Tree("items", [kids[0]])

    def divergence_name(self, base_key: Key, arg):
        """``\\mathbb{I}_{TV}``, ``D_{JS}``, ``D_{\\mathrm{KL}}``: a divergence named in a subscript."""
        if base_key.base not in ("\\mathbb{I}", "D", "I", "\\mathcal{D}", "\\mathrm{D}", "d", "\\delta") or \
                base_key.decor:
            return None
        word = _flat(arg).replace("\\mathrm", "")
        word = WORD_SYNONYMS.get(word, word)
        for key in (Key(f"\\mathrm{{{word}}}"), Key(word), Key("\\" + word)):
            found = self.scope.names.get(key)
            if found is not None:
                return found
        return None

    def named_call(self, head, items_tree):
        """``\\mathrm{JS}(P_d \\| P_g)``: a named divergence with its two distributions written out.

        The arguments only label the quantity; they are accepted when the divergence is
        symmetric in them, or when they come in the defining order (P_d before P_g)."""
        defn = getattr(self.scope, "expansions", {}).get(head)
        if defn is None or not isinstance(head, sp.Symbol):
            return None
        args = [c for c in items_tree.children if not isinstance(c, Token)]
        if len(args) != 2:
            return None
        keys = [name_key(a) for a in args]
        if any(k is None for k in keys):
            return None
        dens = sorted((s for s in defn.free_symbols if s not in self.scope.expansions),
                      key=lambda s: s.name)
        if len(dens) != 2:
            return None
        swapped = defn.xreplace({dens[0]: dens[1], dens[1]: dens[0]})
        if sp.simplify(swapped - defn) == 0:
            return head
        subs = [k.sub for k in keys]
        want = [d.name.partition("_")[2] for d in dens]
        order = {"d": 0, "data": 0, "g": 1}
        if [order.get(x, -1) for x in subs] == [order.get(x, -2) for x in want]:
            return head
        written = ", ".join(k.text() for k in keys)
        if sorted(order.get(x, -1) for x in subs) != [0, 1]:
            raise LatexError(f"{self.show(head)}({written}): this slot's {self.show(head)} compares P_d and P_g; "
                             "other arguments are not read here (write the divergence by its definition)")
        raise LatexError(f"{self.show(head)} with its arguments in this order is not the slot's quantity; "
                         "write the divergence by its definition")

    def show(self, x) -> str:
        return sp.latex(x)

    def indexed_entry(self, base, base_key, arg):
        """``\\sigma_j``, ``\\mu_{z,j}`` and ``{\\mu_z}_j``: entry j of an indexed quantity."""
        if base_key is None:
            return None
        if not base_key.sub:
            items = arg.children[1].children if isinstance(arg, Tree) and arg.data == "braced" else []
            if len(items) == 3 and isinstance(items[1], Token) and items[1].type == "COMMA":
                head = Key(base_key.base, base_key.decor, _flat(items[0]))
                indexed = self.scope.indexed.get(head)
                return indexed[self.value(items[2])] if indexed is not None else None
            indexed = self.scope.indexed.get(base_key)
            if indexed is not None:
                return indexed[self.value(arg)]
            return None
        indexed = self.scope.indexed.get(base_key)
        return indexed[self.value(arg)] if indexed is not None else None

    def is_pointwise(self, head, delim) -> bool:
        """``p_d(x)``, ``D(x)``: a declared value written at a point x that is not itself a
        symbol of the slot (or is an integration variable) reads as that value."""
        if not isinstance(head, sp.Symbol) or delim.data != "paren":
            return False
        inner = delim.children[1].children
        if len(inner) != 1:
            return False
        key = name_key(inner[0])
        if key is None:
            return False
        if any(key in frame for frame in self.bound):
            return True
        return self.scope.names.get(key) is None

    def is_indicator(self, t) -> bool:
        """``1``, ``\\mathbb{1}``, ``\\mathbf{1}`` or an undeclared ``\\mathbb{I}`` before a condition."""
        t = _unatom(t)
        if isinstance(t, Token) and t.type == "NUMBER":
            return t.value == "1"
        key = name_key(t)
        return key is not None and key.text() in ("\\mathbb{1}", "\\mathbb{I}") and self.lookup(key) is None

    def arg_items(self, arg, lenient=False):
        """Items of a script's argument: ``_{q(z|x)}`` (braced) or ``_q`` (one token)."""
        if isinstance(arg, Tree) and arg.data == "braced":
            return self.items(arg.children[1], lenient)
        return [(None, self.lenient(arg) if lenient else self.value(arg))]

    def items(self, items_tree, lenient=False):
        """[(separator before it or None, value)] of a bracket's content."""
        out, sep = [], None
        for child in items_tree.children:
            if isinstance(child, Token) and child.type in _SEPARATORS:
                sep = child.type
                continue
            if isinstance(child, Tree) and child.data == "item_in":
                raise LatexError("\\in is read only under \\inf, \\sup, \\min or \\max "
                                 "(\\inf_{\\alpha \\in \\mathbb{R}})")
            if isinstance(child, Tree) and child.data in ("item_rel", "item_sim"):
                a, rel, b = child.children
                if child.data == "item_sim":
                    value = ("sim", self.sim_lhs(a), self.sim_rhs(b, lenient))
                else:
                    value = _relation(self.value(a), rel.value, self.value(b))
            else:
                value = self.value(child) if not lenient else self.lenient(child)
            out.append((sep, value))
        return out

    def sim_lhs(self, t):
        key = name_key(t)
        found = self.lookup(key) if key is not None else None
        return found if found is not None else (key or t)

    def sim_rhs(self, t, lenient=False):
        """What a variable is drawn from in ``x \\sim ...``: a density, ``\\mathcal{N}(m, v)`` (read as
        ("normal", m, v)), or, when ``lenient``, a bare name such as ``q`` (its Key)."""
        normal = self.normal_law(t)
        if normal is not None:
            return normal
        return self.lenient(t) if lenient else self.value(t)

    def normal_law(self, t):
        """``\\mathcal{N}(m, v)`` / ``N(m, v)`` (an undeclared N): ("normal", m, v); ``I`` as the
        variance of a scalar is 1."""
        if not (isinstance(t, Tree) and t.data == "call" and t.children[1].data == "paren"):
            return None
        key = name_key(t.children[0])
        if key is None or key.text() not in ("\\mathcal{N}", "N") or self.lookup(key) is not None:
            return None
        args = [c for c in t.children[1].children[1].children if not isinstance(c, Token)]
        seps = [c.type for c in t.children[1].children[1].children if isinstance(c, Token)]
        if len(args) != 2 or any(s not in ("COMMA", "SEMI") for s in seps):
            raise LatexError("\\mathcal{N}(mean, variance) takes two arguments")
        mean = self.value(args[0])
        vkey = name_key(args[1])
        if vkey is not None and vkey.text() == "I" and self.lookup(vkey) is None and self.scope.identity is None:
            variance = sp.Integer(1)
        else:
            variance = self.value(args[1])
        if is_matrix(mean) or is_matrix(variance):
            raise LatexError("a multivariate normal is not read here; write the one-dimensional form")
        return ("normal", mean, variance)

    def lenient(self, t):
        try:
            v = self.value(t)
            if isinstance(v, BareDensity):      # E_q, KL(q \| p(Z|X)): the bare name, resolved there
                return name_key(t)
            return v
        except LatexError:
            key = name_key(t)
            if key is None:
                raise
            return key

    # --- probability ----------------------------------------------------------------
    def variables(self, items_tree):
        """A density's arguments: declared symbols, or (in density mode) new random variables."""
        out, sep = [], None
        for child in items_tree.children:
            if isinstance(child, Token) and child.type in _SEPARATORS:
                sep = child.type
                continue
            key = name_key(child)
            found = self.lookup(key) if key is not None else None
            if found is None and key is not None and self.scope.random_variables:
                found = sp.Symbol(key.text(), real=True)
            if found is None:
                found = self.value(child)
            out.append((sep, found))
        return out

    def density(self, key: Key, items):
        left, right, seen_cond = [], [], False
        for sep, v in items:
            if sep == "COND":
                seen_cond = True
            if sep not in (None, "COMMA", "COND", "SEMI"):
                raise LatexError(f"{key.text()}(...) is a density: separate with , and |")
            (right if seen_cond else left).append(v)
        for v in left + right:
            if not isinstance(v, (sp.Symbol, sp.MatrixSymbol, sp.Indexed)):
                raise LatexError(f"{key.text()}(...): a density's arguments are variables")
        family = key.base if key.base in ("p", "q") else key.text()   # p_\\theta(x|z) is p(x|z)
        return Density.make(family, left, right)

    def expectation(self, body, spec):
        integral = self.expectation_as_integral(body, spec)
        if integral is not None:
            return integral
        if isinstance(body, sp.Basic) and body.has(BareDensity):
            return self.expectation_with_bare(body, spec)
        measure = []
        for _, v in spec:
            if isinstance(v, tuple) and v and v[0] == "sim":
                v = self.named_law(v[1], v[2])
            if isinstance(v, Key):                 # E_q[...]: q over all the latents
                v = self.bare_density(v, ())
            if isinstance(v, Key):
                raise UnknownName(v.text(), "distribution", self.scope.known())
            measure.extend(sp.Mul.make_args(v) if isinstance(v, sp.Mul) else [v])
        for m in measure:
            if not isinstance(m, (Density, sp.Symbol, sp.Indexed)):
                raise LatexError("E_{...}: write the distribution (q(z|x)) or the variables")
        return Expectation.make(body, measure)

    def expectation_with_bare(self, body, spec):
        """``E_{q(Z)}[\\log p(X, Z) - \\log q]``: a bare q in the body is the measure's q (the density
        of the same variables); under a bare ``E_q`` both are q over the slot's latent variables
        (the variables of the q densities the slot declares, when they are one set)."""
        measure = self.expectation(sp.Integer(1), spec)
        dens = [m for m in getattr(measure, "measure", ()) if isinstance(m, Density)]
        for fam in {b.args[0].name for b in body.atoms(BareDensity)}:
            mine = [d for d in dens if d.family == fam]
            if len(mine) != 1:
                raise LatexError(f"a bare {fam} inside E[...]: write its variables ({fam}(Z|X))")
            target = mine[0]
            if not target.variables:
                target = self.slot_density(fam)
                dens = [target if d is mine[0] else d for d in dens]
            body = body.xreplace({BareDensity(sp.Symbol(fam)): target})
        return Expectation.make(body, dens)

    def slot_density(self, fam: str):
        """A bare q under a bare ``E_q``: q over the slot's latent variables, the variables of the q
        densities the slot declares (q(Z) in vae.*, q(z_1, z_2) in hvae.*), as the finite models read
        ``E_q``; a bare p there is refused (p over which variables is not said)."""
        own = {v for d in getattr(self.scope, "density_symbols", {}) if d.family == fam for v in d.variables}
        if fam != "q" or not own:
            raise LatexError(f"a bare {fam}: this slot does not say which variables it is a density of; "
                             f"write them ({fam}(Z|X))")
        return Density.make(fam, sorted(own, key=lambda v: v.name))

    def bare_density(self, key: Key, variables):
        if key.base in ("p", "q") and not key.decor and not key.sup and not key.primes and \
                self.scope.random_variables:
            return Density.make(key.base, list(variables), [])
        return key

    def named_law(self, var, law):
        """``Z \\sim q``: with densities read as objects, a bare p or q names the density of the
        variable drawn (q(Z)); anything else is returned as written."""
        if isinstance(law, Key) and law.base in ("p", "q") and not law.decor and not law.sup and \
                self.scope.random_variables:
            if isinstance(var, Key) and not var.sup and not var.primes:
                var = sp.Symbol(var.text(), real=True)
            if isinstance(var, sp.Symbol):
                return Density.make(law.base, [var], [])
        return law

    def expectation_as_integral(self, body, spec):
        """E_{q(x)}[f] with q a declared function, or E_{x, eps}[f] with the distributions of
        x and eps known to the slot: the integral of f against the densities."""
        from sympy.core.function import AppliedUndef
        densities, variables = [], []
        for _, v in spec:
            if isinstance(v, tuple) and v and v[0] == "sim":
                var, law = v[1], v[2]
                if isinstance(law, tuple) and law[0] == "normal" and isinstance(var, sp.Symbol):
                    _, mean, variance = law
                    densities.append(sp.exp(-(var - mean) ** 2 / (2 * variance)) / sp.sqrt(2 * sp.pi * variance))
                    variables.append(var)
                    continue
                f = self.scope.functions.get(law) if isinstance(law, Key) else None
                v = f(var) if f is not None and isinstance(var, sp.Symbol) else law
            elif isinstance(v, Key) and v in self.scope.functions:     # E_q[...]: q's variable
                f = self.scope.functions[v]
                own = [x for x, d in getattr(self.scope, "measures", {}).items()
                       if isinstance(d, AppliedUndef) and d.func == f]
                if len(own) != 1:
                    return None
                v = f(own[0])
            if isinstance(v, AppliedUndef) and len(v.args) == 1 and isinstance(v.args[0], sp.Symbol):
                densities.append(v)
                variables.append(v.args[0])
            elif isinstance(v, sp.Symbol) and v in getattr(self.scope, "measures", {}):
                densities.append(self.scope.measures[v])
                variables.append(v)
            elif isinstance(v, sp.Symbol) and v in getattr(self.scope, "joint_measures", {}):
                lam = self.scope.joint_measures[v]      # E_{q_sigma(x, x~)}: the slot's joint measure
                if set(lam.variables) & set(variables):
                    raise LatexError("E_{...}: a variable appears in two of its measures")
                densities.append(lam.expr)
                variables.extend(lam.variables)
            else:
                return None
        if not densities:
            return None
        limits = [(x, -sp.oo, sp.oo) for x in variables]
        if isinstance(body, sp.Integral) and all(len(lim) == 3 and lim[1] == -sp.oo and lim[2] == sp.oo
                                                 for lim in body.limits) \
                and not {lim[0] for lim in body.limits} & (set(variables) | sp.Mul(*densities).free_symbols):
            # E_x E_eps [f] is one integral over x and eps (a nested one would be integrated
            # numerically with the outer variable still an array)
            return sp.Integral(body.function * sp.Mul(*densities), *body.limits, *limits)
        return sp.Integral(body * sp.Mul(*densities), *limits)

    def kl(self, items):
        if len(items) != 2 or items[1][0] not in ("KLSEP", "COMMA"):
            raise LatexError(r"KL takes two densities: KL(q \| p)")
        a, b = items[0][1], items[1][1]
        # KL(q \| p(Z|X)): a bare q or p is the density of the other argument's variables
        if isinstance(a, Key) and isinstance(b, Density):
            a = self.bare_density(a, b.variables)
        elif isinstance(b, Key) and isinstance(a, Density):
            b = self.bare_density(b, a.variables)
        for v in (a, b):
            if isinstance(v, Key):
                raise UnknownName(v.text(), "density", self.scope.known())
        if not (isinstance(a, Density) and isinstance(b, Density)):
            raise LatexError(r"KL(q \| p) compares two densities")
        return KL(a, b)

    # --- operators ------------------------------------------------------------------
    def scripts(self, t):
        out = {}
        kids = t.children
        for i in range(0, len(kids), 2):
            which = "sub" if kids[i].type == "SUB" else "sup"
            if which in out:
                raise LatexError(f"two {which}scripts on one operator")
            out[which] = kids[i + 1]
        return out

    def chain_argument(self, opchain):
        """(argument, power, factors after it): ``\\log(1+t)(t+1)`` takes only the bracket; in
        ``\\max(0, 1-t)^2``, ``\\log(1+e^{-t})^2`` the power is the function value's (as in
        sin(x)^2), so ``power`` is returned apart from the bracket (None when there is none)."""
        parts = list(opchain.children)
        first, tail, power = parts[0], [], None
        while isinstance(first, Tree):
            if first.data == "call":                       # (t)(t+1) is one postfix
                tail.insert(0, first.children[1])
                first = first.children[0]
            elif first.data == "sup_script" and isinstance(first.children[0], Tree) and \
                    first.children[0].data == "call":      # (t)(t+1)^2: the power is the last bracket's
                base = first.children[0]
                first = Tree("call", [base.children[0], Tree("sup_script", [base.children[1], *first.children[1:]])])
            elif first.data == "sup_script" and isinstance(first.children[0], Tree) and \
                    first.children[0].data in _BRACKETS and power is None:
                power, first = first.children[2], first.children[0]
            else:
                break
        if isinstance(first, Tree) and first.data in _BRACKETS:
            rest = [self.value(p) for p in tail + parts[1:]]
            return first, power, rest
        return None, None, [self.value(p) for p in parts]

    def n_op(self, t):
        name, scripts, chain = t.children[0].value, self.scripts(t.children[1]), t.children[2]
        over = name in ("inf", "sup", "argmin", "argmax") or \
            name in ("min", "max") and "sub" in scripts and not _is_list(chain)
        if over:                           # \inf_\alpha[...], \min_D [...], \arg\min_D [...]
            if "sub" not in scripts:
                raise LatexError(f"\\{name} without the variable it ranges over")
            key, var = self.bound_variable(scripts["sub"], name)
            self.bound.append({key: var})          # the variable is bound, as an integral's is
            try:
                bracket, power, factors = self.chain_argument(chain)
                arg = self.node(bracket) if bracket is not None else self.product(factors)
            finally:
                self.bound.pop()
            _no_relation(arg)
            if is_matrix(arg):
                raise LatexError(f"\\{name} of a matrix")
            kind = {"inf": Infimum, "min": Infimum, "sup": Supremum, "max": Supremum,
                    "argmin": ArgMin, "argmax": ArgMax}[name]
            value = kind(arg, var)
            if power is not None:
                value = self.power(value, power)
            if "sup" in scripts:
                value = _power(value, self.value(scripts["sup"]))
            return self.product([value] + factors) if bracket is not None and factors else value
        if name == "arg":
            raise LatexError("\\arg is read only as \\arg\\min or \\arg\\max")
        bracket, power, factors = self.chain_argument(chain)
        if name in ("min", "max"):
            if bracket is None:
                raise LatexError(f"\\{name} needs its arguments in brackets")
            args = [v for _, v in self.items(bracket.children[1])]
            if len(args) < 2:
                raise LatexError(f"\\{name} of one value")
            for a in args:
                if isinstance(a, sp.core.relational.Relational) or is_matrix(a):
                    raise LatexError(f"\\{name} compares numbers")
            value = (sp.Min if name == "min" else sp.Max)(*args)
            if "sup" in scripts:
                value = _power(value, self.value(scripts["sup"]))
            if power is not None:
                value = self.power(value, power)
            return self.product([value] + factors)
        if bracket is not None:
            arg, rest = self.node(bracket), factors
        else:
            arg, rest = self.product(factors), []
        if name == "log":
            value = sp.log(arg)
            if "sub" in scripts:
                value = value / sp.log(self.value(scripts["sub"]))
        elif name == "exp":
            if isinstance(arg, sp.Basic) and not arg.is_Number:
                _check_tower(1 + tower(arg))
            value = sp.exp(arg)
        elif name == "sign":
            value = sp.sign(arg)
        elif name in ELEMENTARY:
            if is_matrix(arg):
                raise LatexError(f"\\{name} of a matrix")
            value = ELEMENTARY[name](arg)
        elif name in ("tr", "det"):
            value = (sp.Trace(arg) if name == "tr" else sp.Determinant(arg)) if is_matrix(arg) else arg
        else:
            raise UnknownName(f"\\{name}", "function")
        if "sup" in scripts:
            value = _power(value, self.value(scripts["sup"]))
        if power is not None:
            value = self.power(value, power)
        return self.product([value] + rest) if rest else value

    def bound_variable(self, t, what: str):
        """(key, symbol) of the variable under ``\\inf``, ``\\min``, ``\\arg\\min``: the slot's own
        symbol of that name, else the one the registry declares under it (\\alpha, the margin loss's
        argument; D, the discriminator), else a new real symbol, bound in the body as an
        integral's variable is. ``_{\\alpha \\in \\mathbb{R}}`` ranges over the real line."""
        if isinstance(t, Tree) and t.data == "braced":
            inner = [c for c in t.children[1].children]
            if len(inner) == 1 and isinstance(inner[0], Tree) and inner[0].data == "item_in":
                var_tree, _, space = inner[0].children
                if not self.is_whole_space(space):
                    raise LatexError(f"\\{what}_{{... \\in ...}}: only the whole real line is read")
                t = var_tree
        key = name_key(t)
        if key is None or key.sup or key.primes:
            raise LatexError(f"\\{what}: the variable under it must be a name")
        var = self.lookup(key)
        if var is None:
            var = declared_symbol(key)
        if var is None:
            var = sp.Symbol(key.text(), real=True)
        if not isinstance(var, sp.Symbol):
            raise LatexError(f"\\{what}_{{{key.text()}}}: the variable must be a symbol")
        return key, var

    def n_bigop(self, t):
        name, scripts, chain = t.children[0].value, self.scripts(t.children[1]), t.children[2]
        lower = scripts.get("sub")
        if lower is None:
            raise LatexError(f"\\{name} without its index")
        var_tree, lo = lower, None
        if isinstance(lower, Tree) and lower.data == "braced":
            inner = lower.children[1].children
            if len(inner) == 1 and isinstance(inner[0], Tree) and inner[0].data == "item_rel":
                var_tree, rel, lo_tree = inner[0].children
                if rel.value != "=":
                    raise LatexError(f"\\{name}_{{i {rel.value} ...}} is not read")
                lo = self.as_limit(lo_tree)
        key = name_key(var_tree)
        if name == "sum" and lo is None and "sup" not in scripts and self.scope.random_variables and \
                key is not None and not key.sup and not key.primes and key.text() not in self.scope.index_limits:
            return self.latent_sum(key, chain)
        if key is None or key.sub or key.decor:
            raise LatexError(f"\\{name}: the index must be a letter")
        index = sp.Symbol(key.text(), integer=True)
        hi = self.as_limit(scripts["sup"]) if "sup" in scripts else None
        if lo is None or hi is None:
            limits = self.scope.index_limits.get(key.text())
            if limits is None:
                raise LatexError(f"\\{name}_{{{key.text()}}} needs its range: {key.text()} is no index this slot "
                                 f"gives a range for, nor a random variable of its densities (a sum over "
                                 f"all its values is not read); write its range, e.g. "
                                 f"_{{{key.text()}=1}}^{{m}}")
            lo = limits[0] if lo is None else lo
            hi = limits[1] if hi is None else hi
        _check_range(name, lo, hi)
        self.bound.append({key: index})
        try:
            body = self.product([self.value(p) for p in chain.children])
        finally:
            self.bound.pop()
        value = (sp.Sum if name == "sum" else sp.Product)(body, (index, lo, hi))
        check_degree(value)
        return value

    def latent_sum(self, key: Key, chain):
        """``\\sum_Z p(X, Z)`` with densities read as objects: the sum over the support of the random
        variable Z, the same object as ``\\int p(X, Z)\\,dZ`` (an integral over a density's variable
        is a sum over its support in the finite models that check such answers)."""
        if any(key in frame for frame in self.bound):
            raise LatexError(f"\\sum_{{{key.text()}}} inside a sum or integral over {key.text()} already")
        var = self.lookup(key)
        if var is None:
            var = sp.Symbol(key.text(), real=True)
        if not isinstance(var, sp.Symbol):
            raise LatexError(f"\\sum_{{{key.text()}}}: the variable must be a symbol")
        self.bound.append({key: var})
        try:
            body = self.product([self.value(p) for p in chain.children])
        finally:
            self.bound.pop()
        return sp.Integral(body, (var, -sp.oo, sp.oo))

    def n_integral(self, t):
        _, scripts_tree, body, _, dvar = t.children
        scripts = self.scripts(scripts_tree)
        key = name_key(Tree("atom", [dvar.children[0]]) if len(dvar.children) == 1 else
                       _dvar_tree(dvar))
        if key is None:
            raise LatexError("cannot read the integration variable")
        var = self.lookup(key)
        if var is None:
            var = sp.Symbol(key.text(), real=True)
        if not isinstance(var, sp.Symbol):
            raise LatexError(f"d{key.text()}: the integration variable must be a symbol")
        self.bound.append({key: var})
        try:
            integrand = self.value(body)
        finally:
            self.bound.pop()
        if set(scripts) == {"sub"} and self.is_whole_space(scripts["sub"]):
            return sp.Integral(integrand, (var, -sp.oo, sp.oo))     # \int_{\mathcal{X}}, \int_{\mathbb{R}^d}
        if scripts:
            lo = self.as_limit(scripts["sub"]) if "sub" in scripts else -sp.oo
            hi = self.as_limit(scripts["sup"]) if "sup" in scripts else sp.oo
            return sp.Integral(integrand, (var, lo, hi))
        return sp.Integral(integrand, (var, -sp.oo, sp.oo))

    def is_whole_space(self, t) -> bool:
        """``\\mathcal{X}``, ``\\mathbb{R}``, ``\\mathbb{R}^d``, ``\\Omega`` under an integral: the whole
        space the variable lives in (a name the slot does not use for anything else)."""
        key = name_key(t)
        if key is None or self.lookup(key) is not None or key.sub or key.decor or key.primes:
            return False
        return key.base.startswith("\\mathcal{") or key.base in ("\\mathbb{R}", "\\Omega")

    def n_nabla_dot(self, t):
        """``\\nabla_x \\cdot s(x)``, the divergence: the trace of the Jacobian, in one dimension the
        derivative (a matrix-valued argument is refused, and ``\\nabla \\times`` is not read)."""
        if t.children[2].value != "cdot":
            raise LatexError(f"\\nabla \\{t.children[2].value} is not read (the divergence is \\nabla \\cdot)")
        value = self.n_nabla(Tree("nabla", [t.children[0], t.children[1], t.children[3]]))
        if is_matrix(value):
            raise LatexError("the divergence of a matrix-valued function is not read")
        return value

    def n_nabla(self, t):
        scripts, chain = self.scripts(t.children[1]), t.children[2]
        if "sub" not in scripts:
            raise LatexError(r"\nabla without the variable it differentiates in (\nabla_x)")
        var = self.value(scripts["sub"])
        if not isinstance(var, sp.Symbol):
            raise LatexError(r"\nabla_{...}: the variable must be a symbol")
        bracket, power, factors = self.chain_argument(chain)
        arg = self.node(bracket) if bracket is not None else self.product(factors)
        if power is not None:              # \nabla_x (f)^2 differentiates the square
            arg = self.power(arg, power)
        value = sp.diff(arg, var)
        return self.product([value] + factors) if bracket is not None and factors else value


def _is_list(chain) -> bool:
    """Does an operator's argument start with a bracket of several values (\\min(a, b))?"""
    first = chain.children[0] if isinstance(chain, Tree) and chain.children else None
    while isinstance(first, Tree) and first.data in ("call", "sup_script"):
        first = first.children[0]
    if not (isinstance(first, Tree) and first.data in _BRACKETS):
        return False
    return any(isinstance(c, Token) and c.type in _SEPARATORS for c in first.children[1].children)


def _operator_name(key: Key) -> bool:
    """Names the reader gives a meaning of its own when nothing in the slot is called so."""
    return key.base in ("\\mathbb{E}", "E", "\\mathrm{E}", "\\mathrm{KL}", "e", "\\pi") or \
        (key.base in DIVERGENCE_BASES and key.sub in ("KL", "\\mathrm{KL}"))


def _derivative_call(t) -> bool:
    """Is ``t`` a derivative operator applied to a bracketed group (``\\frac{d}{dx}(...)``,
    ``\\frac{\\partial}{\\partial x}\\left[...\\right]``)?"""
    return isinstance(t, Tree) and t.data == "call" and isinstance(t.children[0], Tree) and \
        t.children[0].data == "frac" and _derivative_operator(t.children[0]) is not None


def _derivative_operator(t):
    """The variable x of ``\\frac{d}{dx}`` / ``\\frac{\\partial}{\\partial x}``, else None."""
    def d_token(x):
        x = _unatom(x)
        if isinstance(x, Tree) and x.data == "braced" and len(x.children[1].children) == 1:
            x = _unatom(x.children[1].children[0])
        return isinstance(x, Token) and (x.type == "LETTER" and x.value == "d" or
                                         x.type == "GREEK" and x.value == "partial")
    num, den = t.children[1], t.children[2]
    if not d_token(num) or not (isinstance(den, Tree) and den.data == "braced"):
        return None
    inner = den.children[1].children
    if len(inner) == 1 and isinstance(inner[0], Tree) and inner[0].data == "juxt" and d_token(inner[0].children[0]):
        return inner[0].children[1]
    return None


def _covers_up_to_boundary(conds) -> bool:
    """Do the cases' conditions cover everything but a boundary? (Sufficient test: one difference
    a - b is required > 0 (or >= 0) in one case and < 0 (or <= 0) in another.)"""
    signs: dict = {}
    for c in conds:
        for rel in (c.args if isinstance(c, sp.And) else (c,)):
            if not isinstance(rel, (sp.StrictGreaterThan, sp.StrictLessThan, sp.GreaterThan, sp.LessThan)):
                continue
            d = sp.expand(rel.lhs - rel.rhs)
            up = isinstance(rel, (sp.StrictGreaterThan, sp.GreaterThan))
            if d.could_extract_minus_sign():
                d, up = -d, not up
            if isinstance(c, sp.And):
                continue                   # only a whole condition x > b splits the line in two
            signs.setdefault(d, set()).add(up)
    return any(len(v) == 2 for v in signs.values())


def _derivative_of(t):
    """(factors of f, x) of ``\\frac{\\partial f}{\\partial x}`` / ``\\frac{d f}{dx}``, else None."""
    num = t.children[1]
    if isinstance(num, Tree) and num.data == "braced" and len(num.children[1].children) == 1:
        num = num.children[1].children[0]
    if not (isinstance(num, Tree) and num.data == "juxt"):
        return None
    factors = []
    while isinstance(num, Tree) and num.data == "juxt":
        factors.append(num.children[1])
        num = num.children[0]
    factors.reverse()
    fake = Tree("frac", [t.children[0], num, t.children[2]])
    var = _derivative_operator(fake)
    return (factors, var) if var is not None else None


def name_key_text(t) -> str:
    key = name_key(t)
    return key.text() if key is not None else ""


def _dvar_tree(dvar: Tree) -> Tree:
    kids = dvar.children
    if isinstance(kids[0], Token) and kids[0].type == "DECOR":
        base = Tree("decor", [kids[0], kids[1]])
        kids = kids[2:]
    else:
        base = Tree("atom", [kids[0]])
        kids = kids[1:]
    if kids:
        base = Tree("sub_script", [base, kids[0], kids[1]])
    return base


def _is_transpose(arg, reader: Reader) -> bool:
    if isinstance(arg, Token):
        if arg.type == "TOP":
            return True
        return arg.type == "LETTER" and arg.value == "T" and reader.named(arg) is None
    if isinstance(arg, Tree) and arg.data == "braced":
        inner = arg.children[1].children
        return len(inner) == 1 and _is_transpose(inner[0] if isinstance(inner[0], Token)
                                                 else _unatom(inner[0]), reader)
    return False


def _unatom(t):
    return t.children[0] if isinstance(t, Tree) and t.data == "atom" else t


def _is_inverse_transpose(arg, reader: Reader) -> bool:
    """``^{-T}``, ``^{-\\top}``: a minus sign, then a transpose mark, and nothing else."""
    if not (isinstance(arg, Tree) and arg.data == "braced"):
        return False
    inner = arg.children[1].children
    if len(inner) != 1 or not isinstance(inner[0], Tree):
        return False
    node = _unatom(inner[0])
    while isinstance(node, Tree) and len(node.children) == 1:
        node = node.children[0]
    if not isinstance(node, Tree) or len(node.children) != 2:
        return False
    sign, mark = node.children
    if not (isinstance(sign, Token) and sign.value == "-"):
        return False
    mark = _unatom(mark) if isinstance(mark, Tree) else mark
    return _is_transpose(mark, reader)


def _relation(a, rel, b):
    make = {"=": sp.Eq, "<=": sp.Le, ">=": sp.Ge, "<": sp.Lt, ">": sp.Gt}.get(rel)
    if make is None:
        raise LatexError(f"the relation {rel} is not read here")
    return make(a, b, evaluate=False)


def _apply(f, args):
    for a in args:
        if isinstance(a, sp.core.relational.Relational):
            raise LatexError("a relation as a function argument")
    return f(*args)


def _no_relation(v):
    """A bracket's content where a value is expected: ``\\sqrt{a = b}``, ``\\log(t > 0)`` are refused."""
    if isinstance(v, sp.core.relational.Relational) or isinstance(v, tuple):
        raise LatexError("a relation (=, <, ~) inside brackets where a value is expected")
    return v


def _check_operands(*xs):
    for x in xs:
        if not isinstance(x, sp.Basic):
            raise LatexError("an operand is not a value")
        if isinstance(x, sp.core.relational.Relational):
            raise LatexError("arithmetic on a relation")


def _add(a, b):
    _check_operands(a, b)
    if is_matrix(a) != is_matrix(b):
        raise DimensionError("a scalar added to a matrix")
    if is_matrix(a) and tuple(a.shape) != tuple(b.shape):
        raise DimensionError(f"{_shape(a)} plus {_shape(b)}")
    try:
        return a + b
    except (sp.ShapeError, TypeError) as exc:
        raise DimensionError(f"shapes do not match: {exc}") from None


def _shape(m) -> str:
    return " x ".join(map(str, m.shape))


def _mul(a, b):
    _check_operands(a, b)
    if is_matrix(a) and is_matrix(b) and a.shape[1] != b.shape[0]:
        raise DimensionError(f"{_shape(a)} times {_shape(b)}")
    try:
        product = a * b
    except (sp.ShapeError, TypeError) as exc:
        raise DimensionError(f"shapes do not match: {exc}") from None
    check_degree(product)
    return product


def _div(a, b):
    _check_operands(a, b)
    if is_matrix(b):
        raise LatexError("division by a matrix; write the inverse M^{-1}")
    if b == 0:
        raise LatexError("the answer divides by zero")
    return a / b


def _power(b, e):
    _check_operands(b, e)
    if is_matrix(e):
        raise LatexError("a matrix exponent")
    if e.is_Number:
        if not e.is_finite or abs(e) > MAX_EXPONENT:
            raise LimitError(f"the exponent {short(e)} is beyond the grader's limit ({MAX_EXPONENT})")
        if b.is_Rational and e.is_Integer and b != 0:
            digits = abs(int(e)) * max(len(str(abs(b.p))), len(str(abs(b.q))))
            if digits > MAX_DIGITS:
                raise LimitError(f"{short(b)}^{short(e)} has about {digits} digits; the limit is {MAX_DIGITS}")
        if b == 0 and e == 0:
            raise LatexError("0^0 has no value")
    elif e.is_number and b.is_number:
        pass
    elif e.has(sp.Pow) and any(a.is_Number and abs(a) > MAX_EXPONENT for a in e.atoms(sp.Number)):
        raise LimitError("an exponent beyond the grader's limits")
    if is_matrix(b):
        if not (e.is_Integer):
            raise LatexError("a matrix to a non-integer power")
        if b.shape[0] != b.shape[1]:
            raise DimensionError("a power of a non-square matrix")
        value = b ** e
        check_degree(value)
        return value
    if b == 0 and e.is_negative:
        raise LatexError("the answer divides by zero")
    if not e.is_Number:
        _check_tower(1 + tower(e))
    value = b ** e
    check_degree(value)
    return value


def short(x, n: int = 24) -> str:
    """A number (or any value) as text of at most about ``n`` characters, for a message."""
    if isinstance(x, sp.Integer) and abs(x) > 10**n:
        text = str(x)
        return f"{text[:6]}...({len(text.lstrip('-'))} digits)"
    try:
        text = sp.latex(x) if isinstance(x, sp.Basic) else str(x)
    except Exception:                                    # never let a message fail
        text = type(x).__name__
    return text if len(text) <= n else text[:n] + "..."


def degree(e, memo=None) -> float:
    """The polynomial degree a value can reach when expanded: t^{1000} is 1000, (t^{10}+1)^{10} is
    100, t^{1000}(1+t)^{1000} is 2000; a product over a numeric range multiplies its body's.
    Arguments of functions (log, exp, |.|) count apart: they are never expanded together."""
    if memo is None:
        memo = {}
    if not isinstance(e, sp.Basic) or e.is_Number or e.is_NumberSymbol:
        return 0
    if e.is_Atom:
        return 1
    if e in memo:
        return memo[e]
    if isinstance(e, (sp.Pow, sp.MatPow)) and len(e.args) == 2:
        base, exp = e.args
        if exp.is_Number and exp.is_finite:
            try:
                d = float(abs(exp)) * degree(base, memo)
            except OverflowError:
                d = float("inf")
        else:
            d = max(degree(base, memo), degree(exp, memo))
    elif isinstance(e, (sp.Mul, sp.MatMul)):
        d = sum(degree(a, memo) for a in e.args)
    elif isinstance(e, sp.Product):
        body = degree(e.function, memo)
        n = 1
        for lim in e.limits:
            span = lim[2] - lim[1] + 1 if len(lim) == 3 else None
            n *= int(span) if span is not None and span.is_Integer and span > 0 else 1
        d = body * n
    else:
        d = max((degree(a, memo) for a in e.args), default=0)
    memo[e] = d
    return d


def check_degree(value) -> None:
    """Refuse a value whose expansion would be beyond the grader's limits (see ``degree``)."""
    try:
        d = degree(value)
    except RecursionError:
        raise LimitError("the answer is nested too deeply to check") from None
    if d > MAX_DEGREE:
        raise LimitError(f"the answer has degree about {d:.0f} when multiplied out (such as (t^{{1000}}+1)^{{1000}}); "
                         f"the limit is {MAX_DEGREE}")


def _check_range(name: str, lo, hi) -> None:
    """A sum or product over a numeric range of more than ``MAX_TERMS`` terms, or with a range
    whose ends hold huge numbers (\\sum_{i=1}^{10^{12}}), is refused before SymPy tries it."""
    for end in (lo, hi):
        if isinstance(end, (sp.core.relational.Relational, tuple)) or is_matrix(end):
            raise LatexError(f"\\{name}: the ends of its range must be numbers")
        if isinstance(end, sp.Basic) and any(a.is_Number and a.is_finite and abs(a) > MAX_TERMS
                                             for a in end.atoms(sp.Number)):
            raise LimitError(f"\\{name} over a range with an end beyond {MAX_TERMS} "
                             f"({short(end)}) is beyond the grader's limits")
    if isinstance(lo, sp.Basic) and isinstance(hi, sp.Basic):
        span = hi - lo
        if span.is_Number and span.is_finite and span + 1 > MAX_TERMS:
            raise LimitError(f"\\{name} of {short(span + 1)} terms is beyond the grader's limit ({MAX_TERMS})")


def tower(e) -> int:
    """How deep exponents that are not plain numbers nest in ``e``: t^{1/2} is 0, t^t and e^{-x^2}
    are 1, t^{t^t} and e^{e^t} are 2. Each level can square the number of digits a value has."""
    if not isinstance(e, sp.Basic) or e.is_Atom:
        return 0
    if isinstance(e, sp.Pow):
        return max(tower(e.base), tower(e.exp) + (0 if e.exp.is_Number else 1))
    if isinstance(e, sp.exp):
        return 1 + tower(e.args[0])
    return max((tower(a) for a in e.args), default=0)


def _check_tower(depth: int) -> None:
    """A power tower (t^{t^{t^t}}, e^{e^{e^t}}) is refused before any check: its values overflow any
    precision, and exact integer powers of it cannot even be interrupted."""
    if depth > MAX_TOWER:
        raise LimitError(f"a power tower: exponents nested {depth} deep are beyond the grader's "
                         f"limit ({MAX_TOWER}, as in e^{{e^{{t}}}})")


class DimensionError(LatexError):
    """Shapes that do not fit together: an answer that is wrong, not unreadable."""
