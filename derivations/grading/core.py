"""Grade one answer in this process: parse, pick what is graded, expand named quantities,
decide equivalence by the slot's kind, and name the mistake when it is wrong.

This runs inside a sandboxed worker (``sandbox``); call ``derivations.grading.grade_answer``
from outside, never this directly on untrusted text in a long-lived process.
"""
from __future__ import annotations

import dataclasses
import re
import time

import sympy as sp

from .. import registry
from ..evidence import Evidence, Kind, Status
from ..limits import CheckTimeout, time_limit
from ..latex import UnknownName, DimensionError, LatexError, LimitError, for_slot, parse, parse_answer
from ..latex.errors import clip
from ..latex.objects import ArgExtremum, Extremum, is_structured
from . import matrices, mutations, structural
from .equivalence import compare, numeric
from .result import AnswerResult
from .show import latex as show_latex
from .worlds import Integrated

SYMBOLIC_SECONDS = 2.0
DIAGNOSIS_SECONDS = 4.0
ACCEPTS_SECONDS = 10.0     # a slot's own acceptance test (fdiv's region-wise proofs)
# Constants numeric evidence cannot see past: at 50 digits with a relative tolerance of 1e-28, a
# term such as 10^{-40} (or a condition p_d > p_g + 10^{-40}) is invisible at every sampled point.
TINY, HUGE = sp.Rational(1, 10**15), sp.Integer(10**15)
PROBE_SECONDS = 1.0        # the float probe for values too large to evaluate
MAX_EXPANSION_ROUNDS = 6


def graded_members(chain) -> tuple[list, str]:
    """The members an answer claims equal to the slot's quantity, and a note.

    ``f(t) = A = B`` grades A and B (the left side may only name the quantity);
    ``A = B \\ge 0`` stops at the first inequality (what follows is a remark about B).
    """
    members, rels = chain.members, chain.relations
    if not rels:
        return members, ""
    out = []
    for i, rel in enumerate(rels):
        if rel != "=":
            break
        out.append(members[i + 1])
    if not out:
        return [members[0]] if members[0] is not None else [], "an inequality, not a value"
    return out, ""


def integrated_part(slot) -> Integrated:
    """Definitions that stand for integrals over x of an integrand in density values.

    A definition whose value uses symbols that are neither the slot's symbols nor named
    quantities (p_d, p_g in the GAN risks: TV = \\int |p_d - p_g|/2) is such an integral.
    """
    primitive = set(slot.symbols) | set(k for k in slot.definitions if isinstance(k, sp.Basic))
    ref = slot.reference
    if isinstance(ref, sp.Basic):
        primitive |= ref.free_symbols
    integrands, density = {}, set()
    for key, value in (slot.definitions or {}).items():
        if not isinstance(key, sp.Symbol) or not isinstance(value, sp.Basic):
            continue
        extra = {s for s in value.free_symbols if s not in primitive}
        if extra:
            integrands[key] = value
            density |= extra
    return Integrated(integrands, tuple(sorted(density, key=sp.default_sort_key)))


def expand(expr, slot_id: str, skip=(), scope=None):
    """Replace named quantities by their definitions until none is left (bounded rounds)."""
    scope = scope if scope is not None else for_slot(slot_id)
    subs = {k: v for k, v in scope.expansions.items() if k not in skip}
    for _ in range(MAX_EXPANSION_ROUNDS):
        if not isinstance(expr, sp.Basic):
            break
        new = expr.xreplace(subs) if subs else expr
        if scope.lambdas:
            new = new.replace(lambda e: getattr(e, "func", None) in scope.lambdas,
                              lambda e: scope.lambdas[e.func](*e.args))
        if new == expr:
            break
        expr = new
    return expr


def _result(slot_id, verdict, ev: Evidence | None, message, parsed, started, mistake=None):
    counter = None
    if ev is not None and ev.counterexample:
        counter = dict(ev.counterexample)
        if "lhs" in counter:
            counter["answer"] = counter.pop("lhs")
        if "rhs" in counter:
            counter["reference"] = counter.pop("rhs")
    return AnswerResult(slot_id, verdict, ev.kind.value if ev else Kind.NONE.value,
                        ev.detail if ev else "", message, mistake, counter, parsed,
                        time.perf_counter() - started)


def grade_in_process(slot_id: str, latex: str, seed: int = 0,
                     symbolic_seconds: float = SYMBOLIC_SECONDS, diagnose: bool = True,
                     seconds: float | None = None, conventions: tuple = ()) -> AnswerResult:
    """Grade one answer here; ``seconds`` bounds the whole check (the sandbox passes a little less
    than its own wall-clock limit, so that a slow check ends as ``unchecked`` with its reason
    rather than by the worker being killed)."""
    started = time.perf_counter()
    try:
        with time_limit(seconds):
            return _grade(slot_id, latex, seed, symbolic_seconds, diagnose, started, conventions)
    except CheckTimeout:
        within = f"within {seconds:g} s" if seconds else "within its time limit"
        return _result(slot_id, "unchecked", None, f"not checked: the check did not finish {within} "
                       "(the answer's values are too large or too complex to evaluate in time)", None, started)


