r"""A derivation in steps: every link checked, the first invalid one named with a counterexample.

A chain is a list of steps: ``A = B``, then ``= C`` or ``\le D`` continuing from the previous
right-hand side, or a full relation ``C = D`` (then the link "previous right-hand side = C"
is checked too, so the chain stays one connected argument). A first step such as
``L(x) = ...`` whose left side only names the slot's quantity makes its first link "the
slot's quantity = ...", checked like a single answer.

Steps are read by ``latex.parse(..., continuation=True)``. Each link goes through
``links.check_link`` (``derivations.grading.check_link``: the single-answer machinery). The chain's last
expression is then graded against the slot like an answer; for relation slots (Jensen's
bound) the chain's composed relation -- first member, the relation all links compose to,
last member -- is graded instead. Links nothing can decide are ``unchecked`` and listed for a
person, never counted as valid or invalid.

This runs in a sandboxed worker: it parses the student's text.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import sympy as sp

from .. import registry
from ..evidence import Evidence, Kind, Status
from ..latex import DimensionError, LatexError, LimitError, parse
from . import links

_SHOW_REL = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">"}
_WEAKER = {Kind.SYMBOLIC: 0, Kind.SYMBOLIC_FAMILY: 1, Kind.EXACT_NUMERIC: 2, Kind.MONTE_CARLO: 3, Kind.NONE: 4}
QUANTITY = r"\text{(the slot's quantity)}"


def compose(a: str | None, b: str) -> str | None:
    """The relation of a chain ``x a y b z`` between x and z (None when directions mix)."""
    if a is None:
        return None
    if a == "=":
        return b
    if b == "=":
        return a
    if a[0] != b[0]:
        return None
    return a[0] if "<" in (a, b) or ">" in (a, b) else a


@dataclass
class Link:
    step: int                      # the step (1-based) that claims it
    lhs: object
    rel: str
    rhs: object
    evidence: Evidence | None = None
    note: str = ""                 # "between steps 2 and 3", "names the slot's quantity"
    text: str = ""                 # the step as the student wrote it

    def claim(self) -> str:
        from ..grading.show import latex as show
        left = QUANTITY if self.lhs is None else show(self.lhs)
        return f"{left} {_SHOW_REL[self.rel]} {show(self.rhs)}"

    def as_dict(self) -> dict:
        ev = self.evidence
        return {"step": self.step, "text": self.text, "claim": self.claim(), "relation": self.rel, "note": self.note,
                "status": ev.status.value if ev else "unchecked", "kind": ev.kind.value if ev else "none",
                "detail": ev.detail if ev else "", "counterexample": _plain(ev.counterexample) if ev else None}


def _sides(ev: Evidence) -> Evidence:
    """Evidence from the single-answer path speaks of "the answer" and "the reference"; in a
    link they are the step's left and right sides."""
    if ev is None:
        return ev
    counter = ev.counterexample
    if counter:
        names = {"answer": "lhs", "reference": "rhs"}
        counter = {names.get(k, k): v for k, v in counter.items()}
    detail = ev.detail.replace("the answer and the reference", "the two sides") \
        .replace("from the reference", "from the right side").replace("the answer", "the left side")
    return Evidence(ev.status, ev.kind, detail, counter, ev.seconds, ev.extra)


@dataclass
class Reading:
    links: list = field(default_factory=list)
    unreadable: list = field(default_factory=list)     # (step, message, limit?)
    first: object = None
    last: object = None
    relation: str | None = "="
    named: bool = False


def _plain(d):
    if not d:
        return d
    out = {}
    for k, v in d.items():
        out[str(k)] = v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
    return out


def _statement(slot):
    """The slot's own statement parsed in its scope (trusted text), or None."""
    if slot is None or not slot.latex:
        return None
    try:
        return parse(slot.latex, _scope(slot))
    except Exception:
        return None


def slot_labels(slot) -> set:
    """Names the slot's statement gives its quantity on the left (``l_3(\theta) = ...``): a step
    starting ``l_3(\theta) = ...`` names the quantity, it does not claim an identity about a free
    symbol. Only bare names count (a symbol), never an expression such as log p(X) - ELBO."""
    chain = _statement(slot)
    if chain is None or not chain.relations or chain.relations[0] != "=":
        return set()
    first = chain.members[0]
    return {first} if isinstance(first, sp.Symbol) else set()


def statement_bound(slot):
    r"""(relation, other side) when the slot's statement makes its quantity a bound:
    ``L(x) = E[...] \le \log p(x)`` gives ("<=", log p(x)); None otherwise."""
    if slot is None or slot.kind == "relation":
        return None
    chain = _statement(slot)
    if chain is None:
        return None
    members, rels = list(chain.members), list(chain.relations)
    if len(rels) == 2 and rels[0] == "=" and rels[1] in _FLIP and members[2] is not None:
        return rels[1], members[2]          # "L(x) = E[...] <= log p(x)", the label read or not
    return None


