"""A question file's data -> registry slots, the same ``Slot`` the catalogue declares.

Every LaTeX string (reference, conditions, definitions, mistakes, interval ends) is read by
derivcheck's own reader (``derivations.latex``), in the names the file declares; nothing is
passed to ``eval``, ``sympify`` or ``parse_expr``. Symbols are declared with
``symbols.declare`` like the catalogue's, so domains, sampling, proofs and the answer reader
treat them alike.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from .. import registry
from .. import symbols as symtab
from ..latex import LatexError, build as build_scope, parse
from ..latex.names import key_of_latex
from ..registry import Slot
from .source import Map, QuestionError, Seq, line_of

VERDICTS = ("correct", "wrong", "invalid", "unchecked")
QUESTION_KEYS = {"id", "title", "description", "symbols", "functions", "conditions", "definitions", "slots"}
SLOT_KEYS = {"title", "prompt", "reference", "symbols", "functions", "conditions", "definitions", "mistakes", "tests"}
SYMBOL_KEYS = {"latex", "name", "aliases", "domain", "meaning"}
MISTAKE_KEYS = {"latex", "name", "feedback"}
TEST_KEYS = {"answer", "verdict", "mistake", "note"}
ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MISTAKE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
DOMAINS = ("real", "positive", "nonnegative", "negative", "(lo, hi) (an open interval, e.g. (0, 1))",
           "integer >= k", "integer in [a, b]", "matrix spd", "matrix symmetric", "matrix any", "vector")
MATRIX_SIZE = sp.Symbol("n", integer=True, positive=True)     # every matrix is n x n (a vector n x 1)


@dataclass(frozen=True)
class NamedMistake:
    """An instructor's mistake: an answer that is wrong in a known way, with its name and feedback."""

    name: str
    feedback: str
    latex: str
    expr: object
    line: int = 0


@dataclass(frozen=True)
class Test:
    answer: str
    verdict: str
    mistake: str | None = None
    line: int = 0


@dataclass(frozen=True)
class QuestionSlot(Slot):
    """A registry slot written in a question file: a ``Slot`` plus what the file adds (the prompt,
    named mistakes, tests, and where each part is written, for messages)."""

    prompt: str = ""
    title: str = ""
    mistakes: tuple = ()            # NamedMistake, in the file's order
    tests: tuple = ()               # Test
    path: str = ""
    line: int = 0                   # the slot's line in the file
    lines: dict = field(default_factory=dict)   # "reference" | "conditions" | ... -> line


@dataclass
class Question:
    id: str
    title: str
    path: str
    slots: list
    line: int = 1


# --- helpers -----------------------------------------------------------------------------------
def _fail(path, line, message):
    raise QuestionError(path, line, message)


def _keys(path, data: Map, allowed: set, what: str) -> None:
    for key in data:
        if key not in allowed:
            near = sorted(allowed)
            _fail(path, data.key_lines.get(key, data.line), f"unknown key {key!r} in {what}; "
                  f"known: {', '.join(near)}")