def _grade(slot_id, latex, seed, symbolic_seconds, diagnose, started, conventions=()) -> AnswerResult:
    """One reading of the answer, all of it: every statement graded (``_grade_statement``, or
    ``_grade_relation`` for a relation slot), every condition checked against the slot's domain."""
    slot = registry.get_slot(slot_id)
    scope, used = scope_for(slot), ()
    if conventions:      # e.g. alpha=ddim: the DDIM paper's alpha_t is DDPM's cumulative abar_t
        from ..latex.scope import for_slot_with
        scope, used = for_slot_with(slot.id, tuple(conventions), scope is not for_slot(slot.id))
    try:
        # "= A" is the answer A with its left side (the slot's quantity) left out
        answer = parse_answer(latex, scope, continuation=True)
    except LimitError as exc:
        return _result(slot_id, "unchecked", None, f"not checked: {exc}", None, started)
    except DimensionError as exc:
        ev = Evidence(Status.REFUTED, Kind.SYMBOLIC, f"dimension mismatch: {exc}")
        return _result(slot_id, "wrong", ev, f"wrong: dimension mismatch: {exc}", None, started, "dimension")
    except LatexError as exc:
        if slot.reference is None and isinstance(exc, UnknownName):
            # No formula to compare with and a vocabulary the registry lacks: a person decides.
            return _result(slot_id, "unchecked", None, f"not checked: this slot has no reference formula "
                           f"and the answer uses names it does not declare ({exc}); for a person to review",
                           None, started)
        return _result(slot_id, "invalid", None, f"not an answer: {_yaml_hint(latex, exc)}", None, started)
    results = []
    for chain in answer.statements:
        if slot.kind == "relation":
            results.append(_grade_relation(slot, chain, seed, symbolic_seconds, started))
        else:
            results.append(_grade_statement(slot, chain, seed, symbolic_seconds, diagnose, started))
    result = _combine(slot, results, answer.texts, started)
    result = _with_conditions(slot, result, answer.conditions, seed, symbolic_seconds, started)
    if used:
        result = dataclasses.replace(result, message=f"{result.message} [read with the convention: {'; '.join(used)}]")
    return result


# A YAML double-quoted string turns these escapes into control characters (or spacing): "\frac"
# becomes a form feed and "rac", "\beta" a backspace and "eta", "\theta" a tab and "heta".
_YAML_ESCAPES = {"\f": "f", "\b": "b", "\t": "t", "\n": "n", "\r": "r", "\v": "v", "\a": "a"}


def _yaml_hint(latex: str, exc) -> str:
    """``exc``'s message, with a hint where the answer holds a character that a YAML (or JSON)
    double-quoted string made from a backslash escape (``\\frac`` -> form feed + ``rac``)."""
    from ..latex.unicode import QUOTING_HINT, yaml_escape_hint
    hint = yaml_escape_hint(latex)
    return f"{exc}; {hint}" if hint and QUOTING_HINT not in str(exc) else str(exc)


def _split_message(message: str) -> tuple[str, str]:
    head, sep, rest = message.partition(": ")
    return (head, rest) if sep else (message, "")


def _combine(slot, results: list, texts: list, started) -> AnswerResult:
    """Several statements in one answer (``A, \\quad R = 7``): each is graded; the answer is correct
    only if every one is, and otherwise reports the first that is not (never graded on whichever
    comes first)."""
    if len(results) == 1:
        return results[0]
    n = len(results)
    parsed = "; ".join(r.parsed_latex or t for r, t in zip(results, texts))
    for verdict in ("wrong", "invalid", "unchecked"):
        for k, r in enumerate(results):
            if r.verdict == verdict:
                head, rest = _split_message(r.message)
                message = f"{head} (statement {k + 1} of {n}, {clip(texts[k], 60)}): {rest}"
                return AnswerResult(slot.id, r.verdict, r.evidence_kind, r.evidence_detail, message, r.mistake,
                                    r.counterexample, parsed, time.perf_counter() - started)
    first = results[0]
    head, rest = _split_message(first.message)
    return AnswerResult(slot.id, "correct", first.evidence_kind, first.evidence_detail,
                        f"correct (all {n} statements of the answer): {rest}", None, None, parsed,
                        time.perf_counter() - started)


def _with_conditions(slot, result: AnswerResult, conditions: list, seed, symbolic_seconds, started) -> AnswerResult:
    """Conditions written after the answer (``, t > 0``, ``\\text{for } t > 0``), checked against the
    slot's domain: one that does not hold everywhere in it restricts the answer to part of the domain
    (wrong); one that cannot be decided leaves the answer unchecked. A distribution, a set or words
    are read and named in the message, not checked."""
    if not conditions or result.verdict == "invalid":
        return result
    from . import link
    notes, verdict, message, ev_out = [], result.verdict, result.message, None
    for cond in conditions:
        if cond.chain is None and cond.note == "a set membership" and not _whole_space(cond.text) \
                and not _covers_domain(slot, cond.text) and verdict == "correct":
            # t \in (0, 5), t \in \{2\}: the answer may be claimed on part of the domain only
            verdict, ev_out = "unchecked", Evidence(Status.UNCHECKED, Kind.NONE, "a set condition")
            message = (f"not checked: the answer is stated under {clip(cond.text, 60)}, a set that derivcheck "
                       "does not compare with the slot's domain (the answer may hold on part of it only)")
            continue
        if cond.chain is None and cond.note == "a set membership" and _covers_domain(slot, cond.text):
            notes.append(f"{clip(cond.text, 60)} (covers the slot's domain)")
            continue
        if cond.chain is None:
            notes.append(f"{clip(cond.text, 60)} ({cond.note}: read, not checked)")
            continue
        members, rels = cond.chain.members, cond.chain.relations
        if rels and rels[0] == "=" and all(m is not None for m in members[1:]) and _a_name(members[0]):
            # "\text{where } t = p_d/p_g", "\text{using } \alpha^* = \frac{t-1}{t+1}": notation, defined
            notes.append(f"{clip(cond.text, 60)} (a definition: read, not checked)")
            continue
        if any(m is None for m in members):
            return _result(slot.id, "invalid", None, f"not an answer: the condition {clip(cond.text, 60)!r} cannot "
                           f"be read ({cond.chain.label_error})", result.parsed_latex, started)
        for j, rel in enumerate(rels):
            ev = link.check_link(slot, members[j], rel, members[j + 1], seed=seed,
                                  symbolic_seconds=_link_seconds(symbolic_seconds))
            if ev.status is Status.PROVED:
                notes.append(f"the condition {clip(cond.text, 60)} holds on the slot's domain")
                continue
            if ev.status is Status.REFUTED and verdict in ("correct", "unchecked"):
                verdict, ev_out = "wrong", ev
                message = (f"wrong: the condition {clip(cond.text, 60)} does not hold everywhere in the slot's "
                           f"domain, so the answer is stated for part of it only ({ev.detail})")
            elif ev.status is not Status.REFUTED and verdict == "correct":
                verdict, ev_out = "unchecked", ev
                message = (f"not checked: the condition {clip(cond.text, 60)} could not be checked against the "
                           f"slot's domain ({ev.detail})")
            break
    if ev_out is None:
        if notes and verdict == "correct":
            message = f"{message} [{'; '.join(notes)}]"
        return AnswerResult(result.slot, result.verdict, result.evidence_kind, result.evidence_detail, message,
                            result.mistake, result.counterexample, result.parsed_latex, result.seconds)
    return _result(slot.id, verdict, ev_out, message, result.parsed_latex, started,
                   "condition" if verdict == "wrong" else None)


