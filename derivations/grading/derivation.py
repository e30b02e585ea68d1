r"""A derivation as students write it: a list of lines, each its own statement.

This module holds what a derivation may use beyond a single answer, and how a line is read:

* **Premises.** A line that states the slot's model (``x_t = \sqrt{\bar\alpha_t}x_0 +
  \sqrt{1-\bar\alpha_t}\epsilon`` for DDIM) is checked *under the model*: it holds once the
  model's trusted equation is substituted (``MODELS``, trusted LaTeX read by the safe reader), so
  it is proved, never refuted as an identity between free symbols; one that contradicts the model
  is refuted. A line ``M = \frac{p_d + p_g}{2}`` whose left side is a **new** name (unknown to the
  slot and not defined before in the derivation) is a definition: it claims nothing, and later
  lines are read with the name substituted. Nothing else is a premise.
* **Auxiliary quantities** a derivation needs and the slot declares (``AUXILIARY``): the margin
  variable ``\alpha`` of the GAN pointwise problem, with its optimum ``\alpha^*(t)`` (trusted: the
  pointwise minimiser of t l(a) + l(-a)). A line with ``\alpha`` free on one side only (``e^{\alpha}
  = t``, ``f(t) = -t\log(1+e^{-\alpha}) - \dots``) is a statement about the optimum and is checked
  at ``\alpha = \alpha^*(t)``; a line with ``\alpha`` on both sides is an identity in ``\alpha``
  (a derivative, an algebraic step) and is checked as one.
* **Evaluation bars** ``\Big|_{\sigma_t = 0}``, ``\left. \dots \right|_{x=a}``: the member before
  the bar is read, and the substitution applied to it (``substitute_bar``).

A step is checked as written first; the premises are used only for what does not hold as
written, and a step is refuted only when it fails *with* the premises (it is false in the
derivation's context). Anything undecided is ``unchecked``. No text is ever passed to eval,
sympify or parse_expr: trusted LaTeX and students' LaTeX both go through ``latex.parse``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp

from ..latex import LatexError, parse
from ..latex.names import key_of_latex

ALPHA = sp.Symbol("alpha", real=True)

# Trusted model equations per slot prefix: "name = expression", read in the slot's scope. A line
# of a derivation that holds once these are substituted holds in the derivation's context.
MODELS = {
    "ddim.": [r"x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon"],
    "ddim.deterministic": [],          # x_t is the sampler's input there, not a forward sample
    "sm.kernel_score": [r"\tilde x = x + \sigma\epsilon"],
}

# Auxiliary variables a slot's derivation may use, with the trusted optimum where one exists.
# gan.<loss>.f: f(t) = -inf_a [t l(a) + l(-a)]; the minimiser a*(t) is the pointwise D* in t.
_OPTIMA = {"gan.logistic.f": sp.log(sp.Symbol("t", positive=True)),
           "gan.square.f": (sp.Symbol("t", positive=True) - 1) / (sp.Symbol("t", positive=True) + 1),
           "gan.exponential.f": sp.log(sp.Symbol("t", positive=True)) / 2}
def _objective(slot_id: str, t, a):
    """The trusted pointwise objective t l(a) + l(-a) of gan.<loss>.f, or None."""
    losses = {"gan.logistic.f": lambda x: sp.log(1 + sp.exp(-x)), "gan.square.f": lambda x: (1 - x) ** 2,
              "gan.exponential.f": lambda x: sp.exp(-x), "gan.hinge.f": lambda x: sp.Max(0, 1 - x)}
    loss = losses.get(slot_id)
    return None if loss is None else t * loss(a) + loss(-a)


AUXILIARY = {sid: {r"\alpha": ALPHA, r"\alpha^*": ALPHA, r"\alpha^\star": ALPHA, r"\hat\alpha": ALPHA}
             for sid in ("gan.logistic.f", "gan.square.f", "gan.exponential.f", "gan.hinge.f",
                         "gan.zero_one.f", "gan.general.f")}


def _prefixed(table: dict, slot_id: str):
    if slot_id in table:                # a slot's own entry replaces its question's
        return [table[slot_id]]
    out = []
    for prefix, value in table.items():
        if slot_id == prefix or (prefix.endswith(".") and slot_id.startswith(prefix)):
            out.append(value)
    return out


def derivation_scope(slot, scope):
    """The slot's scope plus the auxiliary names its derivation may use (a copy: scopes are cached)."""
    aux = {} if slot is None else AUXILIARY.get(slot.id, {})
    if not aux:
        return copy.copy(scope) if scope is not None else scope
    out = copy.deepcopy(scope)
    for form, sym in aux.items():
        key = key_of_latex(form)
        if key is not None and key not in out.names:
            out.add_name(key, sym, strong=True)
    return out