def read_chain(steps, scope, slot) -> Reading:
    """Parse every step and lay out the links (nothing is checked yet)."""
    r = Reading()
    prev = None
    labels = slot_labels(slot)
    for k, text in enumerate(steps, start=1):
        try:
            chain = parse(text, scope, continuation=True)
        except DimensionError as exc:
            r.unreadable.append((k, f"dimension mismatch: {exc}", False))
            prev = None
            continue
        except LimitError as exc:
            r.unreadable.append((k, str(exc), True))
            prev = None
            continue
        except LatexError as exc:
            r.unreadable.append((k, str(exc), False))
            prev = None
            continue
        members, rels = list(chain.members), list(chain.relations)
        if any(isinstance(m, sp.Basic) and getattr(m, "is_Relational", False) for m in members if m is not None):
            r.unreadable.append((k, "a relation inside a member", False))
            prev = None
            continue
        # "= C": the parser leaves the first member to us (no label was tried, so no label error)
        lead = rels[0] if members and members[0] is None and rels and not chain.label_error else None
        if lead is None and len(members) > 1 and _is_label(members[0], labels):
            members[0] = None           # "l_3(\theta) = ...": the slot's own name for its quantity
        if lead is not None:
            members, rels = members[1:], rels[1:]
            if k == 1 or prev is None:
                why = "the first step continues from nothing" if k == 1 else \
                    "it continues from a step that could not be read"
                if k == 1:
                    r.unreadable.append((k, why, False))
                prev = members[-1] if members else None
                continue
            r.links.append(Link(k, prev, lead, members[0]))
            r.relation = compose(r.relation, lead)
        elif members and members[0] is None:
            if len(members) < 2:
                r.unreadable.append((k, "nothing after the label", False))
                continue
            r.links.append(Link(k, None, rels[0], members[1], note="its left side names the slot's quantity"))
            r.named = r.named or k == 1
            if k == 1:
                r.relation = rels[0]
            members, rels = members[1:], rels[1:]
        elif k > 1 and prev is not None and members:
            if not _same(prev, members[0]):
                r.links.append(Link(k, prev, "=", members[0], note=f"between steps {k - 1} and {k}: "
                                    "the step starts from another expression"))
        if r.first is None and k == 1 and members and not r.named:
            r.first = members[0]
        for i, rel in enumerate(rels):
            r.links.append(Link(k, members[i], rel, members[i + 1]))
            r.relation = compose(r.relation, rel)
        prev = members[-1] if members else prev
    r.last = prev
    for link in r.links:
        link.text = " ".join(steps[link.step - 1].split())
    return r


def _is_label(member, labels) -> bool:
    try:
        return member is not None and any(member == l for l in labels)
    except Exception:
        return False


def _same(a, b) -> bool:
    try:
        return a == b
    except Exception:
        return False


def check_chain(slot_id: str | None, steps, seed: int = 0, symbolic_seconds: float = 2.0,
                factors=None) -> dict:
    """The chain's verdict in the JSON shape of a single answer, plus ``chain`` details.

    ``slot_id=None`` checks a chain about densities without a slot (``factors``: trusted
    densities fixing the models' factorisation); its final expression is then not graded.
    """
    started = time.perf_counter()
    steps = list(steps)
    slot = registry.get_slot(slot_id) if slot_id is not None else None
    scope = _scope(slot)
    reading = read_chain(steps, scope, slot)
    for link in reading.links:
        if link.lhs is None:
            link.evidence = _named(slot, link, seed, symbolic_seconds)
        else:
            link.evidence = _sides(links.check_link(slot, link.lhs, link.rel, link.rhs, factors, seed,
                                                    symbolic_seconds))
    final = _final(slot, reading, seed, symbolic_seconds)
    if final is not None:
        final.pop("seconds", None)      # timings vary between runs; results must not
    return _verdict(slot_id or "", steps, reading, final, time.perf_counter() - started)


def _scope(slot):
    if slot is None:
        from ..latex.scope import build, density_mode
        return density_mode(build())
    from ..grading.core import scope_for
    return scope_for(slot)


def _named(slot, link, seed, symbolic_seconds) -> Evidence:
    """``L(x) = B`` as a first step: B must be the slot's quantity (like a single answer)."""
    if slot is None:
        return Evidence(Status.UNCHECKED, Kind.NONE, "the left side names a quantity, and there is no slot "
                        "to say what it is")
    if slot.kind == "relation" or link.rel != "=":
        return Evidence(Status.UNCHECKED, Kind.NONE, "the left side is a label, not an expression")
    from ..grading.core import decide
    return decide(slot, link.rhs, seed, symbolic_seconds)