_WHOLE_SPACE = re.compile(r"\\in\s*\\mathbb\s*\{?\s*R\s*\}?\s*(\^\s*(\{[^{}]*\}|\w))?\s*[.,;]?\s*$")


def _whole_space(text: str) -> bool:
    """``x \\in \\mathbb{R}^d``: membership in a whole space, no restriction of the domain."""
    return bool(_WHOLE_SPACE.search(text.strip()))


_INTERVAL = re.compile(r"^(?:\\text\{[^{}]*\}\s*)?(?P<name>.+?)\s*\\in\s*[(\[]\s*(?P<lo>[^,]+?)\s*,\s*(?P<hi>[^,]+?)\s*[)\]]\s*[.,;]?$")
_ENDS = {r"-\infty": -sp.oo, r"\infty": sp.oo, r"+\infty": sp.oo, r"-\infty": -sp.oo}


def _covers_domain(slot, text: str) -> bool:
    """``t \\in (0, \\infty)`` for a slot symbol t whose domain lies inside the interval: the
    condition restricts nothing. Only plain numbers and infinities are read as ends."""
    m = _INTERVAL.match(text.strip())
    if not m:
        return False
    ends = []
    for part in (m["lo"], m["hi"]):
        part = part.replace(" ", "")
        if part in _ENDS:
            ends.append(_ENDS[part])
        elif re.fullmatch(r"-?\d+(\.\d+)?", part):
            ends.append(sp.Rational(part))
        else:
            return False
    name = m["name"].replace(" ", "")
    from .. import symbols as symtab
    for s in slot.symbols:
        info = symtab.info(s)
        if name in {info.latex.replace(" ", ""), *(a.replace(" ", "") for a in info.aliases)}:
            return bool(ends[0] <= info.domain.lo and ends[1] >= info.domain.hi)
    return False


def _check_links(slot, members, rels, indices, seed, symbolic_seconds):
    """Each link ``members[j] rels[j] members[j + 1]`` for j in ``indices`` (``link.check_link``):
    (the proofs of the links that hold, the first refuted (j, text, evidence), the first undecided)."""
    from . import link
    held, refuted, undecided = [], None, None
    for j in indices:
        ev = link.check_link(slot, members[j], rels[j], members[j + 1], seed=seed,
                              symbolic_seconds=_link_seconds(symbolic_seconds))
        if ev.status is Status.PROVED:
            held.append(ev)
            continue
        step = f"{clip(show_latex(members[j]), 50)} {rels[j]} {clip(show_latex(members[j + 1]), 50)}"
        if ev.status is Status.REFUTED:
            return held, (j, step, ev), undecided
        undecided = undecided or (j, step, ev)
    return held, None, undecided


def _link_seconds(symbolic_seconds: float) -> float:
    """The proof budget of a link: an inequality is proved symbolically or not at all (numbers only
    refute one), so a link gets at least the default budget even where equalities get less."""
    return max(symbolic_seconds, SYMBOLIC_SECONDS)


def _a_name(member) -> bool:
    """A name (``t``, ``\\tilde x``, ``f(t)``), or a left side the reader could not read (a name of
    the student's own, ``\\alpha^*``): what a definition after "where" defines."""
    from sympy.core.function import AppliedUndef
    return member is None or isinstance(member, (sp.Symbol, sp.MatrixSymbol, sp.Indexed, AppliedUndef))


def _reference_names(slot) -> set | None:
    """The names (symbols, unknown functions) the slot's reference is written in, expanded or not;
    None when the slot has no reference to tell them by."""
    refs = []
    ref = slot.reference
    if isinstance(ref, sp.Basic):
        refs.extend([ref.lhs, ref.rhs] if ref.is_Relational else [ref])
    elif isinstance(ref, sp.MatrixBase):
        refs.append(ref)
    if uses_densities(slot):
        try:
            refs.extend(structured_references(slot))
        except Exception:
            pass
    if not refs:
        return None
    out = set()
    for r in refs:
        for e in (r, expand(r, slot.id)):
            if isinstance(e, (sp.Basic, sp.MatrixBase)):
                out |= _names(e)
    return out


def _names(expr) -> set:
    from sympy.core.function import AppliedUndef
    if not isinstance(expr, (sp.Basic, sp.MatrixBase)):
        return set()
    return set(expr.free_symbols) | {f.func for f in expr.atoms(AppliedUndef)}


