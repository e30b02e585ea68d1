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
from sympy.core.function import AppliedUndef

from ..latex import LatexError, parse
from ..latex.names import key_of_latex

ALPHA = sp.Symbol("alpha", real=True)

# Trusted model equations per slot prefix: "name = expression", read in the slot's scope. A line
# of a derivation that holds once these are substituted holds in the derivation's context.
MODELS = {
    "ddim.": [r"x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon"],
    # x_t is the sampler's input there, not a forward sample; x_{t-1} is the sampler's step (eq. 12)
    "ddim.deterministic": [r"x_{t-1} = \sqrt{\bar\alpha_{t-1}}\,f_\theta(x_t) + \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\,"
                           r"\epsilon_\theta(x_t) + \sigma_t\epsilon"],
    "sm.kernel_score": [r"\tilde x = x + \sigma\epsilon"],
    "sm.dsm": [r"\tilde x = x + \sigma\epsilon"],          # the perturbed sample of the DSM objective
    # q = N(m, s^2 I_d), in the reader's reading of \|x - m\|^2
    "sm.ism_constant_gauss": [r"q(x) = (2\pi s^2)^{-d/2} \exp\left(-\frac{\|x-m\|^2}{2s^2}\right)"],
}

# Trusted moments of a slot's random variable about its mean: (variable, mean, [E[1], E[u], E[u^2], ...])
# with u = variable - mean, in the reader's reading (x in R^d, the square of x - m read as the squared
# norm ||x - m||^2). An expectation over the variable whose body is a polynomial in u of a degree the
# list covers is taken; any other is left as it is.
MOMENTS = {
    "sm.ism_constant_gauss": ("x", "m", ["1", "0", "d s^2"]),        # x ~ q = N(m, s^2 I_d)
}


@lru_cache(maxsize=64)
def moments(slot_id: str):
    """(variable, mean, moments) of the slot's random variable, read from ``MOMENTS``; or None."""
    from .. import registry
    from .core import scope_for
    spec = MOMENTS.get(slot_id)
    if spec is None:
        return None
    scope = scope_for(registry.get_slot(slot_id))
    try:
        var, mean = (parse(t, scope).members[0] for t in spec[:2])
        values = [parse(t, scope).members[0] for t in spec[2]]
    except LatexError:
        return None
    return (var, mean, tuple(values)) if isinstance(var, sp.Symbol) else None


def take_moments(slot, expr):
    """``expr`` with every expectation over the slot's random variable (written without a measure,
    or over the variable or its density alone) replaced by its value from the slot's moments; None
    when there is none to take or one of them cannot be taken."""
    from ..latex.objects import Density, Expectation
    spec = None if slot is None else moments(slot.id)
    if spec is None or not isinstance(expr, sp.Basic) or not expr.has(Expectation):
        return None
    var, mean, values = spec
    u = sp.Dummy("u")
    subs = {}
    for node in expr.atoms(Expectation):
        measure, body = node.measure, node.body
        if not all(m == var or isinstance(m, Density) and tuple(m.variables) == (var,) and not m.given
                   for m in measure):
            return None
        if not isinstance(body, sp.Basic) or body.has(Expectation):
            return None
        centred = sp.expand(body.xreplace({var: mean + u}))
        if centred.has(var):
            return None
        try:
            poly = sp.Poly(centred, u)
        except sp.PolynomialError:
            return None
        if poly.degree() >= len(values) or any(c.has(u) for c in poly.coeffs()):
            return None
        subs[node] = sum(coef * values[k] for (k,), coef in poly.terms())
    return expr.xreplace(subs)


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


# Names a derivation may give the slot's own quantity, besides the left side of the slot's LaTeX
# statement and a plain name heading its text statement (``f(t) = ...``): a line ``NAME = B`` with
# such a NAME claims that B is the slot's quantity and is checked like an answer.
QUANTITY_NAMES = {
    "vae.gauss_kl_1d": [r"\mathrm{KL}", r"D_{\mathrm{KL}}", r"\mathrm{KL}(q\|p)", r"D_{\mathrm{KL}}(q\|p)"],
    "vae.gauss_kl_diag": [r"\mathrm{KL}", r"D_{\mathrm{KL}}", r"\mathrm{KL}(q\|p)", r"D_{\mathrm{KL}}(q\|p)"],
    "vae.lg_log_evidence": [r"\log p(X)", r"\log p_\theta(X)", r"\log p(x)", r"\log p_\theta(x)"],
    "ddim.ddpm_sigma": [r"\sigma_t^2"],
    "ddim.gamma": [r"\gamma_t"],
    "ddim.x0_pred": [r"f_\theta(x_t)"],
    "ddim.deterministic": [r"x_{t-1}"],
}


_FONTS = ("\\mathcal", "\\mathrm", "\\mathbf", "\\mathit", "\\mathscr", "\\operatorname", "\\boldsymbol", "\\bm")