def _final(slot, reading: Reading, seed, symbolic_seconds) -> dict | None:
    """The chain's end graded against the slot, as an answer dict (None without a slot)."""
    from ..grading import core, grade_relation, mutations
    from ..grading.result import AnswerResult
    from ..grading.show import latex as show
    from ..limits import CheckTimeout, time_limit
    if slot is None:
        return None
    started = time.perf_counter()
    if reading.unreadable or reading.last is None:
        return AnswerResult(slot.id, "invalid", "none", "", "not graded: a step could not be read").as_dict()
    try:
        if slot.kind == "relation":
            if reading.first is None or reading.relation is None:
                why = "the chain's relations point both ways" if reading.relation is None else \
                    "the chain does not start from an expression"
                return AnswerResult(slot.id, "invalid", "none", "", f"not an answer: {why}").as_dict()
            return grade_relation(slot.id, reading.first, reading.relation, reading.last, seed,
                                  symbolic_seconds).as_dict()
        if reading.relation != "=":
            bound = _as_bound(slot, reading, seed, symbolic_seconds)
            if bound is not None:
                return bound
            what = "relations point both ways" if reading.relation is None else \
                f"{_SHOW_REL[reading.relation]} links its start and its end"
            return AnswerResult(slot.id, "unchecked", "none", "", f"not checked: the chain's {what}, so its "
                                "last expression is a bound, not the slot's quantity",
                                parsed_latex=show(reading.last)).as_dict()
        ev = core.decide(slot, reading.last, seed, symbolic_seconds)
    except CheckTimeout:
        ev = Evidence(Status.UNCHECKED, Kind.NONE, "the final check ran out of time")
    parsed = show(reading.last)
    if ev.status is Status.PROVED:
        return AnswerResult(slot.id, "correct", ev.kind.value, ev.detail, f"correct: {ev.detail}", None,
                            None, parsed).as_dict()
    if ev.status is Status.REFUTED:
        mistake, hint = None, ""
        if not ev.extra.get("no_diagnosis"):
            try:
                with time_limit(core.DIAGNOSIS_SECONDS):
                    mistake, hint = mutations.diagnose(slot, reading.last, seed)
            except CheckTimeout:
                pass
            except Exception:
                pass
        counter = _plain(ev.counterexample)
        return AnswerResult(slot.id, "wrong", ev.kind.value, ev.detail,
                            f"wrong: {ev.detail}" + (f"; {hint}" if hint else ""), mistake, counter,
                            parsed).as_dict()
    return AnswerResult(slot.id, "unchecked", ev.kind.value, ev.detail, f"not checked: {ev.detail}",
                        None, None, parsed).as_dict()


_FLIP = {"<=": ">=", ">=": "<=", "<": ">", ">": "<"}


def _as_bound(slot, reading: Reading, seed, symbolic_seconds) -> dict | None:
    r"""A slot whose statement makes its quantity a bound (``L(x) = E[...] \le \log p(x)``),
    answered by a chain from the other side down to the quantity (``\log p(x) = ... \ge E[...]``)
    or from the quantity up to it: one end must be the slot's quantity, the other the statement's
    other side, and the chain's relation the statement's (either orientation). None when the chain
    is not of that shape (it is then left for a person, as any bound for a value slot)."""
    from ..grading import core
    from ..grading.result import AnswerResult
    from ..grading.show import latex as show
    spec = statement_bound(slot)
    if spec is None or reading.relation not in _FLIP or reading.first is None:
        return None
    rel, other = spec
    # the statement reads "quantity rel other"; the chain "first R last"
    if reading.relation == _FLIP[rel] or reading.relation.rstrip("=") == _FLIP[rel].rstrip("="):
        quantity, far = reading.last, reading.first       # other >= ... >= quantity
    elif reading.relation == rel or reading.relation.rstrip("=") == rel.rstrip("="):
        quantity, far = reading.first, reading.last       # quantity <= ... <= other
    else:
        return None
    side = links.check_link(slot, far, "=", other, None, seed, symbolic_seconds)
    if side.status is not Status.PROVED:
        return None
    ev = core.decide(slot, quantity, seed, symbolic_seconds)
    parsed = show(quantity)
    word = f"{show(far)} {_SHOW_REL[reading.relation if quantity is reading.last else _FLIP[reading.relation]]}"
    if ev.status is Status.PROVED:
        kind = max((ev.kind, side.kind), key=_WEAKER.get)
        return AnswerResult(slot.id, "correct", kind.value, ev.detail, f"correct: the chain bounds the "
                            f"slot's quantity as its statement does ({word} the quantity); {ev.detail}", None,
                            None, parsed).as_dict()
    if ev.status is Status.REFUTED:
        return AnswerResult(slot.id, "wrong", ev.kind.value, ev.detail, f"wrong: the bounded end of the chain "
                            f"is not the slot's quantity: {ev.detail}", None, _plain(ev.counterexample),
                            parsed).as_dict()
    return None