def is_label(slot, member) -> bool:
    """Does the chain's left member only name the slot's quantity (``f(t)``, ``\\gamma_t``,
    ``l_3(\\theta)``, ``\\mathbb{E}[y]``), rather than state a value to check (``l(\\theta)`` for
    sm.dsm_equiv, whose reference is written in l)? A name the reader cannot read, the slot's own
    named quantity, or a member written in a name that the reference does not use (once named
    quantities are expanded) is a label; a member written only in the reference's names is a
    value, checked like every other member of the chain."""
    if member is None or only_names_the_quantity(slot, member):
        return True
    ref_names = _reference_names(slot)
    if ref_names is None:
        return False
    try:
        mine = _names(expand(member, slot.id))
    except Exception:
        return False
    return bool(mine - ref_names)


def quantity_name(slot):
    """The plain symbol the slot's own statement names its quantity by (``l_3`` in
    ``l_3(\\theta) = l(\\theta) + C_3 - C_2``), or None."""
    if not slot.latex:
        return None
    try:
        chain = parse(slot.latex, scope_for(slot))
    except LatexError:
        return None
    if chain.relations[:1] == ["="] and isinstance(chain.members[0], sp.Symbol):
        return chain.members[0]
    return None


def _as_equation(slot, a, b, seed, symbolic_seconds) -> Evidence | None:
    """``a = b`` as an equation in the slot's quantity Q, solved for it: when a - b is linear in Q
    with a constant nonzero slope k, the equation holds iff Q = Q - (a - b)/k, so it is the slot's
    statement rearranged exactly when that value equals the reference (``decide``). None when the
    answer does not name Q or is not of that shape."""
    q = quantity_name(slot)
    if q is None or not all(isinstance(m, sp.Basic) for m in (a, b)):
        return None
    try:
        d = sp.expand(expand(a, slot.id) - expand(b, slot.id))
        if q not in d.free_symbols:
            return None
        k = sp.diff(d, q)
        if not (k.is_number and k != 0):
            return None
        value = sp.expand(q - d / k)
        if value.has(q):
            return None
    except Exception:          # a shape this does not handle: the member-by-member verdict stands
        return None
    ev = decide(slot, value, seed, symbolic_seconds)
    if ev.status is not Status.PROVED:
        return ev
    return Evidence(Status.PROVED, ev.kind, f"the equation solved for {show_latex(q)} gives the reference "
                    f"({ev.detail})", seconds=ev.seconds, extra=ev.extra)


def _show_chain(members, rels) -> str:
    parts = []
    for i, m in enumerate(members):
        if m is None:
            continue
        if parts:
            parts.append(rels[i - 1])
        parts.append(show_latex(m))
    return " ".join(parts)


def _grade_statement(slot, chain, seed, symbolic_seconds, diagnose, started) -> AnswerResult:
    """One chain ``A = B = C \\ge D`` for an expression slot. The members joined to the quantity by
    ``=`` (from the left) must each equal the reference (``decide``); the left member is skipped
    only where it is a label (``is_label``); every further link (``C \\ge D``) must hold under the
    slot's model (``link.check_link``)."""
    slot_id = slot.id
    members, rels = chain.members, chain.relations
    run_end = 0
    while run_end < len(rels) and rels[run_end] == "=":
        run_end += 1
    labels = {0} if rels and is_label(slot, members[0]) else set()
    values = [i for i in range(run_end + 1) if i not in labels]
    if not values:
        note = "an inequality, not a value" if rels and rels[0] != "=" else "no right-hand side"
        return _result(slot_id, "invalid", None, f"not an answer: {note}", None, started)
    parsed = _show_chain(members, rels)
    outcomes = []
    for i in values:
        ev = decide(slot, members[i], seed, symbolic_seconds)
        outcomes.append(ev)
        if ev.status is not Status.PROVED:
            break
    last = outcomes[-1]
    n = len(values)
    if last.status is not Status.PROVED and len(rels) == 1 and values == [0, 1]:
        solved = _as_equation(slot, members[0], members[1], seed, symbolic_seconds)
        if solved is not None and solved.status is Status.PROVED:
            return _result(slot_id, "correct", solved, f"correct: {solved.detail}", parsed, started)
    if last.status is not Status.PROVED:
        at = values[len(outcomes) - 1]
        where = "" if n == 1 else f" (member {len(outcomes)} of the chain)"
        if at == 0 and n > 1:
            where = f" (the left member {clip(show_latex(members[0]), 40)}, which is not a name of the slot's quantity)"
        if last.status is Status.REFUTED:
            mistake, hint = (None, "")
            if diagnose and not last.extra.get("no_diagnosis"):
                try:
                    with time_limit(DIAGNOSIS_SECONDS):
                        mistake, hint = mutations.diagnose(slot, _diagnosable(slot, members[at]), seed)
                except CheckTimeout:
                    mistake, hint = None, ""
                except Exception:      # naming the mistake is a courtesy: the verdict stands without it
                    mistake, hint = None, ""
            message = f"wrong{where}: {last.detail}" + (f"; {hint}" if hint else "")
            return _result(slot_id, "wrong", last, message, parsed, started, mistake)
        return _result(slot_id, "unchecked", last, f"not checked{where}: {last.detail}", parsed, started)
    # the links after the quantity's value (A = B \ge 0): each must hold
    held, refuted, undecided = _check_links(slot, members, rels, range(run_end, len(rels)), seed, symbolic_seconds)
    if refuted:
        _, step, ev = refuted
        return _result(slot_id, "wrong", ev, f"wrong (the step {step} does not hold): {ev.detail}", parsed,
                       started, "false-step")
    if undecided:
        _, step, ev = undecided
        return _result(slot_id, "unchecked", ev, f"not checked (the step {step} could not be decided): "
                       f"{ev.detail}", parsed, started)
    what = "" if n == 1 else f" (all {n} members of the chain)"
    if held:
        steps = "the step after it holds" if len(held) == 1 else f"the {len(held)} steps after it hold"
        what = f" (all {n} members of the chain; {steps})" if n > 1 else f" ({steps})"
        kind, detail = _weakest(last.kind.value, last.detail, held)
        ev = Evidence(Status.PROVED, Kind(kind), detail, seconds=last.seconds)
        return _result(slot_id, "correct", ev, f"correct{what}: {detail}", parsed, started)
    return _result(slot_id, "correct", last, f"correct{what}: {last.detail}", parsed, started)