@lru_cache(maxsize=64)
def model_substitution(slot_id: str) -> tuple:
    """The slot's trusted model as substitutions ((symbol, expression), ...); empty when none."""
    from .. import registry
    from .core import scope_for
    slot = registry.get_slot(slot_id)
    out = []
    for texts in _prefixed(MODELS, slot_id):
        for text in texts:
            try:
                chain = parse(text, scope_for(slot))
            except LatexError:
                continue
            lhs, rhs = chain.members[0], chain.members[-1]
            if isinstance(lhs, sp.Symbol) and isinstance(rhs, sp.Basic) and lhs not in rhs.free_symbols:
                out.append((lhs, rhs))
    return tuple(out)


def optimum(slot) -> tuple | None:
    """(alpha, alpha*(t)) with t the slot's own symbol, or None."""
    if slot is None or slot.id not in _OPTIMA:
        return None
    value = _OPTIMA[slot.id]
    t = next((s for s in slot.symbols if isinstance(s, sp.Symbol) and s.name == "t"), None)
    if t is None:
        return None
    return ALPHA, value.subs(sp.Symbol("t", positive=True), t)


def free(expr) -> set:
    """Free symbols, the variable of an infimum/supremum written by the student counted as bound."""
    if not isinstance(expr, sp.Basic):
        return set()
    name = type(expr).__name__
    if name in ("Infimum", "Supremum", "Minimum", "Maximum") and len(expr.args) >= 2:
        bound = {a for a in expr.args[1:] if isinstance(a, sp.Symbol)}
        return free(expr.args[0]) - bound
    if not expr.args:
        return set(expr.free_symbols)
    if isinstance(expr, (sp.Integral, sp.Sum, sp.Product, sp.Subs, sp.Derivative, sp.Lambda)):
        return set(expr.free_symbols)
    out = set()
    for a in expr.args:
        out |= free(a)
    return out


@dataclass
class Context:
    """What a derivation has established as it is read: definitions of new names."""

    slot: object
    scope: object
    definitions: dict = field(default_factory=dict)     # fresh symbol -> expression
    defined_at: dict = field(default_factory=dict)      # fresh symbol -> step

    def define(self, text_name: str, value, step: int) -> sp.Symbol | None:
        """``NAME = value`` with NAME new: a fresh symbol, known to the lines after this one."""
        key = key_of_latex(text_name)
        if key is None or key in self.scope.names or key in self.scope.functions:
            return None
        sym = sp.Dummy(text_name.strip())
        self.scope.add_name(key, sym, strong=True)
        self.definitions[sym] = value
        self.defined_at[sym] = step
        return sym

    def expand(self, expr):
        """``expr`` with the definitions substituted (repeatedly: a definition may use an earlier one)."""
        if not isinstance(expr, sp.Basic) or not self.definitions:
            return expr
        for _ in range(len(self.definitions) + 1):
            if not (expr.free_symbols & set(self.definitions)):
                break
            expr = expr.xreplace(self.definitions)
        return expr


# --------------------------------------------------------------------------------------------
# Text: the name on the left of a definition, and evaluation bars.

_BARS = ("\\Big|", "\\big|", "\\bigg|", "\\Bigg|", "\\right|", "\\Bigr|", "\\bigr|", "\\biggr|", "\\Biggr|",
         "\\right\\vert", "\\Big\\vert", "\\big\\vert", "\\vert")
_REL_CMDS = {"le": "<=", "leq": "<=", "ge": ">=", "geq": ">=", "lt": "<", "gt": ">", "leqslant": "<=",
             "geqslant": ">="}