def _normal_text(text: str) -> str:
    """LaTeX compared as text: no spacing, braces, \\left/\\right or fonts (\\mathcal{L} is L), and
    the model's parameters on a density dropped (p_\\theta(X) is p(X), q_\\phi is q)."""
    out = text.replace("\\mid", "|")
    for junk in ("\\left", "\\right", "\\,", "\\!", "\\;", "\\:", "\\ ", "{", "}", " ") + _FONTS:
        out = out.replace(junk, "")
    for family in ("p", "q"):
        for param in ("\\theta", "\\phi", "\\lambda"):
            out = out.replace(f"{family}_{param}(", f"{family}(")
    return out


def quantity_names(slot) -> list:
    """The LaTeX names of the slot's quantity: ``QUANTITY_NAMES``, the left side of the slot's LaTeX
    statement when it is a name, and a plain name heading its text statement (``f(t) = ...``)."""
    if slot is None:
        return []
    out = list(QUANTITY_NAMES.get(slot.id, []))
    for text in (slot.latex, slot.statement):
        if not text:
            continue
        pieces = top_level_split(text)
        if len(pieces) < 2 or pieces[0][1] != "=":
            continue
        head = pieces[0][0].strip()
        if head and len(head) <= 40 and (text is slot.latex or " " not in head):
            out.append(head)
    return out


def names_quantity_text(slot, head: str) -> bool:
    """Is the LaTeX ``head`` (a line's left side, as written) one of the slot's quantity names?"""
    norm = _normal_text(head)
    return bool(norm) and any(norm == _normal_text(n) for n in quantity_names(slot))


def _prefixed(table: dict, slot_id: str):
    if slot_id in table:                # a slot's own entry replaces its question's
        return [table[slot_id]]
    out = []
    for prefix, value in table.items():
        if slot_id == prefix or (prefix.endswith(".") and slot_id.startswith(prefix)):
            out.append(value)
    return out


def _own_copy(scope):
    """A copy of ``scope`` whose tables are its own: a derivation adds the names it defines to its
    copy, never to the cached scope that other answers and derivations are read in."""
    out = copy.copy(scope)
    for name, value in vars(scope).items():
        if isinstance(value, (dict, set, list)):
            setattr(out, name, copy.copy(value))
    return out


def derivation_scope(slot, scope):
    """The slot's scope plus the auxiliary names its derivation may use (a copy: scopes are cached)."""
    aux = {} if slot is None else AUXILIARY.get(slot.id, {})
    if scope is None:
        return scope
    out = _own_copy(scope)
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
            if isinstance(lhs, (sp.Symbol, AppliedUndef)) and isinstance(rhs, sp.Basic) and not rhs.has(lhs):
                out.append((lhs, rhs))       # a symbol (x_t = ...) or a density at its point (q(x) = ...)
    return tuple(out)


def uses_model(expr, model: dict) -> bool:
    """Does ``expr`` mention a name the model defines?"""
    return isinstance(expr, sp.Basic) and any(expr.has(k) for k in model)


def under_model(expr, model: dict):
    """``expr`` with the model substituted, and the derivatives it then holds carried out."""
    if not isinstance(expr, sp.Basic):
        return expr
    out = expr.xreplace(model)
    if out.has(sp.Derivative):
        out = out.doit()
    return out


def optimum(slot) -> tuple | None:
    """(alpha, alpha*(t)) with t the slot's own symbol, or None."""
    if slot is None or slot.id not in _OPTIMA:
        return None
    value = _OPTIMA[slot.id]
    t = next((s for s in slot.symbols if isinstance(s, sp.Symbol) and s.name == "t"), None)
    if t is None:
        return None
    return ALPHA, value.subs(sp.Symbol("t", positive=True), t)


def first_order_condition(slot, lhs, rhs):
    r"""Is ``lhs = rhs``, an equation with the margin variable on both sides (``t e^{-lpha} =
    e^{lpha}``), the first-order condition of the slot's pointwise problem? Proved symbolically:
    lhs - rhs = c \cdot rac{d}{dlpha}[t l(lpha) + l(-lpha)] with c of one strict sign on the
    whole domain (so both equations have the same solutions). Returns Evidence (proved) or None:
    anything else is checked as an identity."""
    from ..evidence import Evidence, Kind, Status
    opt = optimum(slot)
    if opt is None or not isinstance(lhs, sp.Basic) or not isinstance(rhs, sp.Basic):
        return None
    t = next(s for s in slot.symbols if isinstance(s, sp.Symbol) and s.name == "t")
    slope = sp.diff(_objective(slot.id, t, ALPHA), ALPHA)
    if slope.has(sp.Heaviside, sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.DiracDelta):
        return None
    gap = lhs - rhs
    if ALPHA not in gap.free_symbols or not gap.free_symbols <= {ALPHA, t}:
        return None
    try:
        ratio = sp.simplify(sp.factor(sp.together(gap / slope)))
    except Exception:
        return None
    if ratio.free_symbols - {ALPHA, t} or ratio.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return None
    if ratio.is_positive is True or ratio.is_negative is True:
        return Evidence(Status.PROVED, Kind.SYMBOLIC, "the first-order condition of the pointwise problem: "
                        f"the difference of the two sides is ({ratio}) times d/dalpha [t l(alpha) + "
                        "l(-alpha)], a factor of one sign, so both equations have the same solutions")
    return None


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
