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
from ..latex.lexer import CONNECTIVES
from . import links

_SHOW_REL = {"=": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">", "~": r"\approx"}
_WEAKER = {Kind.SYMBOLIC: 0, Kind.SYMBOLIC_FAMILY: 1, Kind.EXACT_NUMERIC: 2, Kind.MONTE_CARLO: 3, Kind.NONE: 4}
QUANTITY = r"\text{(the slot's quantity)}"


def compose(a: str | None, b: str) -> str | None:
    """The relation of a chain ``x a y b z`` between x and z (None when directions mix)."""
    if a is None:
        return None
    if "~" in (a, b):                  # an approximation anywhere: the chain only approximates
        return "~"
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
    remark: str = ""               # what the student said about the step (\text{Jensen}), not checked
    upto: bool = False             # a side carried "+ const": claimed equal up to an additive constant
    label: object = None           # the left side as read, where it names the slot's quantity

    def claim(self) -> str:
        from ..grading.show import latex as show
        left = QUANTITY if self.lhs is None else show(self.lhs)
        return f"{left} {_SHOW_REL[self.rel]} {show(self.rhs)}"

    def as_dict(self) -> dict:
        ev = self.evidence
        return {"step": self.step, "text": self.text, "claim": self.claim() + (r" + \text{const}" if self.upto else ""),
                "relation": self.rel, "note": self.note, "remark": self.remark,
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
    orphans: set = field(default_factory=set)          # steps continuing from an unreadable one
    first: object = None
    last: object = None
    relation: str | None = "="
    named: bool = False
    remarks: list = field(default_factory=list)        # steps of words only
    definitions: list = field(default_factory=list)    # steps that define a new name
    context: object = None                             # derivation.Context: the definitions


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
    r"""Names the slot's statement gives its quantity on the left (``l_3(\theta) = ...``): a step
    starting ``l_3(\theta) = ...`` names the quantity, it does not claim an identity about a free
    symbol. Only bare names count (a symbol), never an expression such as log p(X) - ELBO."""
    from sympy.core.function import AppliedUndef
    from ..grading.derivation import QUANTITY_NAMES
    out = set()
    chain = _statement(slot)
    if chain is not None and chain.relations and chain.relations[0] == "=":
        first = chain.members[0]
        if isinstance(first, (sp.Symbol, AppliedUndef)):
            out.add(first)
    # the names declared for the slot's quantity (trusted text): any expression (\log p(X))
    for text in ([] if slot is None else QUANTITY_NAMES.get(slot.id, [])):
        try:
            named = parse(text, _scope(slot))
        except Exception:
            continue
        if len(named.members) == 1 and isinstance(named.members[0], sp.Basic):
            out.add(named.members[0])
    return out


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


# --------------------------------------------------------------------------------------------
# A step as students write it: the mathematics, and what is said about it.
#
# Only text is moved here, never read as mathematics: the parser reads what is left. It is used
# only when a step as written cannot be read, so a step the parser reads is never changed.

_TEXT_CMDS = {"text", "textrm", "textit", "textbf", "textsf", "mbox", "emph", "textnormal"}
_WIDE = {"quad", "qquad", "hfill", "hspace", "hspace*"}
_SPACING = {",", ";", ":", "!", " ", "quad", "qquad", "thinspace", "enspace"}
_OVER = {"overset", "stackrel", "underset"}
_RELATION_CMDS = {"le", "leq", "leqslant", "ge", "geq", "geqslant", "lt", "gt", "approx", "simeq", "equiv",
                  "coloneqq", "triangleq"}
_OPERATOR_CMDS = _RELATION_CMDS | {"cdot", "times", "pm", "mp", "div", "left", "right", "middle", "big", "Big",
                                   "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "frac", "tfrac", "dfrac",
                                   "sqrt", "log", "ln", "exp", "sum", "prod", "int", "iint", "nabla", "partial",
                                   "mathbb", "mathrm", "operatorname", "mathcal", "min", "max", "inf", "sup",
                                   "lvert", "lVert", "langle", "mid", "|"}
_CONNECTIVE_WORDS = {"so", "hence", "thus", "therefore", "then", "i.e.", "ie", "and", "which", "gives",
                     "we", "get", "obtain", "finally"}
_APPROX = {"approx", "simeq", "thickapprox"}
_CONSTANT_WORDS = {"const", "const.", "constant", "cst", "cte", "cst.", "cte."}


@dataclass
class StepText:
    pieces: list                      # the mathematics, split at \approx
    remarks: list = field(default_factory=list)
    constant: bool = False            # "+ \text{const}" was set aside


def _command(text: str, i: int):
    """(name, end) of the command starting at text[i] == '\\'."""
    j = i + 1
    if j < len(text) and text[j].isalpha():
        while j < len(text) and text[j].isalpha():
            j += 1
        if j < len(text) and text[j] == "*" and text[i + 1:j] in ("hspace", "tag", "operatorname"):
            j += 1
        return text[i + 1:j], j
    return (text[j] if j < len(text) else ""), min(j + 1, len(text))


def _group(text: str, i: int):
    """(content, end) of the ``{...}`` group starting at or after text[i] (spaces skipped); a single
    token when there is no brace; None when nothing is there or a brace is never closed."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return None
    if text[i] != "{":
        if text[i] == "\\":
            _, end = _command(text, i)
            return text[i:end], end
        return text[i], i + 1
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "\\":
            continue
        if text[j] == "{" and (j == 0 or text[j - 1] != "\\"):
            depth += 1
        elif text[j] == "}" and text[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
    return None


def _words(content: str) -> str:
    """The words of a remark, its markup dropped: ``\\text{by } (\\text{Jensen})`` -> ``by (Jensen)``."""
    out, i = [], 0
    while i < len(content):
        c = content[i]
        if c == "\\":
            name, end = _command(content, i)
            if name in _TEXT_CMDS or name in ("mathrm", "operatorname", "textup"):
                g = _group(content, end)
                if g is not None:
                    out.append(_words(g[0]))
                    i = g[1]
                    continue
            out.append(" " if name in _SPACING else name)
            i = end
            continue
        if c not in "{}$&":
            out.append(c)
        i += 1
    return " ".join("".join(out).split())


def _tokens(text: str):
    """Top-level tokens: (kind, value, start, end, depth) with kind 'cmd', 'char' or 'group'
    (a braced group as one token); depth counts open \\begin environments."""
    out, i, env = [], 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            name, end = _command(text, i)
            if name in ("begin", "end"):
                g = _group(text, end)
                end = g[1] if g else end
                if name == "end":
                    env = max(env - 1, 0)
                out.append(("cmd", name, i, end, env))
                if name == "begin":
                    env += 1
                i = end
                continue
            out.append(("cmd", name, i, end, env))
            i = end
        elif c == "{":
            g = _group(text, i)
            end = g[1] if g else len(text)
            out.append(("group", text[i:end], i, end, env))
            i = end
        elif c.isspace():
            i += 1
        else:
            out.append(("char", c, i, i + 1, env))
            i += 1
    return out


def _is_operand_end(tok) -> bool:
    """Does this token end an operand (a remark that follows it is not a factor of anything)?"""
    kind, value = tok[0], tok[1]
    if kind == "group":
        return True
    if kind == "char":
        return value.isalnum() or value in ")]|!'"
    return value not in _OPERATOR_CMDS and value not in _SPACING and value not in _WIDE


def _text_at(toks, n) -> bool:
    """Is tokens[n] a text command, or an opening bracket directly followed by one?"""
    if n >= len(toks):
        return False
    kind, value = toks[n][0], toks[n][1]
    if kind == "cmd" and (value in _TEXT_CMDS or value in ("because", "since")):
        return True
    if kind == "char" and value in "([" and n + 1 < len(toks):
        return toks[n + 1][0] == "cmd" and toks[n + 1][1] in _TEXT_CMDS
    return False


def _cut_remark(text: str, remarks: list) -> str:
    """Cut what is said about the step from where it starts: a wide space (``\\quad``) followed by
    words, or words (``\\text{...}``, ``(\\text{...})``, ``\\because``) right after a complete
    operand. Only outside environments (``cases`` keeps its ``\\text{if}``)."""
    toks = _tokens(text)
    for n, tok in enumerate(toks):
        kind, value, start, _, env = tok
        if env:
            continue
        if kind == "cmd" and value in _WIDE:
            m = n + 1
            while m < len(toks) and toks[m][0] == "cmd" and (toks[m][1] in _SPACING or toks[m][1] in _WIDE):
                m += 1
            if m < len(toks) and toks[m][0] == "group" and value.startswith("hspace"):
                m += 1
            if _text_at(toks, m):
                remarks.append(" ".join(text[toks[m][2]:].split()))
                return text[:start]
        if _text_at(toks, n) and n > 0:
            prev = n - 1
            while prev >= 0 and toks[prev][0] == "cmd" and toks[prev][1] in _SPACING:
                prev -= 1
            if prev >= 0 and _is_operand_end(toks[prev]) and not (kind == "cmd" and value in _TEXT_CMDS
                                                                  and _is_name_use(toks, n)):
                remarks.append(" ".join(text[start:].split()))
                return text[:start]
    return text


def _is_name_use(toks, n) -> bool:
    """``\\text{KL}(q \\| p)``, ``\\text{JS}_{...}``: a word used as a name, not a remark."""
    m = n + 1
    if m < len(toks) and toks[m][0] == "group":
        m += 1
    return m < len(toks) and toks[m][0] == "char" and toks[m][1] in "(_^"


def _unstack(text: str, remarks: list) -> str:
    r"""``\overset{\text{Jensen}}{\ge}`` -> ``\ge`` (the label kept as a remark)."""
    for _ in range(8):
        toks = _tokens(text)
        hit = next((t for t in toks if t[0] == "cmd" and t[1] in _OVER), None)
        if hit is None:
            return text
        a = _group(text, hit[3])
        b = _group(text, a[1]) if a else None
        if b is None:
            return text
        rel = b[0].strip()
        inner = _unstack(rel, remarks) if any(f"\\{o}" in rel for o in _OVER) else rel
        name = inner[1:] if inner.startswith("\\") else ""
        if not (inner in ("=", "<", ">") or name in _RELATION_CMDS):
            return text
        remarks.append(" ".join(a[0].split()))
        text = text[:hit[2]] + " " + inner + " " + text[b[1]:]
    return text


def _drop_commands(text: str) -> str:
    r"""``\tag{3}``, ``\label{..}``, ``\nonumber``: numbering, not mathematics."""
    out, last = [], 0
    for kind, value, start, end, _ in _tokens(text):
        if kind == "cmd" and value in ("tag", "tag*", "label", "nonumber", "notag", "hfill"):
            stop = end
            if value in ("tag", "tag*", "label"):
                g = _group(text, end)
                stop = g[1] if g else end
            out.append(text[last:start] + " ")
            last = stop
    return "".join(out) + text[last:]


def _lead_in(text: str, remarks: list) -> str:
    r"""``\Rightarrow``, ``\therefore``, ``\text{so}`` opening a step: a connective, not mathematics."""
    for _ in range(4):
        s = text.lstrip(" &")
        toks = _tokens(s)
        if not toks:
            return s
        kind, value, _, end, _ = toks[0]
        if kind == "cmd" and value in CONNECTIVES:
            text = s[end:]
            continue
        if kind == "cmd" and value in _TEXT_CMDS:
            g = _group(s, end)
            words = _words(g[0]).strip(" ,.:").lower().split() if g else []
            if g and words and all(w.strip(",.:") in _CONNECTIVE_WORDS for w in words):
                remarks.append(" ".join(g[0].split()))
                text = s[g[1]:]
                continue
        return s
    return text


def _trailing(text: str) -> str:
    r"""A row break ``\\`` or an alignment mark left at the end of a step."""
    s = text.rstrip()
    while True:
        t = s.rstrip(" &")
        if t.endswith("\\\\"):
            t = t[:-2].rstrip()
        if t.endswith(",") or t.endswith(".") and not t.endswith("\\."):
            t = t[:-1].rstrip()
        if t == s:
            return s
        s = t


def _constant(text: str) -> tuple[str, bool]:
    r"""``... + \text{const}``: the additive constant set aside (the links it touches are checked
    only as "equal up to a constant")."""
    toks = _tokens(text)
    cuts = []
    for n, (kind, value, start, end, env) in enumerate(toks):
        if kind != "char" or value not in "+-" or env or n + 1 >= len(toks):
            continue
        nxt = toks[n + 1]
        if nxt[0] == "cmd" and nxt[1] in _TEXT_CMDS | {"mathrm", "operatorname"}:
            g = _group(text, nxt[3])
            if g and _words(g[0]).lower() in _CONSTANT_WORDS:
                cuts.append((start, g[1]))
    for start, stop in reversed(cuts):
        text = text[:start] + " " + text[stop:]
    return text, bool(cuts)


def _split_approx(text: str) -> list:
    toks = _tokens(text)
    cuts = [(s, e) for kind, v, s, e, env in toks if kind == "cmd" and v in _APPROX and not env]
    pieces, last = [], 0
    for s, e in cuts:
        pieces.append(text[last:s])
        last = e
    pieces.append(text[last:])
    return pieces


def prepare_step(text: str) -> StepText:
    """The step's mathematics and what is said about it (remarks, ``+ const``, ``\\approx``)."""
    remarks: list = []
    s = _unstack(text, remarks)
    s = _drop_commands(s)
    s = _lead_in(s, remarks)
    s = _cut_remark(s, remarks)
    s = s.replace("\\equiv", "=")
    s, constant = _constant(s)
    s = _trailing(s)
    return StepText([p for p in _split_approx(s)], [r for r in remarks if r], constant)


def read_chain(steps, scope, slot, ctx=None) -> Reading:
    r"""Read every line of a derivation (nothing is checked yet). Each line is its own statement;
    a line that opens with a relation (``= C``, ``\le D``) continues the previous one. A line
    ``NAME = ...`` whose NAME is new (unknown to the slot, not defined before) is a definition:
    it claims nothing and NAME is read in the lines after it. A line of words is a remark."""
    from ..grading.derivation import Context, derivation_scope
    r = Reading()
    ctx = ctx if ctx is not None else Context(slot, derivation_scope(slot, scope))
    r.context = ctx
    prev = None
    labels = slot_labels(slot)
    quantity_key = _statement_key(slot)
    prev_constant = False
    for k, text in enumerate(steps, start=1):
        if _is_remark(text) or _is_condition(text):
            r.remarks.append(k)
            continue
        said = _introduced(text)
        if said is not None:
            # "\text{Let } r = \frac{\sigma}{\sigma_z}": a definition when r is new; otherwise a
            # condition on a known name, which claims nothing and is no premise (a remark)
            if not _define_line(said, ctx, k, steps, quantity_key, slot):
                r.remarks.append(k)
            else:
                r.definitions.append(k)
            continue
        try:
            chains, said = _read_line(text, ctx.scope)
        except DimensionError as exc:
            r.unreadable.append((k, f"dimension mismatch: {exc}", False))
            prev = None
            continue
        except LimitError as exc:
            r.unreadable.append((k, str(exc), True))
            prev = None
            continue
        except LatexError as exc:
            if _wordy(text):            # words around a symbol, no relation: a remark
                r.remarks.append(k)
                continue
            r.unreadable.append((k, str(exc), False))
            prev = None
            continue
        first_link = len(r.links)
        for chain in chains:
            members, rels = list(chain.members), list(chain.relations)
            if any(isinstance(m, sp.Basic) and getattr(m, "is_Relational", False) for m in members if m is not None):
                r.unreadable.append((k, "a relation inside a member", False))
                prev = None
                break
            # "= C": the parser leaves the first member to us (no label was tried, so no label error)
            lead = rels[0] if members and members[0] is None and rels and not chain.label_error else None
            named_as = None
            if lead is None and len(members) > 1 and (_is_label(members[0], labels)
                                                       or _names_quantity(slot, members[0])):
                named_as = members[0]
                members[0] = None           # "l_3(\theta) = ...": the slot's own name for its quantity
            if lead is not None:
                members, rels = members[1:], rels[1:]
                if k == 1 or prev is None:
                    why = "the first step continues from nothing" if k == 1 else \
                        "it continues from a step that could not be read"
                    r.unreadable.append((k, why, k > 1))
                    if k > 1:
                        r.orphans.add(k)
                    prev = members[-1] if members else None
                    for i, rel in enumerate(rels):
                        r.links.append(Link(k, members[i], rel, members[i + 1]))
                    continue
                r.links.append(Link(k, prev, lead, members[0]))
                if prev_constant:
                    r.links[-1].upto = True     # it continues from an expression "+ const"
                r.relation = compose(r.relation, lead)
            elif members and members[0] is None:
                if len(members) < 2:
                    r.unreadable.append((k, "nothing after the label", False))
                    continue
                named = _names_statement(text, slot, quantity_key)
                name = None if named else _definition_name(text, chain, rels, quantity_key, k, steps)
                if name is not None and ctx.define(name, members[1], k) is not None:
                    r.definitions.append(k)          # a new name: a definition, no claim
                    prev = members[-1]
                    continue
                if chain.label_error and not named and slot is not None:
                    # a left side that could not be read and is not the slot's own name for its
                    # quantity: the step cannot be checked (never compared with the quantity)
                    r.unreadable.append((k, f"the left side could not be read ({chain.label_error})", True))
                    prev = members[-1]
                    continue
                r.links.append(Link(k, None, rels[0], members[1], note="its left side names the slot's quantity",
                                    label=named_as))
                r.named = r.named or k == 1
                if k == 1:
                    r.relation = rels[0]
                members, rels = members[1:], rels[1:]
            if r.first is None and k == 1 and members and not r.named:
                r.first = members[0]
            for i, rel in enumerate(rels):
                r.links.append(Link(k, members[i], rel, members[i + 1]))
                r.relation = compose(r.relation, rel)
            prev = members[-1] if members else prev
        mine = r.links[first_link:]
        if said is not None:
            for link in mine:
                link.remark = "; ".join(said.remarks)
                link.upto = link.upto or said.constant
        prev_constant = bool(said is not None and said.constant)
    r.last = prev
    for link in r.links:
        link.text = " ".join(steps[link.step - 1].split())
    return r


def _names_quantity(slot, member) -> bool:
    r"""``f_\theta(x_t) = ...``: a left side that applies a function the slot's reference does not
    use names the slot's quantity (``core.is_label``); only function applications count here."""
    from sympy.core.function import AppliedUndef
    if slot is None or not isinstance(member, AppliedUndef):
        return False
    from ..grading.core import is_label
    try:
        return is_label(slot, member)
    except Exception:
        return False


def _statement_key(slot):
    """The key of the name the slot's statement gives its quantity (``f(t)`` -> f), or None."""
    from ..grading.derivation import top_level_split
    from ..latex.names import key_of_latex
    if slot is None or not slot.latex:
        return None
    head = top_level_split(slot.latex)[0][0].strip()
    head = head.split("(")[0].strip()
    try:
        return key_of_latex(head)
    except Exception:
        return None


def _names_statement(text, slot, quantity_key) -> bool:
    r"""Is the unreadable left side of ``text`` the slot's own name for its quantity: the statement's
    left side as written, or a call of the statement's name (``f(t)`` for f)?"""
    from ..grading.derivation import top_level_split
    from ..latex.names import key_of_latex
    from ..grading.derivation import names_quantity_text
    said = prepare_step(text)
    head = top_level_split((said.pieces[0] if said.pieces else text).strip().lstrip("&"))[0][0]
    norm = "".join(head.split())
    if slot is not None and slot.latex and norm == "".join(top_level_split(slot.latex)[0][0].split()):
        return True
    if names_quantity_text(slot, _lead_in(head, [])):
        return True
    name = head.split("(")[0].strip()
    try:
        return quantity_key is not None and "(" in head and key_of_latex(name) == quantity_key
    except Exception:
        return False


def _definition_name(text, chain, rels, quantity_key, k, steps):
    r"""The new name a line ``NAME = ...`` defines, or None when its left side is a label of the
    slot's quantity (``f(t) = ...``, the statement's own name, or a first line whose name is
    never used again) or not a bare name."""
    from ..grading.derivation import top_level_split
    from ..latex.names import key_of_latex
    if rels[:1] != ["="] or len(chain.members) != 2:
        return None
    said = prepare_step(text)
    body = said.pieces[0] if said.pieces else text
    head = top_level_split(body)[0][0].strip().lstrip("&").strip()
    if not head or "(" in head or "\\left" in head:
        return None
    try:
        key = key_of_latex(head)
    except Exception:
        return None
    if key is None or key == quantity_key:
        return None
    later = " ".join(steps[k:])
    if k == 1 and head not in later:
        return None
    return head


def _is_remark(text: str) -> bool:
    r"""A line of words only (``\text{Setting the derivative to zero:}``): a remark, no claim."""
    if not isinstance(text, str):
        return False
    toks = _tokens(text)
    if not toks:
        return False
    saw_words = False
    for kind, value, _, _, env in toks:
        if env:
            return False
        if kind == "cmd" and (value in _TEXT_CMDS or value in _SPACING or value in _WIDE
                              or value in ("because", "since", "therefore", "Rightarrow", "implies")):
            saw_words = saw_words or value in _TEXT_CMDS
            continue
        if kind == "group" and saw_words:
            continue
        if kind == "char" and value in ".,:;&$":
            continue
        return False
    return saw_words


_INTRODUCING_WORDS = {"let", "write", "define", "denote", "put", "call"}


def _introduced(text: str):
    r"""The rest of a line that opens with a word introducing notation (``	ext{Let } r = ...``,
    ``	ext{Write } ...``), or None."""
    if not isinstance(text, str):
        return None
    s = text.lstrip(" &")
    toks = _tokens(s)
    if len(toks) < 2 or toks[0][0] != "cmd" or toks[0][1] not in _TEXT_CMDS:
        return None
    g = _group(s, toks[0][3])
    words = _words(g[0]).strip(" ,.:").lower().split() if g else []
    if not words or words[0] not in _INTRODUCING_WORDS or len(words) > 2:
        return None
    return s[g[1]:]


def _define_line(text: str, ctx, k, steps, quantity_key, slot) -> bool:
    """``NAME = expr`` with NAME new: defined in ``ctx`` (True); anything else: False."""
    from ..grading.derivation import top_level_split
    body = _trailing(text.strip())
    pieces = top_level_split(body)
    if len(pieces) != 2 or pieces[0][1] != "=" or not pieces[1][0].strip():
        return False
    if _names_statement(body, slot, quantity_key):
        return False
    try:
        chain = parse(body, ctx.scope)
    except LatexError:
        return False
    if len(chain.members) != 2 or chain.relations != ["="] or chain.members[1] is None:
        return False
    if chain.members[0] is not None and not chain.label_error:
        return False                    # a name the slot or the derivation already knows
    name = pieces[0][0].strip()
    return ctx.define(name, chain.members[1], k) is not None


_CONDITION_WORDS = {"with", "for", "at", "setting", "set", "assume", "assuming", "when", "if", "taking", "put",
                    "putting", "plug", "plugging", "evaluate", "evaluating"}


def _is_condition(text: str) -> bool:
    r"""``\text{with } \sigma_t = 0:``: a line that opens with a word of condition states where the
    next lines are taken; it claims nothing (read as a remark, not used as a premise)."""
    if not isinstance(text, str):
        return False
    toks = _tokens(text.lstrip(" &"))
    if len(toks) < 2 or toks[0][0] != "cmd" or toks[0][1] not in _TEXT_CMDS:
        return False
    g = _group(text.lstrip(" &"), toks[0][3])
    words = _words(g[0]).strip(" ,.:").lower().split() if g else []
    return bool(words) and words[0] in _CONDITION_WORDS


def _wordy(text: str) -> bool:
    """Words (a text command) and no top-level relation: a sentence mentioning symbols."""
    from ..grading.derivation import top_level_split
    if not isinstance(text, str) or not any(f"\\{c}" in text for c in _TEXT_CMDS):
        return False
    return len(top_level_split(text)) == 1


def _read_line(text: str, scope):
    r"""A line as statements (chains): evaluation bars read by ``derivation``; otherwise the whole
    line by the answer reader (``parse_answer``: several statements split at a top-level comma,
    ``;`` or ``\quad``, conditions set aside), falling back to the step reader (remarks,
    ``+ const``, ``\approx``)."""
    from ..grading.derivation import has_bar
    from ..latex import parse_answer
    if has_bar(text):
        return [_read_bars(text, scope)], None
    try:
        answer = parse_answer(text, scope, continuation=True)
        if answer.statements:
            said = prepare_step(text)        # what is said about the step, kept as its remark
            return list(answer.statements), StepText([text], said.remarks, False)
    except (DimensionError, LimitError):
        raise
    except LatexError:
        pass
    chain, said = _read_step(text, scope)
    return [chain], said


def _read_bars(text: str, scope):
    r"""A line with evaluation bars: split at its top-level relations, each member read alone and
    a member ending in ``\Big|_{x = a}`` evaluated there."""
    from ..grading.derivation import bar_at, substitute_bar, top_level_split
    from ..latex import Chain
    said = prepare_step(text)
    body = said.pieces[0] if len(said.pieces) == 1 else text
    pieces = top_level_split(body.strip().lstrip("&"))
    members, rels, label_error = [], [], ""
    for n, (piece, rel) in enumerate(pieces):
        if not piece.strip():
            if n == 0 and rel is not None:
                members.append(None)
                rels.append(rel)
                continue
            raise LatexError("a relation with nothing on one side")
        found = bar_at(piece)
        try:
            if found is not None:
                value = substitute_bar(parse(found[0], scope).members[-1], found[1], scope)
            else:
                chain = parse(piece, scope)
                if chain.relations:
                    raise LatexError("a relation inside a member")
                value = chain.members[0]
        except (DimensionError, LimitError):
            raise
        except LatexError as exc:
            if n == 0 and rel == "=" and found is None:
                members.append(None)          # a label such as f(t) the reader does not know
                label_error = str(exc)
                rels.append(rel)
                continue
            raise
        members.append(value)
        if rel is not None:
            rels.append(rel)
    return Chain(members, rels, label_error)


def _read_step(text: str, scope):
    """The step parsed as written; when that fails, its mathematics without what is said about it
    (``prepare_step``): remarks, numbering, a leading connective, ``+ const``, ``\approx`` (the
    relation ``~``). A step that still cannot be read reports the error of the step as written."""
    try:
        return parse(text, scope, continuation=True), None
    except (DimensionError, LimitError):
        raise
    except LatexError as exc:
        said = prepare_step(text)
        if said.pieces == [text] and not said.remarks and not said.constant:
            raise
        try:
            return _join(said, scope), said
        except (DimensionError, LimitError):
            raise
        except LatexError as again:
            if said.pieces == [text]:
                raise exc from None
            raise (exc if len(said.pieces) == 1 else again) from None


def _join(said: StepText, scope):
    from ..latex import Chain
    first = said.pieces[0]
    if first.strip():
        chain = parse(first, scope, continuation=True)
        members, rels, label_error = list(chain.members), list(chain.relations), chain.label_error
    else:
        members, rels, label_error = [None], [], ""        # "\approx C": continues the step before
    for piece in said.pieces[1:]:
        if not piece.strip():
            raise LatexError("\\approx must stand between two expressions")
        chain = parse(piece, scope)
        if chain.members[0] is None:
            raise LatexError(f"after \\approx: {chain.label_error or 'nothing to read'}")
        rels.append("~")
        members += list(chain.members)
        rels += list(chain.relations)
    return Chain(members, rels, label_error)


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
    steps = _rows(steps)
    slot = registry.get_slot(slot_id) if slot_id is not None else None
    scope = _scope(slot)
    reading = read_chain(steps, scope, slot)
    for link in reading.links:
        link.evidence = _in_context(slot, link, reading.context, factors, seed, symbolic_seconds)
        if link.rel == "~" or link.upto:
            link.evidence = _weaker_claim(link, link.evidence)
    reading.relation = _composed(reading)
    final = _final(slot, reading, seed, symbolic_seconds)
    if final is not None:
        final.pop("seconds", None)      # timings vary between runs; results must not
    return _verdict(slot_id or "", steps, reading, final, time.perf_counter() - started)


def _plain_check(slot, lhs, rel, rhs, factors, seed, symbolic_seconds) -> Evidence:
    """One link as written: a left side naming the slot's quantity is graded like an answer."""
    if lhs is None:
        return _named(slot, Link(0, None, rel, rhs), seed, symbolic_seconds, rel)
    return _sides(links.check_link(slot, lhs, rel, rhs, factors, seed, symbolic_seconds))


def _in_context(slot, link, ctx, factors, seed, symbolic_seconds) -> Evidence:
    r"""A link in the derivation's context: the definitions made before it substituted, then
    checked as written; what does not hold as written is checked under the slot's premises (its
    model, and for a statement about the optimum of the pointwise problem, \alpha = \alpha^*(t)).
    It is proved when it holds under them, refuted only when it fails under them too (false in
    the derivation's context), and otherwise left unchecked."""
    from ..grading import derivation as dv
    rel = "=" if link.rel == "~" else link.rel
    expand = ctx.expand if ctx is not None else (lambda e: e)
    lhs, rhs = expand(link.lhs), expand(link.rhs)
    for side in ("lhs", "rhs"):
        value, problem = dv.resolve_infima(slot, lhs if side == "lhs" else rhs, seed)
        if problem is not None:
            return problem
        lhs, rhs = (value, rhs) if side == "lhs" else (lhs, value)
    ev = _plain_check(slot, lhs, rel, rhs, factors, seed, symbolic_seconds)
    if ev.status is Status.PROVED or slot is None:
        return ev
    alternatives = []
    names = dv.free(lhs) | dv.free(rhs)
    model = dict(dv.model_substitution(slot.id))
    reference = slot.reference if isinstance(slot.reference, sp.Basic) and not slot.reference.is_Relational \
        else None
    if model and any(dv.uses_model(e, model) for e in (lhs, rhs, reference if lhs is None else None)):
        alternatives.append(("with the slot's model substituted", model))
    taken = (dv.take_moments(slot, lhs) if lhs is not None else None, dv.take_moments(slot, rhs))
    if taken != (None, None):
        alternatives.append(("with the expectations taken from the model's moments", {"moments": taken}))
    if lhs is None and link.label is not None and link.label in model and rel == "=":
        # "x_{t-1} = ..." naming the quantity, where the model defines x_{t-1} in general: the
        # line may state the model's equation (the sampler's step before sigma_t = 0 is taken)
        alternatives.append((f"as the model's equation for {link.label}", {"label": (link.label, model[link.label])}))
    opt = dv.optimum(slot)
    if opt is not None:
        a, value = opt
        in_lhs, in_rhs = lhs is not None and a in dv.free(lhs), a in dv.free(rhs)
        if in_lhs != in_rhs:      # alpha on one side only: a statement about the optimum
            alternatives.append((f"at the optimum {dv.ALPHA} = {value} of the pointwise problem", {a: value}))
        elif in_lhs and in_rhs and rel == "=" and ev.status is not Status.ERROR:
            # an equation in alpha that is no identity: read as a condition only when it is the
            # first-order condition of the pointwise problem (same solutions); else as written
            condition = dv.first_order_condition(slot, lhs, rhs)
            if condition is not None:
                return condition
    if not alternatives:
        return ev
    outcomes = []
    for what, subs in alternatives:
        try:
            l2 = None if lhs is None else dv.under_model(lhs, subs)
            r2 = dv.under_model(rhs, subs)
            if "label" in subs:
                e2 = _sides(links.check_link(slot, subs["label"][1], rel, rhs, factors, seed, symbolic_seconds))
            elif "moments" in subs:
                l3, r3 = subs["moments"]
                e2 = _plain_check(slot, lhs if l3 is None else l3, rel, rhs if r3 is None else r3, factors, seed,
                                  symbolic_seconds)
            elif lhs is None and "model" in what and reference is not None:
                e2 = _sides(links.check_link(slot, r2, rel, dv.under_model(reference, subs), factors, seed,
                                             symbolic_seconds))
            else:
                e2 = _plain_check(slot, l2, rel, r2, factors, seed, symbolic_seconds)
        except Exception as exc:       # a substitution SymPy cannot make leaves the link open
            e2 = Evidence(Status.UNCHECKED, Kind.NONE, f"{what}: {type(exc).__name__}")
        if e2.status is Status.PROVED:
            return Evidence(Status.PROVED, e2.kind, f"{e2.detail} ({what})", None, e2.seconds, e2.extra)
        outcomes.append((what, e2))
    refuted = [(w, e) for w, e in outcomes if e.status is Status.REFUTED]
    if refuted:
        what, e2 = refuted[0]
        return Evidence(Status.REFUTED, e2.kind, f"{e2.detail} ({what})", e2.counterexample, e2.seconds, e2.extra)
    what, e2 = outcomes[0]
    return Evidence(Status.UNCHECKED, Kind.NONE, f"not decided as written ({ev.detail}) nor {what} "
                    f"({e2.detail})", None, ev.seconds)


def _rows(steps) -> list:
    r"""Steps given as display maths (one ``\begin{align} ... \\ ... \end{align}`` block) split
    into one step per row, as the sheet readers do; other steps are kept as they are."""
    from .sheets.display import display_rows
    out = []
    for step in steps:
        rows = display_rows(step) if isinstance(step, str) else None
        out.extend([step] if rows is None else [r for r in rows if r.strip()] or [step])
    return out


def _scope(slot):
    if slot is None:
        from ..latex.scope import build, density_mode
        return density_mode(build())
    from ..grading.core import scope_for
    return scope_for(slot)


def _weaker_claim(link, ev: Evidence) -> Evidence:
    """``A \approx B`` and ``A = B + const`` claim less than ``A = B``: the exact equality, when it
    holds, proves them; otherwise nothing here says how good the approximation is or what the
    constant may depend on, so the link is left for a person (never refuted, never passed)."""
    what = "an approximation (\\approx)" if link.rel == "~" else "an equality up to an additive constant"
    if ev is not None and ev.status is Status.PROVED:
        return Evidence(ev.status, ev.kind, f"{what}; it holds exactly: {ev.detail}", None, ev.seconds, ev.extra)
    return Evidence(Status.UNCHECKED, Kind.NONE, f"{what} is not checked (the exact equality "
                    f"{'fails' if ev is not None and ev.status is Status.REFUTED else 'is not decided'}); "
                    "a person must judge it", None, ev.seconds if ev is not None else 0.0)


def _composed(reading: Reading) -> str | None:
    """The relation the links compose to, an approximation proved exact counting as =."""
    rel = "="
    for link in reading.links:
        exact = link.evidence is not None and link.evidence.status is Status.PROVED
        rel = compose(rel, "=" if link.rel == "~" and exact else link.rel)
    return rel


def _named(slot, link, seed, symbolic_seconds, rel=None) -> Evidence:
    """``L(x) = B`` as a first step: B must be the slot's quantity (like a single answer)."""
    rel = link.rel if rel is None else rel
    if slot is None:
        return Evidence(Status.UNCHECKED, Kind.NONE, "the left side names a quantity, and there is no slot "
                        "to say what it is")
    if slot.kind == "relation" or rel != "=":
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
    reading.last = _in_terms_of_slot(slot, reading, reading.last)
    reading.first = _in_terms_of_slot(slot, reading, reading.first)
    if reading.unreadable or reading.last is None:
        return AnswerResult(slot.id, "invalid", "none", "", "not graded: a step could not be read").as_dict()
    try:
        if reading.relation == "~":
            return AnswerResult(slot.id, "unchecked", "none", "", "not checked: a step of the chain is only an "
                                "approximation (\\approx), so the chain does not establish the result exactly",
                                parsed_latex=show(reading.last)).as_dict()
        if slot.kind == "relation":
            if reading.first is None or reading.relation is None:
                why = "the chain's relations point both ways" if reading.relation is None else \
                    "the chain does not start from an expression"
                return AnswerResult(slot.id, "invalid", "none", "", f"not an answer: {why}").as_dict()
            return grade_relation(slot.id, reading.first, reading.relation, reading.last, seed,
                                  symbolic_seconds).as_dict()
        if reading.relation != "=":
            bound = _as_bound(slot, reading, seed, symbolic_seconds)
            if bound is None:
                bound = _value_then_bound(slot, reading, seed, symbolic_seconds)
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


def _in_terms_of_slot(slot, reading: Reading, expr):
    """``expr`` with the derivation's definitions substituted and, for the pointwise problem's
    margin variable, its optimum: what the end of a derivation says in the slot's own names."""
    from ..grading import derivation as dv
    if not isinstance(expr, sp.Basic):
        return expr
    if reading.context is not None:
        expr = reading.context.expand(expr)
    opt = dv.optimum(slot)
    if opt is not None and opt[0] in dv.free(expr):
        expr = expr.xreplace({opt[0]: opt[1]})
    return expr


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


def _value_then_bound(slot, reading: Reading, seed, symbolic_seconds) -> dict | None:
    r"""``A = B = KL(q \| p) \ge 0``: the equalities reach the slot's quantity and what follows only
    bounds it (a remark, as ``A = B \ge 0`` is for a single answer). The expression the equalities
    reach is graded; None when no equality comes before the first inequality, or when it is not
    the quantity (the chain is then left for a person as before)."""
    from ..grading import core
    from ..grading.result import AnswerResult
    from ..grading.show import latex as show
    if slot.kind == "relation" or reading.relation is None:
        return None
    k = next((i for i, l in enumerate(reading.links) if l.rel != "="), None)
    if not k or reading.links[k].lhs is None:
        return None
    value = reading.links[k].lhs
    ev = core.decide(slot, value, seed, symbolic_seconds)
    if ev.status is not Status.PROVED:
        return None
    return AnswerResult(slot.id, "correct", ev.kind.value, ev.detail, f"correct: the equalities reach the slot's "
                        f"quantity (step {reading.links[k].step}); what follows only bounds it: {ev.detail}", None,
                        None, show(value)).as_dict()


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
              "first_unchecked_step": min({l.step for l in open_} | unreadable, default=None),
              "definition_steps": list(reading.definitions), "remark_steps": list(reading.remarks),
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
            unread = [k for k in before if k in unreadable and k not in reading.orphans]
            rest = [k for k in before if k not in unread]
            said = []
            if unread:
                said.append(f"step{'s' if len(unread) > 1 else ''} {', '.join(map(str, unread))} could not be read")
            if rest:
                said.append(f"step{'s' if len(rest) > 1 else ''} {', '.join(map(str, rest))} could not be checked")
            earlier = "; before it, " + " and ".join(said)
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