def numeric_blind_spot(expr) -> str | None:
    """Why numeric agreement says nothing about ``expr`` (a constant numerics cannot see, or an
    expression too large to screen for one), or None."""
    found, complete = extreme_constants(expr)
    if found:
        return (f"it holds the constant {clip(show_latex(found[0]), 30)}, too small or too large for numeric "
                "checks to see")
    if not complete:
        return "it is too large to screen for constants too small or too large for numeric checks to see"
    return None


def extreme_constants(expr, limit: int = 4000) -> tuple[list, bool]:
    """Constants in ``expr`` numeric checks cannot resolve: a rational with more than 15 digits
    (10^{-40}, or 1 + 10^{-40} in an exponent) or a constant subexpression below ``TINY`` or above
    ``HUGE`` in size (e^{-1000}); and whether the whole expression was screened."""
    if not isinstance(expr, sp.Basic):
        return [], True
    out = []
    try:
        with time_limit(PROBE_SECONDS):
            for k, node in enumerate(sp.preorder_traversal(expr)):
                if k > limit:
                    return out, False
                if not isinstance(node, sp.Basic):
                    continue
                if node.is_Rational:
                    if node != 0 and (abs(node.p) > HUGE or node.q > HUGE):
                        out.append(node)
                elif node.is_number and not node.is_Atom and not isinstance(node, sp.Tuple):
                    v = node.evalf(20)
                    if v.is_Number and v != 0 and not TINY <= abs(v) <= HUGE:
                        out.append(node)
    except (CheckTimeout, TypeError, ValueError, ArithmeticError, RecursionError):
        return out, False
    return out, True


def uses_densities(slot) -> bool:
    """Does the slot speak of densities (p(x|z) as objects, or symbols typeset as densities)?"""
    own = set(slot.symbols)
    if isinstance(slot.reference, sp.Basic):
        own |= slot.reference.free_symbols
    return any(sym in own for sym in for_slot(slot.id, True).density_symbols.values()) or \
        is_structured(slot.reference)


def scope_for(slot):
    """Density mode where the slot speaks of densities, and where it has no reference at all (so
    an answer about p(z_1|x) is read, then reported unchecked rather than unreadable)."""
    return for_slot(slot.id, True) if uses_densities(slot) or slot.reference is None else for_slot(slot.id)


def to_symbols(expr, slot):
    return expr.xreplace(for_slot(slot.id, True).density_symbols) if isinstance(expr, sp.Basic) else expr


def to_densities(expr, slot):
    inverse = {}
    for d, sym in for_slot(slot.id, True).density_symbols.items():
        inverse.setdefault(sym, d)
    return expr.xreplace(inverse) if isinstance(expr, sp.Basic) else expr


def structured_references(slot) -> list:
    """The forms an answer about densities may equal: the slot's reference (with its density
    symbols read as densities) and the slot's own LaTeX read by the same parser (which keeps
    the E and KL a pointwise reference leaves implicit)."""
    refs = []
    if slot.reference is not None and not (isinstance(slot.reference, sp.Basic) and slot.reference.is_Relational):
        refs.append(to_densities(expand(to_symbols(slot.reference, slot), slot.id), slot))
    if slot.latex:
        try:
            chain = parse(slot.latex, for_slot(slot.id, True))
            members, _ = graded_members(chain)
            if members and members[-1] is not None and not getattr(members[-1], "is_Relational", False):
                refs.append(to_densities(expand(to_symbols(members[-1], slot), slot.id), slot))
        except LatexError:
            pass
    return refs


def only_names_the_quantity(slot, answer) -> bool:
    """Is the answer just the name the slot's definitions give its own quantity (``\\Sigma`` for
    the posterior covariance, with Sigma := (Lambda + A^T L A)^{-1})? That says nothing."""
    if not isinstance(answer, (sp.Symbol, sp.MatrixSymbol)) or slot.reference is None:
        return False
    expansions = for_slot(slot.id).expansions
    if answer not in expansions:
        return False
    try:
        return answer == slot.reference or expansions[answer] == slot.reference or \
            expand(answer, slot.id) == expand(slot.reference, slot.id)
    except Exception:
        return False


def decide(slot, answer, seed: int = 0, symbolic_seconds: float = SYMBOLIC_SECONDS) -> Evidence:
    """Evidence that one graded member equals the slot's quantity. Agreement found only by numerics
    stands only where numerics can see every constant of the answer (``numeric_blind_spot``)."""
    ev = _decide(slot, answer, seed, symbolic_seconds)
    if ev.status is Status.PROVED and ev.kind not in (Kind.SYMBOLIC, Kind.SYMBOLIC_FAMILY):
        blind = numeric_blind_spot(answer)
        if blind:
            return Evidence(Status.UNCHECKED, Kind.NONE, f"the answer agrees with the reference numerically "
                            f"({ev.detail}), but {blind}; without a symbolic proof it is not accepted",
                            seconds=ev.seconds)
    return ev