def _verdict(slot_id, steps, reading: Reading, final: dict | None, seconds: float) -> dict:
    ls = reading.links
    # steps that claim something (a bare starting expression claims nothing and earns nothing)
    unreadable = {k for k, _, _ in reading.unreadable}
    claiming = sorted({l.step for l in ls} | unreadable)
    bad_steps = unreadable | {l.step for l in ls if l.evidence.status is not Status.PROVED}
    valid_prefix = 0
    for k in claiming:
        if k in bad_steps:
            break
        valid_prefix += 1
    refuted = [l for l in ls if l.evidence.status is Status.REFUTED]
    open_ = [l for l in ls if l.evidence.status in (Status.UNCHECKED, Status.ERROR)]
    first_bad = refuted[0] if refuted else None
    detail = {"steps": len(steps), "claiming_steps": len(claiming), "links": [l.as_dict() for l in ls], "links_total": len(ls),
              "valid_prefix_steps": valid_prefix, "first_invalid_step": first_bad.step if first_bad else None,
              "unchecked_steps": sorted({l.step for l in open_}),
              "unreadable_steps": [{"step": k, "message": m} for k, m, _ in reading.unreadable],
              "relation": reading.relation, "final": final}
    final_word = ""
    if final is not None:
        final_word = {"correct": "the final expression is right", "wrong": "the final expression is wrong",
                      "invalid": "the final expression is not graded",
                      "unchecked": "the final expression could not be checked"}[final["verdict"]]
    parsed = _shown(reading)
    out = {"slot": slot_id, "mistake": None, "counterexample": None, "parsed_latex": parsed,
           "seconds": round(seconds, 4), "chain": detail}
    if first_bad is not None:
        ev = first_bad.evidence
        # steps before it that were not read or not decided: the refuted step is the first one
        # *shown* invalid, and the student is told what came before it unjudged
        before = sorted(k for k in unreadable | {l.step for l in open_} if k < first_bad.step)
        earlier = ""
        if before:
            what = "could not be read" if set(before) <= unreadable else "could not be read or decided"
            earlier = f"; before it, step{'s' if len(before) > 1 else ''} {', '.join(map(str, before))} {what}"
        out.update(verdict="wrong", mistake="invalid-step", counterexample=_plain(ev.counterexample),
                   evidence={"kind": ev.kind.value, "detail": ev.detail},
                   message=f"wrong: step {first_bad.step} is invalid ({ev.detail})" + earlier
                   + (f"; {final_word}" if final_word else ""))
        return out
    hard = [(k, m) for k, m, limit in reading.unreadable if not limit]
    if hard:
        k, m = hard[0]
        out.update(verdict="invalid", evidence={"kind": "none", "detail": ""},
                   message=f"not an answer: step {k} cannot be read: {m}")
        return out
    if reading.unreadable or open_:
        where = sorted({l.step for l in open_} | {k for k, _, _ in reading.unreadable})
        why = open_[0].evidence.detail if open_ else reading.unreadable[0][1]
        out.update(verdict="unchecked", evidence={"kind": "none", "detail": why},
                   message=f"not checked: step{'s' if len(where) > 1 else ''} {', '.join(map(str, where))} "
                   f"could not be decided ({why}); a person must review"
                   + (f"; {final_word}" if final_word else ""))
        return out
    kinds = [l.evidence.kind for l in ls]
    if final is None:
        kind = max(kinds, key=_WEAKER.get) if kinds else Kind.NONE
        out.update(verdict="unchecked", evidence={"kind": kind.value, "detail": "every step holds"},
                   message=f"every step holds ({_links(ls)}); no slot, so the result is not graded")
        return out
    fkind = Kind(final["evidence"]["kind"])
    kind = max(kinds + [fkind], key=_WEAKER.get)
    out.update(verdict=final["verdict"], mistake=final["mistake"], counterexample=final["counterexample"],
               evidence={"kind": kind.value if final["verdict"] == "correct" else fkind.value,
                         "detail": final["evidence"]["detail"]},
               message=f"every step holds ({_links(ls)}); {final['message']}")
    return out


def _links(ls) -> str:
    return f"{len(ls)} link{'s' if len(ls) != 1 else ''} checked"


def _shown(reading: Reading) -> str:
    from ..grading.show import latex as show
    parts = []
    for l in reading.links:
        if not parts:
            parts.append(QUANTITY if l.lhs is None else show(l.lhs))
        parts.append(f"{_SHOW_REL[l.rel]} {show(l.rhs)}")
    return " ".join(parts)
