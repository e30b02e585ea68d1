"""From a student's LaTeX to a token stream the grammar reads.

Three passes, each small: split the text into raw tokens; normalise macros (spacing and
sizing commands vanish, synonyms become one spelling, font wrappers become one name);
then give the ambiguous delimiters their role (``|`` opens or closes an absolute value or
separates a condition; ``d`` in ``\\int ... dx`` is a differential). The text is bounded in
size and nesting *before* any of this runs; anything the passes do not know is refused by
name, so the grammar never sees a token it could silently skip.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lark import Token

from .errors import LatexError, LimitError
from .unicode import clean

MAX_CHARS = 2000      # a long answer is ~200 characters; 2000 leaves room for a chain
MAX_TOKENS = 600
MAX_DEPTH = 30        # brackets and braces nested in one another

_RAW = re.compile(r"\\[a-zA-Z]+|\\.|\d+(?:\.\d+)?|\.\d+|[a-zA-Z]|\s+|[^\x00-\x7f]+|.", re.S)

GREEK = set("""partial alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho
sigma tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
ell""".split())
RENAME = {"varepsilon": "epsilon", "vartheta": "theta", "varphi": "phi", "varsigma": "sigma",
          "varpi": "pi", "varrho": "rho", "ln": "log", "sgn": "sign", "arcsinh": "arsinh", "arccosh": "arcosh", "arctanh": "artanh",
          "atan": "arctan", "asinh": "arsinh", "atanh": "artanh", "Tr": "tr", "trace": "tr",
          "dfrac": "frac", "tfrac": "frac", "cfrac": "frac", "overline": "bar", "widetilde": "tilde",
          "widehat": "hat", "overrightarrow": "mathbf", "vec": "mathbf", "boldsymbol": "mathbf", "bm": "mathbf",
          "pmb": "mathbf", "textbf": "mathbf", "mathit": "mathrm", "textit": "mathrm",
          "textrm": "mathrm", "mathsf": "mathrm", "mathtt": "mathrm", "textsf": "mathrm",
          "mathscr": "mathcal", "Bbb": "mathbb", "intercal": "top", "transpose": "top"}
DROP = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl",
        "biggr", "Biggl", "Biggr", "bigm", "Bigm", "middle", "quad", "qquad", "displaystyle",
        "textstyle", "limits", "nolimits", "thinspace", "enspace", ",", ";", ":", "!", " ",
        ">", "relax", "nonumber", "notag"}
SIZERS = {"left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
          "big", "Big", "bigg", "Bigg", "bigm", "Bigm", "middle"}
FONTS = {"mathrm", "operatorname", "mathbf", "text", "mathcal", "mathbb", "mathfrak", "rm"}
KEEP_FONT = {"mathcal": "cal", "mathbb": "bb", "mathfrak": "frak"}
OPNAMES = {"log", "exp", "min", "max", "sign", "tr", "det", "diag", "sqrt", "inf", "sup", "argmin", "argmax",
           "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan", "arsinh", "arcosh",
           "artanh", "softplus", "sigmoid"}
ARG_OPS = {"min": "argmin", "max": "argmax"}    # \arg\min, \operatorname*{arg\,min}, \mathrm{argmin}
DECOR = {"bar", "tilde", "hat"}
CMD = {"frac": "FRAC", "sqrt": "SQRT", "cdot": "MUL", "times": "MUL", "ast": "MUL", "odot": "MUL",
       "sum": "BIGOP", "prod": "BIGOP", "int": "INT", "nabla": "NABLA", "infty": "INFTY",
       "top": "TOP", "sim": "SIM", "in": "IN", "mid": "BAR", "vert": "BAR", "lvert": "BAR", "rvert": "BAR",
       "|": "DBAR", "Vert": "DBAR", "lVert": "DBAR", "rVert": "DBAR", "parallel": "DBAR",
       "{": "LSET", "}": "RSET",
       "lbrace": "LSET", "rbrace": "RSET", "prime": "PRIME"}
RELATIONS = {"eqqcolon": "=:", "le": "<=", "leq": "<=", "leqslant": "<=", "ge": ">=", "geq": ">=", "geqslant": ">=",
             "lt": "<", "gt": ">", "coloneqq": "=", "triangleq": "=", "equiv": "="}
# \overset{\text{Jensen}}{\ge}, \stackrel{(a)}{=}: a label over (or under) a relation; the relation is read
OVER_RELATION = {"overset", "stackrel", "underset"}
# \implies, \Rightarrow, \therefore opening the answer: a connective from the previous line, dropped
# (between two formulas they join two statements, and are refused)
CONNECTIVES = {"implies", "Rightarrow", "Longrightarrow", "therefore", "iff", "Leftrightarrow"}
PUNCT = {"+": "PLUS", "-": "MINUS", "*": "MUL", "/": "DIV", "=": "REL", "<": "REL", ">": "REL",
         "(": "LPAR", ")": "RPAR", "[": "LSQB", "]": "RSQB", "{": "LBRACE", "}": "RBRACE",
         ",": "COMMA", ";": "SEMI", "^": "SUP", "_": "SUB", "'": "PRIME", "|": "BAR"}
REFUSED = {"input": "reads a file", "include": "reads a file", "write": "writes a file",
           "immediate": "is a TeX primitive", "openout": "writes a file", "def": "defines a macro",
           "edef": "defines a macro", "gdef": "defines a macro", "let": "defines a macro",
           "newcommand": "defines a macro", "renewcommand": "defines a macro",
           "catcode": "is a TeX primitive", "begin": "starts an environment",
           "end": "ends an environment", "approx": "is not an equality", "ne": "is not an equality",
           "neq": "is not an equality", "pm": "is ambiguous (two answers)", "cdots": "elides terms",
           "Rightarrow": "joins two statements; grade one formula at a time",
           "implies": "joins two statements; grade one formula at a time",
           "Longrightarrow": "joins two statements; grade one formula at a time",
           "therefore": "joins two statements; grade one formula at a time",
           "iff": "joins two statements; grade one formula at a time",
           "Leftrightarrow": "joins two statements; grade one formula at a time",
           "ldots": "elides terms", "dots": "elides terms",
           "\\": "breaks the line; grade one formula at a time"}

OPERAND_END = {"NUMBER", "LETTER", "GREEK", "WORD", "RPAR", "RSQB", "RBRACE", "RSET",
               "ABS_CLOSE", "NORM_CLOSE", "INFTY", "TOP", "PRIME", "POSPART"}
NAMELIKE = {"LETTER", "GREEK", "WORD", "RBRACE", "TOP", "PRIME", "NUMBER"}


def _tok(type_: str, value: str) -> Token:
    return Token(type_, value)


@dataclass
class Tail:
    """What follows the formula and is not part of it, kept for the reader (never silently cut):

    * ``condition``: ``\\text{for } t > 0``, ``, t > 0``, ``\\text{where } \\epsilon \\sim N(0, I)``: ``raw``
      (raw tokens, after a remark word) or ``tokens`` (grammar tokens, after a separator) hold it;
    * ``remark``: words alone (``\\quad (\\text{by Jensen})``): nothing in it to read."""

    kind: str
    text: str
    raw: list = field(default_factory=list)
    word: str = ""
    tokens: list | None = None


def show_raw(raw) -> str:
    """Raw tokens back as (normalised) LaTeX text, for quoting a part in a message."""
    out = []
    for k, v in raw:
        out.append("\\" + v if k == "cmd" else v)
        if k == "cmd" and v.isalpha():
            out.append(" ")
    return "".join(out).strip()


def show_tokens(toks) -> str:
    """Grammar tokens back as (normalised) LaTeX, for quoting a part in a message."""
    fonts = {"cal": "mathcal", "bb": "mathbb", "frak": "mathfrak", "mathrm": "mathrm", "bf": "mathbf"}
    out = []
    for t in toks:
        v = str(t.value)
        if t.type == "REL":
            out.append({"<=": "\\le ", ">=": "\\ge "}.get(v, v))
        elif ":" in v and t.type in ("WORD", "LETTER", "OPNAME"):
            font, _, name = v.partition(":")
            out.append(f"\\{fonts.get(font, font)}{{{name}}}")
        elif v.isalpha() and (len(v) > 1 or t.type in ("SIM", "IN", "INFTY", "TOP")) and t.type != "WORD":
            out.append(f"\\{v} ")
        else:
            out.append(v)
    return "".join(out).strip()


def _unbracket(words: str, tail: list) -> list:
    """``\\text{(for all } t > 0)``: the bracket the words opened closes after the condition."""
    close = {"(": ")", "[": "]"}.get(words[:1])
    if close is None:
        return tail
    end = len(tail)
    while end and (tail[end - 1][0] == "space" or tail[end - 1] in (("punct", "."), ("punct", ","))):
        end -= 1
    if end and tail[end - 1] == ("punct", close):
        return tail[:end - 1] + tail[end:]
    return tail


def _separable(out, cases) -> bool:
    """May a statement end here (a \\quad, a line break or a new line after a complete operand, at
    the formula's top level)?"""
    return not cases and bool(out) and out[-1].type in OPERAND_END | {"BAR", "DBAR"} and \
        _open_brackets(out) == 0


def _remark_tail_kept(tails, out, text) -> None:
    while out and out[-1].type == "SEP":
        out.pop()
    if tails is not None:
        tails.append(Tail("remark", text))


def raw_tokens(text: str) -> list[tuple[str, str]]:
    """Split LaTeX into (kind, text): ``cmd`` (name without backslash), ``num``, ``letter``, ``punct``."""
    out = []
    for m in _RAW.finditer(text):
        s = m.group()
        if s.isspace():
            out.append(("space", "\n" if "\n" in s or "\r" in s else " "))
        elif s.startswith("\\"):
            out.append(("cmd", s[1:]))
        elif not s.isascii():
            out.append(("foreign", s))          # Persian or Arabic words (unicode.clean keeps no other)
        elif s[0].isdigit() or (s[0] == "." and len(s) > 1):
            out.append(("num", s))
        elif s.isalpha():
            out.append(("letter", s))
        else:
            out.append(("punct", s))
        if len(out) > 4 * MAX_TOKENS:
            raise LimitError(f"the answer has more than {MAX_TOKENS} tokens")
    return out


def _group(raw, i) -> tuple[list[tuple[str, str]], int]:
    """The argument of a macro at ``raw[i]``: a braced group's tokens, or one token."""
    while i < len(raw) and raw[i][0] == "space":
        i += 1
    if i >= len(raw):
        raise LatexError("a command at the end of the answer is missing its argument")
    if raw[i] != ("punct", "{"):
        return [raw[i]], i + 1
    depth, j = 0, i
    while j < len(raw):
        if raw[j] == ("punct", "{"):
            depth += 1
        elif raw[j] == ("punct", "}"):
            depth -= 1
            if depth == 0:
                return raw[i + 1:j], j + 1
        j += 1
    raise LatexError("unbalanced braces: a '{' is never closed")


def _font_word(font: str, content) -> list[Token]:
    """``\\mathrm{KL}`` -> WORD KL; ``\\mathbf{x}`` -> LETTER x; ``\\mathbb{E}`` -> WORD bb:E."""
    parts = [v for k, v in content if k != "space"]
    spaced = any(k == "space" for k, _ in content) and len(parts) > 1
    if not parts:
        return []
    letters = "".join(v for k, v in content if k == "letter")
    if letters in ("argmin", "argmax") and all(k in ("letter", "space") or k == "cmd" and v in DROP
                                               for k, v in content):
        return [_tok("OPNAME", letters)]         # \operatorname*{arg\,min}
    if all(k in ("letter", "num") for k, v in content if k != "space") and not spaced:
        word = "".join(parts)
        if font in KEEP_FONT:
            return [_tok("WORD", f"{KEEP_FONT[font]}:{word}")]
        if word in OPNAMES or RENAME.get(word) in OPNAMES:
            return [_tok("OPNAME", RENAME.get(word, word))]
        if len(word) == 1 and word.isalpha():
            return [_tok("LETTER", word)]
        if word.isdigit():
            return [_tok("NUMBER", word)]
        return [_tok("WORD", WORD_SYNONYMS.get(word, word))]
    if font in ("mathbf", "mathrm", "operatorname"):
        return normalise(content)          # \mathbf{\mu}, \boldsymbol{\Sigma}: the font is dropped
    text = " ".join("".join(v if k != "space" else " " for k, v in content).split())
    raise LatexError(f"prose is not an answer: {text[:40]!r}")


CASES = {"cases", "dcases"}
# Math-mode wrappers around one formula, like $...$ and \[...\]: read as if absent.
MATH_ENVIRONMENTS = {"equation", "equation*", "displaymath", "math"}
MATH_DELIMITERS = {"(", ")", "[", "]"}          # \( ... \) and \[ ... \]
# \text{for} t > 0, \text{where } \epsilon \sim N(0, I): a remark after the formula, not part of it
# ("and", "i.e." are not among them: what follows would be a second claim, not a condition)
REMARK_WORDS = {"for", "where", "with", "if", "when", "whenever", "since", "given", "on", "s.t.",
                "assuming", "provided", "because", "by", "using", "via"}
ANSWER_REMARK_WORDS = {"by", "using", "via"}
# A remark is cut only when no other word follows it: "-t \text{ if } t < 1 \text{ and } -1
# \text{ otherwise}" is a definition by cases in prose (refused), not a value and a remark.
TEXT_FONTS = ("text", "mathrm", "textrm", "mbox")
CASE_WORDS = {"otherwise": "OTHERWISE", "else": "OTHERWISE", "elsewhere": "OTHERWISE",
              "if": None, "for": None, "when": None, "where": None}
# The same words in Persian (the course's homework is Persian): "otherwise", "else", "in other
# cases"; "if", "for", "when", "for every".
PERSIAN_LABEL_WORDS = {"پاسخ", "جواب", "داریم", "بنابراین", "پس", "نتیجه", "لذا", "درنتیجه", "جوابنهایی",
                       "پاسخنهایی"}
PERSIAN_CASE_WORDS = {"درغیراینصورت": "OTHERWISE", "وگرنه": "OTHERWISE", "درسایرموارد": "OTHERWISE",
                      "سایرموارد": "OTHERWISE", "درغیرانصورت": "OTHERWISE",
                      "اگر": None, "برای": None, "وقتی": None, "هرگاه": None, "بهازای": None}
MAX_CASES_DEPTH = 3


def _environment(raw, i) -> tuple[str, int]:
    """The name in ``\\begin{name}`` / ``\\end{name}`` after the command at ``raw[i - 1]``."""
    content, j = _group(raw, i)
    name = "".join(v for k, v in content if k != "space")
    return name, j


def _case_word(content) -> str | None:
    """``\\text{otherwise}``, ``\\text{if }``, ``\\text{, else}`` inside a cases row: its token type
    (None: a word to drop), or "" when the text is not one of those words."""
    if _foreign(content):
        word = "".join(v for k, v in content if k == "foreign").replace("\u200c", "")
        if all(k in ("foreign", "space") or v in (",", ".", "\u060c") for k, v in content):
            return PERSIAN_CASE_WORDS.get(word, "")
        return ""
    if any(k not in ("letter", "space") and v not in (",", ".") for k, v in content):
        return ""
    word = "".join(v for k, v in content if k == "letter")
    return CASE_WORDS.get(word, "")


def normalise(raw, remarks: bool = True, tails: list | None = None) -> list[Token]:
    """Macro normalisation: raw tokens -> grammar tokens (delimiters not yet classified).

    ``\\begin{cases} v_1 & c_1 \\\\ v_2 & \\text{otherwise} \\end{cases}`` is the one environment
    read: inside it ``&`` and ``\\\\`` separate the value, its condition and the rows.

    ``remarks=False`` (a step of a chain, whose remarks the chain reader sets aside and keeps):
    the words by/using/via, ``(\\text{...})`` after spacing, a label over a relation and a leading
    connective are not taken as remarks here.

    ``tails`` (a list; the whole-answer reading, ``tokenize_parts``): what the formula's remarks
    would drop is kept there instead (``Tail``: a condition after \\text{for}, a remark in words),
    and ``\\quad``, a line break or a new line at the formula's top level leave a ``SEP`` token
    (a separator between two statements, or mere spacing: ``split_statements`` decides)."""
    out: list[Token] = []
    cases = 0
    i = 0
    while i < len(raw):
        kind, v = raw[i]
        i += 1
        if kind == "space":
            if v == "\n" and tails is not None and _separable(out, cases):
                out.append(_tok("SEP", "\n"))
            continue
        if kind == "cmd" and v in ("begin", "end"):
            name, i = _environment(raw, i)
            if name in MATH_ENVIRONMENTS:               # \begin{equation} X \end{equation} is X
                _whole_answer(out, raw, i, opening=v == "begin", what=f"\\{v}{{{name}}}")
                continue
            if name not in CASES:
                raise LatexError(f"\\{v}{{{name}}} {'starts' if v == 'begin' else 'ends'} an environment; "
                                 "only cases is read (one formula at a time)")
            if v == "begin":
                cases += 1
                if cases > MAX_CASES_DEPTH:
                    raise LimitError(f"cases nested more than {MAX_CASES_DEPTH} deep")
                out.append(_tok("CASES_OPEN", name))
            else:
                if not cases:
                    raise LatexError("\\end{cases} without its \\begin{cases}")
                cases -= 1
                out.append(_tok("CASES_CLOSE", name))
            continue
        if cases and kind == "cmd" and v == "\\":
            out.append(_tok("ROWSEP", v))
            continue
        if cases and kind == "cmd" and RENAME.get(v, v) in ("text", "mathrm", "textrm", "mbox"):
            j = i + 1 if i < len(raw) and raw[i] == ("punct", "*") else i
            content, j = _group(raw, j)
            word = _case_word(content)
            if word != "":
                if word:
                    out.append(_tok(word, v))
                i = j
                continue
        if cases and (kind, v) == ("punct", "&"):
            out.append(_tok("AMP", v))
            continue
        if kind == "cmd" and v in MATH_DELIMITERS:      # \( ... \), \[ ... \]: math-mode delimiters
            _whole_answer(out, raw, i, opening=v in "([", what=f"\\{v}")
            continue
        if kind == "cmd" and v == "\\" and (not out or out[-1].type == "REL" or _relation_follows(raw, i)
                                             or _only_filler(raw, i)):
            continue                                # a line break inside one chain (A = \\ B) or at its end
        if kind == "cmd" and v == "\\" and tails is not None and _separable(out, cases):
            out.append(_tok("SEP", "\\"))         # A = B \\ C = D: two statements (or refused, if not)
            continue
        if kind == "foreign":
            raise LatexError("Persian or Arabic text outside \\text{...}: the formula is read as LaTeX; "
                             "write words in \\text{...}")
        if kind == "cmd":
            v = RENAME.get(v, v)
            if remarks and v in CONNECTIVES and not out and not cases:
                continue                        # "\implies A = B": the connective opening the line
            if remarks and v in LIMIT_ARROWS and not cases and out and not _open_brackets(out):
                _limit_remark(out, raw, i, v, tails)
                return out                      # "A, \quad \sigma \to 0": a remark, named, not read
            if remarks and v in OVER_RELATION:
                out.append(_over_relation(raw, i, v))
                i = _group(raw, _group(raw, i)[1])[1]
                continue
            if v in REFUSED:
                raise LatexError(f"\\{v} {REFUSED[v]}; it is not part of an answer")
            if v in ("quad", "qquad") and tails is not None and _separable(out, cases):
                out.append(_tok("SEP", v))      # A \quad B = C: perhaps a second statement
                continue
            if v in DROP:
                if v in SIZERS and i < len(raw) and raw[i] == ("punct", "."):
                    i += 1                      # \left. and \right. are empty delimiters
                continue
            if v in FONTS:
                if i < len(raw) and raw[i] == ("punct", "*"):
                    i += 1                      # \operatorname*{...}
                content, i = _group(raw, i)
                if v in TEXT_FONTS and _is_label(content, out, raw, i):
                    continue                    # \text{Answer:} or \text{پاسخ} before the formula
                if v in TEXT_FONTS and out and (_remark_word(content, remarks) or _foreign(content)):
                    words = "".join(x for _, x in content).strip()
                    level = _open_brackets(out)
                    if level or cases or _more_prose(raw, i):
                        # "-t for t < 1, -1 for t \ge 1": a definition by cases in words, not a remark
                        raise LatexError(f"prose is not an answer: {words[:40]!r}")
                    if not _remark_tail(raw, i):
                        # "A \text{ using } + 7": more formula after the words, which would be lost
                        raise LatexError(f"the formula goes on after the words {words[:40]!r}: a remark must "
                                         "end the answer (a condition such as t > 0 may follow it)")
                    while out and out[-1].type in ("COMMA", "SEMI", "SEP"):
                        out.pop()              # "A, \text{where} ...": the comma joins the remark
                    if tails is not None:
                        tails.append(Tail("condition", f"\\{v}{{{words}}} " + show_raw(raw[i:]),
                                          _unbracket(words, raw[i:]), words))
                    return out             # what follows is a remark (t \in (0, \infty)), not read

                if remarks and v in TEXT_FONTS and out and not cases and _only_filler(raw, i) and \
                        _parenthesised(content):
                    level = _open_brackets(out)
                    if not level:
                        _remark_tail_kept(tails, out, f"\\{v}{{{''.join(x for _, x in content)}}}")
                        return out              # "A \quad \text{(by Jensen)}": a remark closing the answer
                if _punctuation_only(content) and _only_filler(raw, i):
                    continue                    # \text{.} closing the sentence
                out.extend(_font_word(v, content))
                continue
            if v in GREEK:
                out.append(_tok("GREEK", v))
            elif v in DECOR:
                out.append(_tok("DECOR", v))
            elif v in OPNAMES:
                if v in ARG_OPS and out and out[-1].type in ("OPNAME", "WORD") and out[-1].value == "arg":
                    out[-1] = _tok("OPNAME", ARG_OPS[v])       # \arg\min_D: one operator
                    continue
                out.append(_tok("OPNAME", v) if v != "sqrt" else _tok("SQRT", v))
            elif v == "arg":
                out.append(_tok("OPNAME", "arg"))            # read only before \min or \max
            elif v in RELATIONS:
                out.append(_tok("REL", RELATIONS[v]))
            elif v in CMD:
                out.append(_tok(CMD[v], v))
            elif not v.strip():
                raise LatexError("a lone backslash \\ with no command name after it")
            else:
                raise LatexError(f"unknown command \\{v[:40]}")
            if CMD.get(v) in ("FRAC", "SQRT") or v == "sqrt":
                _split_digits(raw, i)
            continue
        if kind == "num":
            if i >= 2 and raw[i - 2][0] == "num" and v.startswith("."):
                raise LatexError(f"a number with two decimal points ({raw[i - 2][1]}{v})")
            if len(v.replace(".", "")) > 40:
                raise LimitError(f"a number with {len(v)} digits is beyond the grader's limits")
            out.append(_tok("NUMBER", v))
        elif kind == "letter":
            out.append(_tok("LETTER", v))
        elif v in "$~&":
            continue                            # math-mode delimiters, ties and alignment marks
        elif v == ":" and i < len(raw) and raw[i] == ("punct", "="):
            out.append(_tok("REL", "="))
            i += 1
        elif v == "=" and i < len(raw) and raw[i] == ("punct", ":"):
            out.append(_tok("REL", "=:"))          # "A =: B" names A; B is a label
            i += 1
        elif v in ".," and _only_filler(raw, i):
            continue                            # a sentence's full stop or comma after the formula
        elif v == "(" and remarks and out and not cases and _spaced_remark(raw, i):
            level = _open_brackets(out)
            if not level:
                _remark_tail_kept(tails, out, "(" + show_raw(raw[i:]))
                return out                      # "A \quad (\text{by Jensen})": a remark after the formula
            out.append(_tok(PUNCT[v], v))
        elif v in PUNCT:
            if v == "^" and _star_follows(raw, i):
                out.extend([_tok("SUP", "^"), _tok("LETTER", "*")])     # D^*, D^{*}: a label
                i = _star_follows(raw, i)
                continue
            out.append(_tok(PUNCT[v], v))
            if v in "^_":
                j = i
                while j < len(raw) and raw[j][0] == "space":
                    j += 1
                if j < len(raw) and raw[j][0] == "num" and len(raw[j][1]) > 1:
                    s = raw[j][1]
                    raise LatexError(f"{v}{s} reads as {v}{s[0]} followed by {s[1:]} in TeX; "
                                     f"write {v}{{{s}}} or {v}{s[0]}\\, {s[1:]}")
        else:
            raise LatexError(f"unexpected character {v!r}")
    if cases:
        raise LatexError("\\begin{cases} is never closed by \\end{cases}")
    return out


def _over_relation(raw, i, cmd) -> Token:
    """``\\overset{label}{=}``, ``\\stackrel{(a)}{\\ge}``: the relation under (or over) the label, as a
    REL token; the label is a remark. Anything but one relation in the second group is refused."""
    _, j = _group(raw, i)
    content, _ = _group(raw, j)
    parts = [(k, v) for k, v in content if k != "space"]
    if len(parts) == 1:
        k, v = parts[0]
        if k == "punct" and v in "=<>":
            return _tok("REL", v)
        if k == "cmd" and RENAME.get(v, v) in RELATIONS:
            return _tok("REL", RELATIONS[RENAME.get(v, v)])
        if k == "cmd" and v in REFUSED:
            raise LatexError(f"\\{cmd}{{...}}{{\\{v}}}: \\{v} {REFUSED[v]}")
    raise LatexError(f"\\{cmd}{{...}}{{...}} is read only over a relation such as = or \\le")


def _spaced_remark(raw, i) -> bool:
    """Is the ``(`` at ``raw[i - 1]`` a remark ``(\\text{...})`` after spacing that ends the answer
    (``A \\quad (\\text{by Jensen})``, ``A \\ (\\text{Bayes})``)?"""
    before = raw[i - 2] if i >= 2 else None
    if before is None or not (before[0] == "space" or before == ("punct", "~") or before[0] == "cmd"
                              and RENAME.get(before[1], before[1]) in DROP and before[1] not in SIZERS):
        return False
    j = i
    while j < len(raw) and raw[j][0] == "space":
        j += 1
    if j >= len(raw) or raw[j][0] != "cmd" or RENAME.get(raw[j][1], raw[j][1]) not in TEXT_FONTS:
        return False
    j += 1
    if j < len(raw) and raw[j] == ("punct", "*"):
        j += 1
    try:
        content, j = _group(raw, j)
    except LatexError:
        return False
    if not any(k == "foreign" or k == "letter" for k, _ in content):
        return False
    while j < len(raw) and raw[j][0] == "space":
        j += 1
    return j < len(raw) and raw[j] == ("punct", ")") and _only_filler(raw, j + 1)


def _foreign(content) -> bool:
    """Does a \\text{...} hold Persian or Arabic words? (prose: a remark, never part of the formula)"""
    return any(k == "foreign" for k, _ in content)


def _is_label(content, out, raw, i) -> bool:
    """``\\text{Answer:}``, ``\\text{پاسخ:}`` before the formula; or Persian words there when no
    other words follow (``\\text{اگر} t < 1 \\text{آنگاه} ...`` is a definition in prose, refused)."""
    if out:
        return False
    text = "".join(v for k, v in content if k != "space").strip()
    if not text or not any(ch.isalpha() for ch in text):
        return False
    if text.endswith(":"):
        return True
    # a Persian word before the formula is a label only when it is one ("the answer", "we have"),
    # never a word that changes the value ("\\text{منفی} X" is "minus X")
    return _foreign(content) and text.rstrip(":") in PERSIAN_LABEL_WORDS and not _more_prose(raw, i)


def _relation_follows(raw, i) -> bool:
    """Is the next thing after ``raw[i - 1]`` (spacing and & aside) a relation such as = or \\le?"""
    for k, v in raw[i:]:
        if k == "space" or (k, v) == ("punct", "&") or (k == "cmd" and RENAME.get(v, v) in DROP):
            continue
        return (k == "punct" and v in "=<>") or (k == "cmd" and (v in RELATIONS or v in OVER_RELATION))
    return False


LIMIT_ARROWS = {"to", "rightarrow", "longrightarrow"}


def _limit_remark(out, raw, i, v, tails) -> None:
    """``A, \\quad \\sigma \\to 0``: an arrow from a variable to its limit after the answer is a
    remark (the answer's value is graded; the remark is kept in ``tails`` and named in the message,
    never checked as a relation). It must follow a separator (a comma, ``;``, ``\\quad``) at the
    formula's top level; the part from that separator on is the remark."""
    cut = _top_level(out)
    if not cut or cut[-1] == 0:
        raise LatexError(f"\\{v} is read only as a limit remark after the answer (A, \\quad \\sigma \\to 0)")
    start = cut[-1]
    head = show_tokens(out[start + 1:])
    del out[start:]
    while out and out[-1].type in ("COMMA", "SEMI", "SEP"):
        out.pop()
    if tails is not None:
        tails.append(Tail("limit", f"{head} \\{v} {show_raw(raw[i:])}".strip()))


def _remark_word(content, remarks: bool = True) -> bool:
    """``\\text{for }``, ``\\text{ where}``, ``\\text{, if}``: a word that starts a remark (by, using,
    via only in a single answer: a chain's reader keeps those remarks itself)."""
    words = "".join(v if k != "space" else " " for k, v in content).replace(",", " ").split()
    if not words:
        return False
    word = words[0].lstrip("([").lower()
    return word in REMARK_WORDS and (remarks or word not in ANSWER_REMARK_WORDS)


TAIL_RELATIONS = {"le", "leq", "ge", "geq", "lt", "gt", "leqslant", "geqslant", "in", "notin", "sim", "ne", "neq",
                  "subset", "subseteq", "to", "rightarrow", "mapsto", "forall"}
TAIL_ARITHMETIC = {"frac", "dfrac", "tfrac", "sqrt", "cdot", "times", "sum", "prod", "int", "log", "exp"}


def _remark_tail(raw, i) -> bool:
    """May what follows a remark word be dropped with it? A condition (t > 0, x \\in X,
    eps \\sim N(0, I)) or names and words only ("for all t"); not arithmetic that would change
    the answer if it were read ("\\text{ using } + 7", "\\text{by} 2")."""
    relation = arithmetic = False
    for k, v in raw[i:]:
        if (k == "punct" and v in "=<>") or (k == "cmd" and RENAME.get(v, v) in TAIL_RELATIONS):
            relation = True
        elif k == "num" or (k == "punct" and v in "+-*/^") or (k == "cmd" and RENAME.get(v, v) in TAIL_ARITHMETIC):
            arithmetic = True
    return relation or not arithmetic


def _more_prose(raw, i) -> bool:
    """Is there another word in \\text after ``raw[i]`` (a second condition, an "otherwise")?"""
    for j in range(i, len(raw) - 1):
        k, v = raw[j]
        if k == "cmd" and RENAME.get(v, v) in TEXT_FONTS:
            try:
                content, _ = _group(raw, j + 1)
            except LatexError:
                return True
            if any(x.isalpha() for _, x in content):
                return True
    return False


def _parenthesised(content) -> bool:
    """``\text{(by Jensen)}``: words in brackets, the whole of the text."""
    parts = [v for k, v in content if k != "space"]
    return len(parts) > 2 and parts[0] == "(" and parts[-1] == ")" and \
        any(k in ("letter", "foreign") for k, _ in content)


def _punctuation_only(content) -> bool:
    parts = [v for k, v in content if k != "space"]
    return bool(parts) and all(v in ".," for v in parts)


def _open_brackets(tokens) -> int:
    """How many brackets are open after ``tokens`` (0 at the formula's top level)."""
    return sum(1 if t.type in OPENERS else -1 if t.type in CLOSERS else 0 for t in tokens)


def _whole_answer(out, raw, i, opening: bool, what: str) -> None:
    """A math-mode wrapper is read as absent only around the whole answer: an opening one before
    anything is read, a closing one with nothing after it (\\[A\\] \\[B\\] is two formulas, not A B)."""
    if (opening and out) or (not opening and not _only_filler(raw, i)):
        raise LatexError(f"{what} inside the answer: one formula per answer, its math delimiters around "
                         "all of it")


def _only_filler(raw, i) -> bool:
    """Is everything from ``raw[i]`` on spacing, sizing or punctuation (nothing to read)?"""
    for k, v in raw[i:]:
        if k == "space" or (k == "cmd" and RENAME.get(v, v) in DROP) or (k == "punct" and v in ".,$"):
            continue
        return False
    return True


def _star_follows(raw, i) -> int:
    """Index after ``*`` / ``{*}`` / ``\\ast`` / ``\\star`` following a ``^`` at i - 1, else 0."""
    star = (("punct", "*"), ("cmd", "ast"), ("cmd", "star"))
    if i < len(raw) and raw[i] in star:
        return i + 1
    if i + 2 < len(raw) and raw[i] == ("punct", "{") and raw[i + 1] in star and raw[i + 2] == ("punct", "}"):
        return i + 3
    return 0


def _split_digits(raw, i) -> None:
    """TeX reads ``\\frac12`` as 1/2 and ``x^23`` as x^2 3: an unbraced argument is one digit."""
    while i < len(raw) and raw[i][0] == "space":
        i += 1
    if i < len(raw) and raw[i][0] == "num" and len(raw[i][1]) > 1:
        s = raw[i][1]
        raw[i:i + 1] = [("num", s[0]), ("num", s[1:])]


def _var_end(toks, i) -> int | None:
    """Index after a variable name at ``toks[i]`` (``x``, ``z_1``, ``\\tilde{x}``), else None."""
    if i >= len(toks):
        return None
    if toks[i].type == "DECOR":
        i += 1
        if i < len(toks) and toks[i].type == "LBRACE":
            depth = 0
            while i < len(toks):
                depth += {"LBRACE": 1, "RBRACE": -1}.get(toks[i].type, 0)
                i += 1
                if depth == 0:
                    break
        else:
            i += 1
    elif toks[i].type in ("LETTER", "GREEK"):
        i += 1
    else:
        return None
    if i < len(toks) and toks[i].type == "SUB":
        i += 1
        if i < len(toks) and toks[i].type == "LBRACE":
            while i < len(toks) and toks[i].type != "RBRACE":
                i += 1
        i += 1
    return i


ENDS_INTEGRAL = {"PLUS", "MINUS", "REL", "RPAR", "RSQB", "RBRACE", "RSET", "COMMA", "ABS_CLOSE",
                 "NORM_CLOSE", "BAR", "DBAR", "SEMI"}


def classify(toks: list[Token]) -> list[Token]:
    """Give ``|``, ``\\|`` and integral ``d`` their roles, tracking what is open."""
    out: list[Token] = []
    stack: list[list] = []        # [kind, callish, has_condition]
    integrals: list[int] = []     # depth at which each open \int was written
    for i, t in enumerate(toks):
        prev = out[-1].type if out else None
        operand = prev in OPERAND_END
        top = stack[-1] if stack else None
        ty = t.type
        if ty in ("LPAR", "LSQB", "LBRACE", "LSET"):
            callish = prev in NAMELIKE or (prev == "WORD")
            stack.append([ty, callish and ty in ("LPAR", "LSQB"), False, _divergence_call(out)])
        elif ty in ("RPAR", "RSQB", "RBRACE", "RSET"):
            want = {"RPAR": "LPAR", "RSQB": "LSQB", "RBRACE": "LBRACE", "RSET": "LSET"}[ty]
            if not stack or stack[-1][0] != want:
                raise LatexError(f"unbalanced brackets at {t.value!r}")
            stack.pop()
        elif ty == "INT":
            integrals.append(len(stack))
        elif ty == "BAR":
            if operand and top and top[0] == "ABS":
                stack.pop()
                t = _tok("ABS_CLOSE", "|")
            elif operand and top and top[1] and not top[2]:
                top[2] = True
                t = _tok("COND", "|")
            else:
                stack.append(["ABS", False, False, False])
                t = _tok("ABS_OPEN", "|")
        elif ty == "DBAR":
            if operand and top and top[0] == "NORM":
                stack.pop()
                t = _tok("NORM_CLOSE", "\\|")
            elif operand and top and top[1] and top[3]:
                t = _tok("KLSEP", "\\|")
            else:
                stack.append(["NORM", False, False, False])
                t = _tok("NORM_OPEN", "\\|")
        elif (integrals and integrals[-1] == len(stack) and
              (t.type == "LETTER" and t.value == "d" or t.type == "WORD" and t.value == "d")):
            end = _var_end(toks, i + 1)
            if end is not None and (end >= len(toks) or toks[end].type in ENDS_INTEGRAL
                                    or toks[end].value == "d"):
                integrals.pop()
                t = _tok("DIFF", "d")
        elif t.type == "WORD" and t.value == "d":
            raise LatexError("a differential d outside an integral")
        out.append(t)
    if stack:
        kind = stack[-1][0]
        raise LatexError("an absolute value |...| is never closed" if kind == "ABS" else
                         "a norm \\|...\\| is never closed" if kind == "NORM" else
                         "unbalanced brackets: one is never closed")
    if integrals:
        raise LatexError("an integral without its differential (dx)")
    return out


def _divergence_call(out: list[Token]) -> bool:
    """Is a bracket about to open the arguments of a divergence (KL, D_{KL}, JS, \\mathbb{I}_{TV})?
    Only there is ``\\|`` a separator rather than a norm."""
    i = len(out) - 1
    if i >= 0 and out[i].type == "RBRACE":             # skip a braced subscript
        depth = 0
        while i >= 0:
            depth += {"RBRACE": 1, "LBRACE": -1}.get(out[i].type, 0)
            i -= 1
            if depth == 0:
                break
        if i >= 0 and out[i].type == "SUB":
            i -= 1
    elif i >= 1 and out[i - 1].type == "SUB":
        i -= 2
    if i < 0:
        return False
    base = out[i]
    if base.type == "WORD" and base.value not in ("bb:E",):
        return True
    if base.type == "LETTER" and base.value in ("D", "I") or base.type == "LETTER" and base.value == "L" \
            and i >= 1 and out[i - 1].type == "LETTER" and out[i - 1].value == "K":
        return True
    return False


def _merge_double_bars(toks: list[Token]) -> list[Token]:
    """``||x||`` is ``\\|x\\|``: two adjacent bars are one double bar."""
    out: list[Token] = []
    for t in toks:
        if t.type == "BAR" and out and out[-1].type == "BAR" and getattr(out[-1], "_adjacent", True):
            out[-1] = _tok("DBAR", "\\|")
        else:
            out.append(t)
    return out


DIVERGENCE_WORDS = {"KL", "JS", "JSD", "TV"}
WORD_SYNONYMS = {"JSD": "JS"}         # one divergence, two abbreviations


def _merge_words(toks: list[Token]) -> list[Token]:
    """``KL(q||p)``, ``1 - TV`` typed without \\mathrm: a run of capitals naming a divergence
    (and no longer run of letters) is one word; in a subscript (D_{KL}) it stays letters."""
    out: list[Token] = []
    i = 0
    while i < len(toks):
        for word in sorted(DIVERGENCE_WORDS, key=len, reverse=True):
            n = len(word)
            run = toks[i:i + n]
            if len(run) == n and all(t.type == "LETTER" for t in run) and "".join(run) == word and \
                    (i + n == len(toks) or toks[i + n].type != "LETTER") and \
                    (i == 0 or toks[i - 1].type not in ("LETTER", "SUB")):
                out.append(_tok("WORD", WORD_SYNONYMS.get(word, word)))
                i += n
                break
        else:
            out.append(toks[i])
            i += 1
    return out


def _positive_parts(toks: list[Token]) -> list[Token]:
    """``(1-\\alpha)_+`` and ``[x]_{+}``, the positive part max(0, x): one POSPART token."""
    out: list[Token] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.type == "SUB" and i + 1 < len(toks) and toks[i + 1].type == "PLUS":
            out.append(_tok("POSPART", "+"))
            i += 2
            continue
        if t.type == "SUB" and [x.type for x in toks[i + 1:i + 4]] == ["LBRACE", "PLUS", "RBRACE"]:
            out.append(_tok("POSPART", "+"))
            i += 4
            continue
        out.append(t)
        i += 1
    return out


def depth(toks) -> int:
    d = best = 0
    for t in toks:
        if t.type in ("LPAR", "LSQB", "LBRACE", "LSET"):
            d += 1
            best = max(best, d)
        elif t.type in ("RPAR", "RSQB", "RBRACE", "RSET"):
            d -= 1
    return best


def tokenize(text: str, remarks: bool = True) -> list[Token]:
    """Bounded, cleaned, normalised and classified tokens of ``text``."""
    if not isinstance(text, str):
        raise LatexError(f"an answer is text, not {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise LimitError(f"the answer is {len(text)} characters long; the limit is {MAX_CHARS}")
    text = clean(text)
    nesting = max_nesting(text)
    if nesting > MAX_DEPTH:
        raise LimitError(f"brackets nested {nesting} deep; the limit is {MAX_DEPTH}")
    toks = normalise(raw_tokens(text), remarks)
    if len(toks) > MAX_TOKENS:
        raise LimitError(f"the answer has {len(toks)} tokens; the limit is {MAX_TOKENS}")
    toks = _cut_remark(toks)
    if not toks:
        raise LatexError("the answer is empty")
    return classify(_merge_double_bars(_merge_words(_positive_parts(toks))))


def tokenize_parts(text: str) -> tuple[list[list[Token]], list[Tail]]:
    """The whole answer, nothing cut: its statements (classified tokens of each formula; the first
    is the answer's formula, each further one holds a relation) and its tails (conditions and
    remarks). Statements are separated at the top level by a comma, ``;``, ``\\quad``, a line break
    or a new line *before a formula with a relation* (``A, \\quad R = 7``, ``A, t > 0``); elsewhere
    a comma is a comma (refused by the grammar) and spacing is spacing. A tail after a remark word
    (``\\text{for } t > 0``) is returned as raw tokens: ``tail_tokens`` reads it."""
    if not isinstance(text, str):
        raise LatexError(f"an answer is text, not {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise LimitError(f"the answer is {len(text)} characters long; the limit is {MAX_CHARS}")
    text = clean(text)
    nesting = max_nesting(text)
    if nesting > MAX_DEPTH:
        raise LimitError(f"brackets nested {nesting} deep; the limit is {MAX_DEPTH}")
    tails: list[Tail] = []
    toks = normalise(raw_tokens(text), True, tails)
    if len(toks) > MAX_TOKENS:
        raise LimitError(f"the answer has {len(toks)} tokens; the limit is {MAX_TOKENS}")
    segments = split_statements(toks)
    if not segments or not segments[0]:
        raise LatexError("the answer is empty")
    return [_finish(seg) for seg in segments], tails


def tail_tokens(tail: Tail) -> list[list[Token]]:
    """The formulas of a condition after a remark word (``t > 0``, ``t > 0, s > 0``), classified."""
    if tail.tokens is not None:
        return [_finish(tail.tokens)]
    inner: list[Tail] = []
    toks = normalise(tail.raw, True, inner)
    if inner:
        raise LatexError(f"more words after the condition: {clip_text(inner[0].text)!r}")
    return [_finish(seg) for seg in split_statements(toks) if seg]


def clip_text(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _finish(toks: list[Token]) -> list[Token]:
    return classify(_merge_double_bars(_merge_words(_positive_parts(toks))))


def _top_level(toks) -> list[int]:
    """Indices of commas, semicolons and separators outside every bracket."""
    level, out = 0, []
    for i, t in enumerate(toks):
        if t.type in OPENERS:
            level += 1
        elif t.type in CLOSERS:
            level -= 1
        elif level == 0 and t.type in ("COMMA", "SEMI", "SEP"):
            out.append(i)
    return out


def _has_relation(toks) -> bool:
    level = 0
    for t in toks:
        if t.type in OPENERS:
            level += 1
        elif t.type in CLOSERS:
            level -= 1
        elif level == 0 and t.type in ("REL", "SIM", "IN"):
            return True
    return False


# a formula cannot start with these: after \\quad or a new line they continue the formula before
_OPERATORS = ("REL", "PLUS", "MINUS", "MUL", "DIV", "SUP", "SUB", "PRIME", "POSPART", "SIM", "IN", "COMMA", "SEMI")


def split_statements(toks: list[Token]) -> list[list[Token]]:
    """``toks`` cut at each top-level separator that is followed by a formula with a relation.
    A separator that is not followed by one is spacing (\\quad, a new line: dropped), a comma
    or semicolon (kept: the grammar refuses it between two values) or a line break (refused)."""
    cuts = _top_level(toks)
    segments: list[list[Token]] = []
    end = len(toks)
    for c in reversed(cuts):
        after = toks[c + 1:end]
        opens = after and after[0].type not in (_OPERATORS if toks[c].type == "SEP" else ("REL",))
        if opens and _has_relation(after) and any(t.type not in ("SEP", "COMMA", "SEMI") for t in toks[:c]):
            segments.append(after)
            end = c
    first = toks[:end]
    segments.append(first)
    segments.reverse()
    out = []
    for seg in segments:
        kept = []
        for t in seg:
            if t.type == "SEP":
                if t.value == "\\":
                    raise LatexError("\\\\ " + REFUSED["\\"] + "; it is not part of an answer")
                continue
            kept.append(t)
        while kept and kept[-1].type in ("COMMA", "SEMI"):
            kept.pop()
        out.append(kept)
    return out


OPENERS = ("LPAR", "LSQB", "LBRACE", "LSET", "CASES_OPEN")
CLOSERS = ("RPAR", "RSQB", "RBRACE", "RSET", "CASES_CLOSE")


def _cut_remark(toks: list[Token]) -> list[Token]:
    """The formula without a condition after it: ``A, \\ \\epsilon \\sim N(0, I)`` and ``A, t > 0`` are A:
    a comma outside every bracket followed by a relation or a ~. (A remark word in \\text, such
    as ``\\text{for}``, ends the formula already in ``normalise``.)"""
    level = 0
    for i, t in enumerate(toks):
        if t.type in OPENERS:
            level += 1
        elif t.type in CLOSERS:
            level -= 1
        elif t.type == "COMMA" and level == 0 and i and \
                any(x.type in ("REL", "SIM", "IN") for x in toks[i + 1:]):
            return toks[:i]
    return toks


def max_nesting(text: str) -> int:
    """Nesting depth of ( [ { in the raw text: checked before the text is parsed at all."""
    d = best = 0
    for ch in text:
        if ch in "([{":
            d += 1
            if d > best:
                best = d
        elif ch in ")]}":
            d -= 1
    return best