def _decide(slot, answer, seed: int = 0, symbolic_seconds: float = SYMBOLIC_SECONDS) -> Evidence:
    if only_names_the_quantity(slot, answer):
        return Evidence(Status.UNCHECKED, Kind.NONE, f"the answer only names the quantity ({show_latex(answer)}); "
                        "write what it equals")
    if uses_densities(slot) and isinstance(answer, sp.Basic) and not answer.is_Relational:
        answer = to_densities(expand(to_symbols(answer, slot), slot.id), slot)
        return structural.compare_forms(answer, structured_references(slot), seed)
    if isinstance(answer, sp.Basic) and answer.is_Relational:
        return Evidence(Status.ERROR, Kind.NONE, "a relation where a value was expected")
    if slot.reference is None:
        return Evidence(Status.UNCHECKED, Kind.NONE, "this slot states a property or a method, not a "
                        "value: it has no reference expression to compare an answer with")
    if isinstance(answer, sp.Basic) and answer.has(ArgExtremum):
        return Evidence(Status.UNCHECKED, Kind.NONE, "an arg min / arg max is read but not evaluated: write the "
                        "point it names")
    if isinstance(answer, sp.Basic) and answer.has(Extremum):
        unwrapped = _diagnosable(slot, answer)
        if unwrapped.has(Extremum):
            return Evidence(Status.UNCHECKED, Kind.NONE, "an infimum or supremum derivcheck cannot evaluate (it "
                            "evaluates inf_a [t l(a) + l(-a)], the pointwise problem of a margin loss)")
        answer = unwrapped
    if slot.kind == "matrix" or matrices.is_matrix(slot.reference):
        return matrices.compare(slot, answer, seed)
    if matrices.is_matrix(answer):
        return Evidence(Status.REFUTED, Kind.SYMBOLIC, "a matrix where the slot's quantity is a scalar")
    integrated = integrated_part(slot)
    skip = set(integrated.integrands)
    answer = expand(answer, slot.id, skip)
    reference = expand(slot.reference, slot.id, skip)
    if is_structured(answer) and not is_structured(reference) and isinstance(reference, sp.Basic) \
            and reference.free_symbols:
        return Evidence(Status.UNCHECKED, Kind.NONE, "the answer is written with densities, expectations or "
                        "KL terms, and this slot's reference is a closed form in its symbols "
                        f"({', '.join(sorted(map(str, reference.free_symbols))[:6])}): no finite model "
                        "of generic densities gives both a value")
    if is_structured(answer) or is_structured(reference):
        return structural.compare(slot, answer, reference, seed)
    if slot.kind == "set":
        if _too_large(answer, slot, seed):
            return Evidence(Status.UNCHECKED, Kind.NONE, "the answer's values are too large to evaluate")
        return _accepts(slot, answer, None)
    ev = compare(answer, reference, slot.conditions, integrated, seed, symbolic_seconds)
    if slot.kind == "structural" and ev.status is Status.REFUTED:
        alt = _other_forms(slot, answer, seed)
        if alt is not None:
            return alt
    if slot.accepts is not None and ev.status is not Status.REFUTED and ev.kind is not Kind.SYMBOLIC \
            and not answer.has(sp.Integral) and not _too_large(answer, slot, seed):
        return _accepts(slot, answer, ev)
    return ev


def _too_large(answer, slot, seed) -> bool:
    """Does the answer overflow float64 at some admissible point? (e^{e^{e^{e^t}}}: the slot's own
    checker would then spend unbounded time in high-precision arithmetic.) The probe substitutes
    15-digit floats, never exact rationals (an exact (t^{999}+1)^{999} or a tower of logs of
    negative numbers is what it guards against); a probe that itself runs out of time counts as
    too large."""
    from .worlds import _overflows, worlds
    try:
        with time_limit(PROBE_SECONDS):
            for w in worlds([answer, slot.reference], slot.conditions, n=8, seed=seed):
                probe = answer.xreplace({s: sp.Float(v, 15) for s, v in w.point.items()})
                if _overflows(probe):
                    return True
    except CheckTimeout:
        return True
    except Exception:
        return False
    return False


_FLIP = {"<=": ">=", "<": ">", ">=": "<=", ">": "<", "=": "="}


def _oriented(lhs, rel, rhs):
    """(big, rel, small) for inequalities written either way; equalities unchanged."""
    if rel in ("<=", "<"):
        return rhs, _FLIP[rel], lhs
    return lhs, rel, rhs


def _reference_relations(slot) -> list[tuple]:
    out = []
    if slot.latex:
        try:
            chain = parse(slot.latex, scope_for(slot))
            rels = chain.relations
            if len(rels) >= 1 and chain.members[0] is not None and rels[0] != "=" or \
                    (len(rels) == 1 and chain.members[0] is not None):
                out.append((chain.members[0], rels[0], chain.members[1]))
        except LatexError:
            pass
    ref = slot.reference
    if isinstance(ref, sp.Basic) and ref.is_Relational:
        rel = {"==": "=", ">=": ">=", "<=": "<=", ">": ">", "<": "<"}.get(ref.rel_op)
        if rel:
            out.append((ref.lhs, rel, ref.rhs))
    return out


def grade_relation(slot_id: str, lhs, rel: str, rhs, seed: int = 0,
                   symbolic_seconds: float = SYMBOLIC_SECONDS) -> AnswerResult:
    """Grade ``lhs rel rhs`` (parsed members, e.g. a chain's first member, the relation its links
    compose to, and its last member) as the answer to a relation slot such as ``vae.jensen``:
    the same relation as the slot's (either orientation), sides equal to the result's sides."""
    slot = registry.get_slot(slot_id)
    from ..latex import Chain
    return _grade_relation(slot, Chain([lhs, rhs], [rel]), seed, symbolic_seconds, time.perf_counter())