def top_level_split(text: str) -> list:
    """``text`` split at top-level relations: [(piece, relation-after or None), ...]. Depth counts
    braces, brackets, parentheses and \\left/\\right."""
    out, depth, i, start = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            j = i + 1
            while j < len(text) and text[j].isalpha():
                j += 1
            name = text[i + 1:j] if j > i + 1 else text[i + 1:i + 2]
            j = max(j, i + 2)
            if name == "left":
                depth += 1
            elif name == "right":
                depth -= 1
            elif depth == 0 and name in _REL_CMDS:
                out.append((text[start:i], _REL_CMDS[name]))
                start = j
            i = j
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif depth == 0 and c in "=<>":
            out.append((text[start:i], "=" if c == "=" else c))
            start = i + 1
        i += 1
    out.append((text[start:], None))
    return out


def bar_at(piece: str):
    """(expression text, subscript text) when ``piece`` ends with an evaluation bar, else None."""
    s = piece.rstrip()
    for bar in _BARS:
        at = s.rfind(bar + "_")
        if at < 0:
            continue
        sub = s[at + len(bar) + 1:].strip()
        if not (sub.startswith("{") and sub.endswith("}")):
            continue
        expr = s[:at].strip()
        if expr.startswith("\\left."):
            expr = expr[len("\\left."):]
        elif expr.startswith("\\left ."):
            expr = expr[len("\\left ."):]
        return expr, sub[1:-1]
    return None


def has_bar(text: str) -> bool:
    return any(bar + "_" in text for bar in _BARS)


def substitute_bar(expr, sub_text: str, scope):
    """``expr`` evaluated at the bar's substitution (``\\sigma_t = 0``; several separated by commas)."""
    out = expr
    for part in sub_text.split(","):
        chain = parse(part, scope)
        if len(chain.members) != 2 or chain.relations != ["="] or not isinstance(chain.members[0], sp.Symbol):
            raise LatexError(f"the evaluation bar's subscript {part.strip()!r} is not 'name = value'")
        out = out.subs(chain.members[0], chain.members[1])
    if isinstance(out, sp.Basic) and out.has(sp.Subs):
        out = out.doit()
    return out


def resolve_infima(slot, expr, seed: int = 0):
    r"""``expr`` with each ``\inf_\alpha g`` over the slot's margin variable replaced by the value of
    the slot's own pointwise problem at its optimum, once g is checked to be the slot's objective
    t l(\alpha) + l(-\alpha). Returns (expression, None) or (expr, Evidence) when an infimum's
    objective is not the slot's (refuted, with the point) or cannot be decided (unchecked)."""
    from ..evidence import Evidence, Kind, Status
    from .link import check_link
    if not isinstance(expr, sp.Basic) or slot is None:
        return expr, None
    infs = [e for e in sp.preorder_traversal(expr) if type(e).__name__ in ("Infimum", "Minimum")]
    opt = optimum(slot)
    if not infs or opt is None:
        return expr, None
    t = next(s for s in slot.symbols if isinstance(s, sp.Symbol) and s.name == "t")
    phi = _objective(slot.id, t, ALPHA)
    subs = {}
    for node in infs:
        body, var = node.args[0], node.args[1] if len(node.args) > 1 else None
        if not isinstance(var, sp.Symbol):
            return expr, Evidence(Status.UNCHECKED, Kind.NONE, "an infimum over something other than a variable")
        g = body.xreplace({var: ALPHA})
        ev = check_link(slot, g, "=", phi, seed=seed)
        if ev.status is Status.PROVED:
            subs[node] = phi.xreplace({ALPHA: opt[1]})
            continue
        if ev.status is Status.REFUTED:
            return expr, Evidence(Status.REFUTED, ev.kind, "the infimum is not over the pointwise problem's "
                                  "objective t l(\\alpha) + l(-\\alpha) of this loss: " + ev.detail,
                                  ev.counterexample, ev.seconds)
        return expr, Evidence(Status.UNCHECKED, Kind.NONE, f"the infimum's objective could not be checked ({ev.detail})")
    return expr.xreplace(subs), None