def _text(path, container, key, what: str, required: bool = True) -> str:
    value = container.get(key) if isinstance(container, dict) else None
    if value is None:
        if required:
            _fail(path, getattr(container, "line", 0), f"{what}: {key!r} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        _fail(path, line_of(container, key), f"{what}: {key!r} must be text (quote LaTeX in single quotes)")
    return str(value)


def _list(path, container, key, what: str) -> Seq:
    value = container.get(key)
    if value is None:
        return Seq()
    if not isinstance(value, Seq):
        _fail(path, line_of(container, key), f"{what}: {key!r} must be a list")
    return value


def plain_name(latex: str) -> str:
    """A SymPy name from LaTeX: ``\\sigma_{min}`` -> ``sigma_min``, ``x_1`` -> ``x_1``."""
    name = re.sub(r"\\(mathrm|operatorname|text|rm|mathit|mathbf|boldsymbol|mathcal)\b", "", latex)
    name = re.sub(r"[^A-Za-z0-9_]+", "_", name.replace("\\", "")).strip("_")
    name = re.sub(r"_+", "_", name)
    return name if name and name[0].isalpha() else f"s_{name}"


_INFINITY = {r"\infty": sp.oo, r"+\infty": sp.oo, r"-\infty": -sp.oo, "oo": sp.oo, "-oo": -sp.oo,
             "inf": sp.oo, "-inf": -sp.oo, "+inf": sp.oo}


def _end(path, line, text: str):
    t = text.strip()
    if t.replace(" ", "") in _INFINITY:
        return _INFINITY[t.replace(" ", "")]
    try:
        chain = parse(t, build_scope())
    except LatexError as exc:
        _fail(path, line, f"the interval end {t!r} cannot be read: {exc}")
    value = chain.members[-1] if not chain.relations else None
    if not isinstance(value, sp.Expr) or not value.is_number or not value.is_real:
        _fail(path, line, f"the interval end {t!r} is not a real number")
    return value


def domain(path, line, text) -> tuple:
    """(lo, hi, integer) from a domain's text, or ("matrix", kind, None) for a matrix kind;
    ``QuestionError`` naming the known domains."""
    if text is None:
        return -sp.oo, sp.oo, False
    if not isinstance(text, str):
        _fail(path, line, f"a domain is text such as 'positive' or '(0, 1)', not {text!r}")
    t = " ".join(text.strip().lower().split())
    if t in ("real", "reals", "r"):
        return -sp.oo, sp.oo, False
    if t in ("positive", "nonnegative"):       # the engine's real domains are open: (0, oo)
        return sp.S.Zero, sp.oo, False
    if t == "negative":
        return -sp.oo, sp.S.Zero, False
    m = re.fullmatch(r"integer\s*(?:>=|≥|\\ge|\\geq)\s*(-?\d+)", t)
    if m:
        return sp.Integer(m[1]), sp.oo, True
    m = re.fullmatch(r"integer\s+in\s+\[\s*(-?\d+)\s*,\s*(-?\d+)\s*\]", t)
    if m:
        lo, hi = sp.Integer(m[1]), sp.Integer(m[2])
        if lo > hi:
            _fail(path, line, f"the integer range [{lo}, {hi}] is empty")
        return lo, hi, True
    m = re.fullmatch(r"(?:interval\s+)?([(\[])(.+),(.+)([)\]])", text.strip())
    if m:
        if m[1] == "[" or m[4] == "]":
            _fail(path, line, f"the domain {text!r} is closed: derivcheck's real domains are open intervals "
                  "(write (lo, hi); points are drawn next to each end)")
        lo, hi = _end(path, line, m[2]), _end(path, line, m[3])
        if not bool(lo < hi):
            _fail(path, line, f"the interval {text!r} is empty")
        return lo, hi, False
    m = re.fullmatch(r"(?:matrix\s+)?(spd|symmetric|any|vector)", t)
    if m and (t.startswith("matrix") or t == "vector"):
        return "matrix", m[1], None
    _fail(path, line, f"unknown domain {text!r}; known domains: {'; '.join(DOMAINS)}")


def _same(info, latex, lo, hi, integer, aliases) -> bool:
    d = info.domain
    return (info.latex, d.lo, d.hi, d.integer, tuple(info.aliases)) == (latex, lo, hi, integer, tuple(aliases))


def declare_symbol(name: str, latex: str, lo, hi, integer: bool, aliases, meaning: str, qid: str):
    """The symbol, declared once: an existing declaration with the same name and the same LaTeX,
    domain and aliases is reused; one that differs keeps its meaning for the slots that use it,
    and this question's symbol gets its own SymPy name (``name__qid``)."""
    taken = [i for i in symtab.declared() if i.symbol.name == name]
    for info in taken:
        if _same(info, latex, lo, hi, integer, aliases):
            return info.symbol
    if taken:
        name = f"{name}__{qid}"
        for info in symtab.declared():
            if info.symbol.name == name and _same(info, latex, lo, hi, integer, aliases):
                return info.symbol
    return symtab.declare(name, latex, lo, hi, aliases=tuple(aliases), meaning=meaning, integer=integer)


def _symbols(path, entries: Seq, qid: str, what: str, kinds: dict) -> list:
    """(symbol, line) for each entry; matrix kinds go into ``kinds`` ({name: kind})."""
    out = []
    for i, entry in enumerate(entries):
        line = entries.line_of(i)
        if isinstance(entry, str):
            entry = Map({"latex": entry})
            entry.line = line
        if not isinstance(entry, Map):
            _fail(path, line, f"{what}: a symbol is a mapping (latex:, domain:, aliases:) or its LaTeX")
        _keys(path, entry, SYMBOL_KEYS, "a symbol")
        latex = _text(path, entry, "latex", "a symbol")
        aliases = entry.get("aliases") or []
        if isinstance(aliases, str):
            aliases = [aliases]
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            _fail(path, line_of(entry, "aliases"), "a symbol's aliases are a list of LaTeX spellings")
        name = _text(path, entry, "name", "a symbol", required=False) or plain_name(latex)
        if not ID.match(name):
            _fail(path, line_of(entry, "name"), f"a symbol's name must be an identifier, not {name!r}")
        lo, hi, integer = domain(path, line_of(entry, "domain"), entry.get("domain"))
        meaning = _text(path, entry, "meaning", "a symbol", required=False)
        if lo == "matrix":
            if aliases:
                _fail(path, line_of(entry, "aliases"), "a matrix is read under its own LaTeX only (no aliases)")
            sym = sp.MatrixSymbol(name, MATRIX_SIZE, 1 if hi == "vector" else MATRIX_SIZE)
            kinds[name] = hi
        else:
            sym = declare_symbol(name, latex, lo, hi, integer, aliases, meaning, qid)
        for form in (latex, *aliases):
            try:
                chain = parse(form, build_scope([sym], matrix=isinstance(sym, sp.MatrixSymbol)))
                reads = chain.members == [sym] and not chain.relations
            except LatexError as exc:
                _fail(path, line, f"the symbol spelling {form!r} cannot be read by derivcheck's reader ({exc}); "
                      "choose a spelling it reads, e.g. \\sigma_{min} for \\sigma_{\\min}")
            if not reads:
                _fail(path, line, f"the symbol spelling {form!r} does not read as one name "
                      f"(it reads as {chain.members})")
        out.append((sym, line))
    return out


def _functions(path, entries: Seq, what: str) -> list:
    """Unknown functions an answer may apply (``\\epsilon_\\theta(x_t)``): each is an undefined SymPy
    function whose value at a point is drawn like a symbol's (the identity must hold whatever the
    function is)."""
    from ..latex.names import key_of_latex as key
    out = []
    for i, entry in enumerate(entries):
        line = entries.line_of(i)
        if not isinstance(entry, str):
            _fail(path, line, f"{what}: a function is its LaTeX name, e.g. '\\epsilon_\\theta'")
        name = plain_name(entry)
        k = key(entry)
        if k is None or key(sp.latex(sp.Symbol(name))) != k:
            _fail(path, line, f"the function name {entry!r} is not one derivcheck's reader can use; write a "
                  "letter or Greek letter with a subscript, such as '\\epsilon_\\theta' or 's_\\theta'")
        out.append(sp.Function(name))
    return out


def _read(path, line, text: str, scope, what: str):
    """One expression in ``scope``: the last member of ``Q = expr`` (the left side may name it)."""
    try:
        chain = parse(text, scope)
    except LatexError as exc:
        _fail(path, line, f"{what} {text!r} cannot be read: {exc}")
    if any(r != "=" for r in chain.relations):
        _fail(path, line, f"{what} {text!r} is a relation; an expression was expected")
    value = chain.members[-1]
    if value is None or not isinstance(value, sp.Basic) or getattr(value, "is_Relational", False):
        _fail(path, line, f"{what} {text!r} does not read as an expression")
    return value


_REL = {"<": sp.StrictLessThan, "<=": sp.LessThan, ">": sp.StrictGreaterThan, ">=": sp.GreaterThan}


def _conditions(path, entries: Seq, scope, expansions, what: str) -> list:
    out = []
    for i, text in enumerate(entries):
        line = entries.line_of(i)
        if not isinstance(text, str):
            _fail(path, line, f"{what}: a condition is a LaTeX relation such as '0 < t < 1'")
        try:
            chain = parse(text, scope)
        except LatexError as exc:
            _fail(path, line, f"the condition {text!r} cannot be read: {exc}")
        if not chain.relations:
            _fail(path, line, f"the condition {text!r} is not a relation (write e.g. '\\beta > 1')")
        for a, rel, b in zip(chain.members, chain.relations, chain.members[1:]):
            if a is None or b is None:
                _fail(path, line, f"the condition {text!r} cannot be read whole")
            if rel not in _REL:
                _fail(path, line, f"the condition {text!r} uses {rel!r}: conditions are strict or non-strict "
                      "inequalities (an equality leaves no room to draw points)")
            c = _REL[rel](_expand(a, expansions), _expand(b, expansions))
            if c is sp.false or c == sp.false:
                _fail(path, line, f"the condition {text!r} is false")
            if c is not sp.true and c != sp.true:
                out.append((c, line))
    return out


def _expand(expr, expansions: dict, rounds: int = 6):
    for _ in range(rounds):
        new = expr.xreplace(expansions) if isinstance(expr, sp.Basic) else expr
        if new == expr:
            break
        expr = new
    return expr


def _definitions(path, data, symbols, what: str, matrix: bool = False, funcs=()) -> tuple[dict, dict]:
    """{LaTeX name: value} in file order, each value read in the symbols and earlier definitions."""
    defs = data.get("definitions")
    if defs is None:
        return {}, {}
    if not isinstance(defs, Map):
        _fail(path, line_of(data, "definitions"), f"{what}: definitions are a mapping "
              "{LaTeX name: LaTeX value}")
    out, lines = {}, {}
    for key, value in defs.items():
        line = defs.key_lines.get(key, defs.line)
        if not isinstance(key, str) or key_of_latex(key) is None:
            _fail(path, line, f"a definition's name must be a LaTeX name such as '\\gamma_t', not {key!r}")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            _fail(path, line, f"the definition of {key} must be LaTeX text")
        scope = build_scope(symbols, funcs, out, matrix=matrix)
        out[key] = _read(path, defs.line_of(key), str(value), scope, f"the definition of {key}")
        lines[key] = line
    return out, lines


# --- the question --------------------------------------------------------------------------------
def build_question(data: Map, path: str) -> Question:
    """Slots (not yet registered) from a question file's data; ``QuestionError`` at the first problem."""
    _keys(path, data, QUESTION_KEYS, "a question")
    qid = _text(path, data, "id", "the question")
    if not ID.match(qid):
        _fail(path, line_of(data, "id"), f"the question id {qid!r} must be an identifier (letters, digits, _)")
    title = _text(path, data, "title", "the question", required=False) or qid
    kinds: dict = {}
    shared_syms = _symbols(path, _list(path, data, "symbols", "the question"), qid, "the question", kinds)
    slots_data = data.get("slots")
    if not isinstance(slots_data, Map) or not slots_data:
        _fail(path, line_of(data, "slots", data.line), "the question needs 'slots:', a mapping of slot name to slot")
    out = []
    for name, sd in slots_data.items():
        sline = slots_data.key_lines.get(name, slots_data.line)
        if not isinstance(name, str) or not ID.match(name):
            _fail(path, sline, f"a slot name must be an identifier, not {name!r}")
        if not isinstance(sd, Map):
            _fail(path, sline, f"the slot {name} must be a mapping (prompt:, reference:, ...)")
        out.append(_slot(path, qid, name, sd, sline, shared_syms, data, dict(kinds)))
    return Question(qid, title, path, out, data.line)


def _slot(path, qid, name, sd: Map, sline, shared_syms, qdata, kinds: dict) -> QuestionSlot:
    _keys(path, sd, SLOT_KEYS, f"the slot {name}")
    sid = f"{qid}.{name}"
    own = _symbols(path, _list(path, sd, "symbols", f"the slot {name}"), qid, f"the slot {name}", kinds)
    syms = list(dict.fromkeys([s for s, _ in shared_syms] + [s for s, _ in own]))
    spelled: dict = {}
    for sym, line in [*shared_syms, *own]:
        form = symtab.info(sym).latex if isinstance(sym, sp.Symbol) else sp.latex(sym)
        k = key_of_latex(form) or form
        if spelled.get(k, (sym,))[0] != sym:
            _fail(path, line, f"the slot {name} has two symbols spelled {form!r} (the other on line {spelled[k][1]})")
        spelled.setdefault(k, (sym, line))
    if not syms:
        _fail(path, sline, f"the slot {name} declares no symbols (symbols: under the question or the slot)")
    matrix = any(isinstance(s, sp.MatrixSymbol) for s in syms)
    if matrix and not all(isinstance(s, sp.MatrixSymbol) for s in syms):
        _fail(path, sline, f"the slot {name} mixes matrices and scalar symbols; a matrix slot's symbols are all "
              "matrices or vectors (scalars in matrix slots are not yet available in question files)")
    funcs = list(dict.fromkeys(_functions(path, _list(path, qdata, "functions", "the question"), "the question")
                               + _functions(path, _list(path, sd, "functions", f"the slot {name}"), f"the slot {name}")))
    q_defs, q_lines = _definitions(path, qdata, syms, "the question", matrix, funcs)
    s_defs, s_lines = _definitions(path, sd, syms, f"the slot {name}", matrix, funcs)
    definitions = {**q_defs, **s_defs}
    scope = build_scope(syms, funcs, definitions, matrix=matrix)
    expansions = dict(scope.expansions)
    ref_text = _text(path, sd, "reference", f"the slot {name}")
    ref_line = line_of(sd, "reference", sline)
    reference = _read(path, ref_line, ref_text, scope, "the reference")
    if matrix != isinstance(reference, (sp.MatrixExpr, sp.MatrixBase)):
        _fail(path, ref_line, "the reference is a scalar in a slot of matrices" if matrix else
              "the reference is a matrix, but the slot declares no matrix symbols")
    if matrix and (qdata.get("conditions") or sd.get("conditions")):
        _fail(path, line_of(sd, "conditions", line_of(qdata, "conditions", sline)),
              "a matrix slot takes no side conditions (the matrix kinds say what is drawn)")
    conds = _conditions(path, _list(path, qdata, "conditions", "the question"), scope, expansions, "the question") + \
        _conditions(path, _list(path, sd, "conditions", f"the slot {name}"), scope, expansions, f"the slot {name}")
    mistakes, seen = [], {}
    entries = _list(path, sd, "mistakes", f"the slot {name}")
    for i, m in enumerate(entries):
        line = entries.line_of(i)
        if not isinstance(m, Map):
            _fail(path, line, "a mistake is a mapping: latex:, name:, feedback:")
        _keys(path, m, MISTAKE_KEYS, "a mistake")
        mname = _text(path, m, "name", "a mistake")
        if not MISTAKE_NAME.match(mname):
            _fail(path, line_of(m, "name"), f"a mistake's name is a short tag (letters, digits, - and _), not {mname!r}")
        if mname in seen:
            _fail(path, line_of(m, "name"), f"the mistake name {mname!r} is used twice (first on line {seen[mname]})")
        seen[mname] = line
        text = _text(path, m, "latex", "a mistake")
        expr = _read(path, line_of(m, "latex"), text, scope, f"the mistake {mname!r}")
        mistakes.append(NamedMistake(mname, _text(path, m, "feedback", "a mistake"), text, expr,
                                     line_of(m, "latex", line)))
    tests = []
    entries = _list(path, sd, "tests", f"the slot {name}")
    for i, t in enumerate(entries):
        line = entries.line_of(i)
        if not isinstance(t, Map):
            _fail(path, line, "a test is a mapping: answer:, verdict:, and mistake: for a wrong one")
        _keys(path, t, TEST_KEYS, "a test")
        answer = _text(path, t, "answer", "a test")
        verdict = _text(path, t, "verdict", "a test")
        if verdict not in VERDICTS:
            _fail(path, line_of(t, "verdict"), f"a test's verdict is one of {', '.join(VERDICTS)}, not {verdict!r}")
        mistake = _text(path, t, "mistake", "a test", required=False) or None
        if mistake is not None and verdict != "wrong":
            _fail(path, line_of(t, "mistake"), "only a wrong answer names a mistake")
        tests.append(Test(answer, verdict, mistake, line))
    prompt = _text(path, sd, "prompt", f"the slot {name}", required=False)
    title = _text(path, sd, "title", f"the slot {name}", required=False)
    statement = title or (prompt.strip().splitlines()[0] if prompt.strip() else sid)
    lines = {"reference": ref_line, "conditions": line_of(sd, "conditions", line_of(qdata, "conditions", sline)),
             "slot": sline, **{f"definition {k}": v for k, v in {**q_lines, **s_lines}.items()}}
    return QuestionSlot(sid, statement, reference=reference, symbols=tuple(syms),
                        kind="matrix" if matrix else "expression", functions=tuple(funcs),
                        matrix_kinds={s.name: kinds[s.name] for s in syms if isinstance(s, sp.MatrixSymbol)},
                        conditions=tuple(c for c, _ in conds), definitions=definitions, latex=ref_text,
                        question=qid, prompt=prompt, title=title or statement, mistakes=tuple(mistakes),
                        tests=tuple(tests), path=str(path), line=sline, lines=lines)


def duplicates(question: Question) -> list[tuple[int, str]]:
    """(line, message) for each slot id (or question id) the registry already holds."""
    table = registry.slots()
    out = []
    prefixes = {sid.split(".")[0] for sid, s in table.items() if not isinstance(s, QuestionSlot)}
    if question.id in prefixes:
        out.append((question.line, f"the question id {question.id!r} is a built-in question's "
                    f"(its slots would join {question.id}.*); choose another id"))
    for s in question.slots:
        if s.id in table:
            other = table[s.id]
            where = f"{other.path}:{other.line}" if isinstance(other, QuestionSlot) else "the built-in catalogue"
            out.append((s.line, f"the slot id {s.id!r} is already defined ({where})"))
    return out