def compose(rels) -> str | None:
    """The relation a chain's links compose to: ``=`` with ``\\ge`` gives ``\\ge`` (strict if any link
    is); ``\\ge`` with ``\\le`` composes to nothing (None): such a chain is no valid chain."""
    ups = {r for r in rels if r in (">=", ">")}
    downs = {r for r in rels if r in ("<=", "<")}
    if ups and downs:
        return None
    if not ups and not downs:
        return "="
    strict = bool({">", "<"} & (ups | downs))
    return (">" if strict else ">=") if ups else ("<" if strict else "<=")


def _grade_relation(slot, chain, seed, symbolic_seconds, started) -> AnswerResult:
    """A relation slot (Jensen's bound, an identity): the answer must be the same relation.

    A chain ``A = B \\ge C = D`` is read whole: its links compose (``compose``; mixing ``\\ge`` and
    ``\\le`` is refused), every link must hold under the slot's model (a refuted link is named, with
    its counterexample; one that cannot be decided leaves the answer unchecked), and the composed
    relation between the first and the last member must be the slot's."""
    if not chain.relations or any(m is None for m in chain.members):
        return _result(slot.id, "invalid", None, "not an answer: this slot's answer is a relation "
                       r"(such as a \ge b)" + (f"; its left side cannot be read ({chain.label_error})"
                                                if chain.label_error else ""), None, started)
    members, rels = chain.members, chain.relations
    if len(rels) == 1:
        return _relation_pair(slot, members[0], rels[0], members[1], None, seed, symbolic_seconds, started)
    parsed = _show_chain(members, rels)
    rel = compose(rels)
    if rel is None:
        return _result(slot.id, "invalid", None, "not an answer: the chain mixes \\ge and \\le, so it is no "
                       "valid chain (it relates its first and last members by nothing)", parsed, started)
    held, refuted, undecided = _check_links(slot, members, rels, range(len(rels)), seed, symbolic_seconds)
    if refuted:
        j, step, ev = refuted
        return _result(slot.id, "wrong", ev, f"wrong (link {j + 1} of the chain, {step}, does not hold): "
                       f"{ev.detail}", parsed, started, "false-step")
    whole = _relation_pair(slot, members[0], rel, members[-1], parsed, seed, symbolic_seconds, started)
    if whole.verdict != "correct":
        head, rest = _split_message(whole.message)
        return AnswerResult(whole.slot, whole.verdict, whole.evidence_kind, whole.evidence_detail,
                            f"{head} (the chain composes to its first member {rel} its last): {rest}",
                            whole.mistake, whole.counterexample, parsed, whole.seconds)
    if undecided is not None:
        j, step, ev = undecided
        return _result(slot.id, "unchecked", ev, f"not checked (link {j + 1} of the chain, {step}, could not "
                       f"be decided): {ev.detail}", parsed, started)
    head, rest = _split_message(whole.message)
    kind, detail = _weakest(whole.evidence_kind, whole.evidence_detail, held)
    return AnswerResult(whole.slot, "correct", kind, detail,
                        f"correct (all {len(rels)} links of the chain hold; it composes to its first member {rel} "
                        f"its last): {detail}", None, None, parsed, whole.seconds)


def _weakest(kind: str, detail: str, links: list) -> tuple[str, str]:
    """The evidence of a result that rests on its links too: symbolic only if every link is."""
    weak = [ev for ev in links if ev.kind not in (Kind.SYMBOLIC, Kind.SYMBOLIC_FAMILY)]
    if not links:
        return kind, detail
    detail = f"{detail}; its links: {len(links) - len(weak)} proved symbolically, {len(weak)} numerically" + \
        (f" ({weak[0].detail})" if weak else "")
    return (Kind.EXACT_NUMERIC.value if weak else kind), detail


def _relation_pair(slot, lhs, rel, rhs, parsed, seed, symbolic_seconds, started) -> AnswerResult:
    """``lhs rel rhs`` against the slot's reference relation: same relation, sides the result's."""
    parsed = parsed or f"{show_latex(lhs)} {rel} {show_latex(rhs)}"
    big, rel, small = _oriented(lhs, rel, rhs)
    last = Evidence(Status.UNCHECKED, Kind.NONE, "the slot has no reference relation")
    for ref in _reference_relations(slot):
        rbig, rrel, rsmall = _oriented(*ref)
        if rrel != rel and not (rrel == "=" or rel == "="):
            if rrel.rstrip("=") == rel.rstrip("="):
                last = Evidence(Status.REFUTED, Kind.SYMBOLIC, f"the relation is {rel}; the result is {rrel} "
                                "(equality is attained, so a strict inequality is wrong)")
            else:
                last = Evidence(Status.REFUTED, Kind.SYMBOLIC, f"the inequality points the wrong way "
                                f"({rel} where the result is {rrel})")
            continue
        if (rrel == "=") != (rel == "="):
            last = Evidence(Status.REFUTED, Kind.SYMBOLIC, f"{'an equality' if rel == '=' else 'an inequality'} "
                            f"where the result is {'an equality' if rrel == '=' else 'an inequality'}")
            continue
        pairs = [((big, rbig), (small, rsmall))]
        if rel == "=":
            pairs.append(((big, rsmall), (small, rbig)))
        if rel != "=" and _side(slot, big, rsmall, seed).ok and _side(slot, small, rbig, seed).ok:
            ev = Evidence(Status.REFUTED, Kind.EXACT_NUMERIC, "the inequality points the wrong way "
                          "(its sides are the result's, exchanged)")
            return _result(slot.id, "wrong", ev, f"wrong: {ev.detail}", parsed, started, "reversed-inequality")
        for (a1, r1), (a2, r2) in pairs:
            e1 = _side(slot, a1, r1, seed)
            e2 = _side(slot, a2, r2, seed) if e1.ok else e1
            if e1.ok and e2.ok:
                kind = Kind.SYMBOLIC if e1.kind is Kind.SYMBOLIC and e2.kind is Kind.SYMBOLIC else Kind.EXACT_NUMERIC
                ev = Evidence(Status.PROVED, kind, f"both sides match the result: {e1.detail}; {e2.detail}")
                return _result(slot.id, "correct", ev, f"correct: {ev.detail}", parsed, started)
            last = e2 if e1.ok else e1
    if last.status is Status.REFUTED:
        return _result(slot.id, "wrong", last, f"wrong: {last.detail}", parsed, started)
    return _result(slot.id, "unchecked", last, f"not checked: {last.detail}", parsed, started)


def _side(slot, answer, reference, seed) -> Evidence:
    if uses_densities(slot):
        a = to_densities(expand(to_symbols(answer, slot), slot.id), slot)
        r = to_densities(expand(to_symbols(reference, slot), slot.id), slot)
        return structural.compare_forms(a, [r], seed)
    return compare(expand(answer, slot.id), expand(reference, slot.id), slot.conditions, None, seed)


def _diagnosable(slot, answer):
    """The answer with each inf/sup resolved: unwrapped to its objective where the slot's reference
    is that objective (gan.general.f), else evaluated; left as it is where neither applies."""
    if isinstance(answer, sp.Basic) and answer.has(Extremum):
        from ..fdiv import alpha as loss_var
        bound = {e.args[1] for e in answer.atoms(Extremum)}
        if bound == {loss_var} and isinstance(slot.reference, sp.Basic) and loss_var in slot.reference.free_symbols:
            return _unwrap_extremum(answer) or answer      # the reference is the objective in the margin
        return _evaluate_extrema(answer) or answer
    return answer


def _evaluate_extrema(answer):
    """Each inf_a[body] / sup_a[body] replaced by its value, where the body (or its negative, for a
    sup) is the pointwise problem of a margin loss, t l(a) + l(-a): that infimum is what the
    f-divergence analysis computes (``fdiv.analyse``), accepted only where its proofs that the
    minimum is global and f its value hold. None when an extremum has another form or is unproved."""
    from .. import fdiv_checks
    from ..fdiv import alpha as loss_var
    from ..fdiv import analyse, t as ratio
    from ..fdiv_pointwise import FDivError

    def value(e):
        body, var = e.args
        body = body if e.is_infimum else -body
        for t in sorted(body.free_symbols - {var}, key=str):
            loss = sp.diff(body, t)
            if loss.has(t) or sp.simplify(body - t * loss - loss.xreplace({var: -var})) != 0:
                continue
            try:
                res = analyse(loss.xreplace({var: loss_var}), prove=False)
                # the infimum is trusted only where the analysis's own proofs of it hold
                checks = [fdiv_checks.global_minimum, fdiv_checks.f_value] if res.dstar_t is not None \
                    else [fdiv_checks.minimiser_set]
                if not all(check(res).ok for check in checks):
                    return None
            except (FDivError, ValueError, TypeError, NotImplementedError, RecursionError, AttributeError):
                return None
            inf = (-res.f).xreplace({ratio: t})
            return inf if e.is_infimum else -inf
        return None

    out = answer
    for e in sorted(answer.atoms(Extremum), key=sp.count_ops):
        v = value(e)
        if v is None:
            return None
        out = out.xreplace({e: v})
    return out


def _unwrap_extremum(answer):
    """-inf_a[g] is graded as its objective -g... written as sup_a[-g] too (a slot whose
    reference is the objective inside the extremum, such as gan.general.f)."""
    coeff, rest = answer.as_coeff_Mul()
    if isinstance(rest, Extremum) and coeff in (1, -1) and (coeff == -1) == rest.is_infimum:
        body = rest.args[0]
        return body if rest.is_infimum else -body       # sup_a[-g] = -inf_a[g]: the objective is g
    return None


def _accepts(slot, answer, fallback: Evidence | None) -> Evidence:
    """The slot's own acceptance test (set-valued slots, region-wise proofs)."""
    try:
        with time_limit(ACCEPTS_SECONDS):
            ev = slot.accepts(answer)
    except CheckTimeout:
        ev = Evidence(Status.UNCHECKED, Kind.NONE, f"the slot's own test of the answer did not finish within "
                      f"{ACCEPTS_SECONDS:g} s")
    except RecursionError:
        ev = Evidence(Status.UNCHECKED, Kind.NONE, "the answer is nested too deeply for the slot's own test")
    except Exception as exc:  # a slot's checker failing must not crash grading
        ev = Evidence(Status.ERROR, Kind.NONE, f"the slot's acceptance test failed: {type(exc).__name__}")
    if ev.status in (Status.PROVED, Status.REFUTED) or fallback is None:
        if ev.status is Status.REFUTED and slot.kind == "set":
            ev = Evidence(ev.status, ev.kind, ev.detail, ev.counterexample, ev.seconds,
                          {**ev.extra, "no_diagnosis": False})
        return ev
    return fallback


def _other_forms(slot, answer, seed):
    """A structural slot's named companions (f', f'' of a convex f) are answers too."""
    for name, value in (slot.definitions or {}).items():
        if not isinstance(value, sp.Basic) or matrices.is_matrix(value):
            continue
        ev = numeric(answer, value, slot.conditions, None, seed)
        if ev.status is Status.PROVED:
            return Evidence(Status.PROVED, ev.kind, f"{ev.detail} (it is the slot's {name})", extra=ev.extra)
    return None
