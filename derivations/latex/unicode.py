"""Unicode clean-up before anything else reads the text.

Students paste answers from word processors and chat apps: fullwidth or Persian digits,
Cyrillic look-alikes of Latin letters, zero-width joiners, Unicode maths (α, −, ≤). Each is
mapped to the plain LaTeX it looks like; invisible formatting characters are dropped; control
characters (NUL included) are refused, because no answer contains one on purpose. Persian
(Arabic-script) words are kept as they are: the lexer reads them as prose inside \\text{...}
(a remark or a label) and refuses them anywhere else.
"""
from __future__ import annotations

import unicodedata

from .errors import LatexError

# Invisible formatting characters that copy-paste leaves behind.
ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063"
                                    "\u2064\ufeff\u00ad\u202a\u202b\u202c\u202d\u202e\u2066\u2067"
                                    "\u2068\u2069"), None)

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits; NFKC already folds fullwidth ones.
DIGITS = {**{0x06F0 + i: str(i) for i in range(10)}, **{0x0660 + i: str(i) for i in range(10)}}

# Letters that look like Latin ones (Cyrillic and Greek capitals used as homoglyphs).
HOMOGLYPHS = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h", "к": "k", "м": "m", "т": "t", "в": "b",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Χ": "X", "Υ": "Y", "ο": "o",
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-",
    "\u00d7": r"\times ", "\u22c5": r"\cdot ", "\u00b7": r"\cdot ", "\u2217": "*",
    "\u2264": r"\le ", "\u2265": r"\ge ", "\u2016": r"\|", "\u2223": "|", "\u221a": r"\sqrt ",
    "\u221e": r"\infty ", "\u2211": r"\sum ", "\u222b": r"\int ", "\u2207": r"\nabla ",
    "\u2202": r"\partial ", "\u00a0": " ", "\u3000": " ", "\u2009": " ", "\u202f": " ",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2032": "'",
    "\u066b": ".", "\u066c": ",", "\u060c": ",",
}

GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ϵ": "epsilon",
    "ζ": "zeta", "η": "eta", "θ": "theta", "ϑ": "theta", "ι": "iota", "κ": "kappa",
    "λ": "lambda", "μ": "mu", "µ": "mu", "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho",
    "σ": "sigma", "ς": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "ϕ": "phi", "χ": "chi",
    "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda",
    "Ξ": "Xi", "Π": "Pi", "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega", "ℓ": "ell",
}
COMBINING = {"\u0304": "bar", "\u0305": "bar", "\u0303": "tilde", "\u0302": "hat"}


# Control characters a YAML (or JSON) double-quoted string makes from a backslash escape: "\frac"
# is a form feed followed by "rac". (name, the escape's letter, a command it starts)
YAML_CONTROL = {"\x0c": ("a form feed", "f", "frac"), "\x08": ("a backspace", "b", "beta"),
                "\x07": ("a bell", "a", "alpha"), "\x0b": ("a vertical tab", "v", "varepsilon"),
                "\x1b": ("an escape", "e", "epsilon")}
# Escapes that become spacing instead (read as spaces, so the command's name loses its first letter)
YAML_SPACING = {"\t": "t", "\n": "n", "\r": "r"}
QUOTING_HINT = ("a YAML or JSON double-quoted string turns \\f, \\b, \\t, \\n, \\r (in \\frac, \\beta, "
                "\\theta, \\nabla, \\rho) into control characters; write the answer in single quotes "
                "('\\frac{-4t}{1+t}') or as a block scalar (| on the key's line, the answer indented below it), "
                "or double each backslash")


def yaml_escape_hint(text: str) -> str:
    """A hint when ``text`` looks like LaTeX that a double-quoted YAML/JSON string has mangled: a
    control character from \\f, \\b, \\a, \\v, \\e, or a tab, new line or carriage return
    directly followed by the rest of a command's name (tab + "heta" from \\theta, new line +
    "abla" from \\nabla); "" otherwise."""
    from .lexer import CMD, DECOR, DROP, FONTS, GREEK as GREEK_NAMES, OPNAMES, RELATIONS, RENAME
    if not isinstance(text, str):
        return ""
    for ch, (name, letter, example) in YAML_CONTROL.items():
        if ch in text:
            return f"the answer holds {name} (U+{ord(ch):04X}), probably from \\{letter} as in \\{example}: " + QUOTING_HINT
    known = set(GREEK_NAMES) | set(CMD) | set(DECOR) | set(DROP) | set(FONTS) | set(OPNAMES) | set(RELATIONS) | \
        set(RENAME) | {"text", "tfrac", "tilde", "times", "top", "to", "nabla", "nu", "neq", "ne", "right", "rho",
                       "rangle", "rvert", "rVert", "tau", "theta", "tanh", "tan"}
    for ch, letter in YAML_SPACING.items():
        start = 0
        while (k := text.find(ch, start)) >= 0:
            start = k + 1
            rest = ""
            for c in text[k + 1:]:
                if not c.isalpha():
                    break
                rest += c
            if rest and any((letter + rest).startswith(cmd) and len(cmd) > 1 and cmd.startswith(letter)
                            for cmd in known if len(cmd) <= len(rest) + 1):
                shown = {"\t": "a tab", "\n": "a new line", "\r": "a carriage return"}[ch]
                return (f"the answer holds {shown} followed by {rest[:12]!r}, probably from \\{letter}{rest[:12]}: "
                        + QUOTING_HINT)
    return ""


def _arabic_script(ch: str) -> bool:
    """A Persian/Arabic letter, mark or punctuation sign (kept for \\text{...}; digits are mapped)."""
    return unicodedata.name(ch, "").startswith("ARABIC")


def clean(text: str) -> str:
    """``text`` as plain-ASCII LaTeX, or ``LatexError`` naming the character it cannot read."""
    if not isinstance(text, str):
        raise LatexError(f"an answer is text, not {type(text).__name__}")
    text = text.translate(ZERO_WIDTH)
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in "\n\r":
            out.append("\n")           # a new line may separate two statements (the lexer decides)
        elif ch == "\t":
            out.append(" ")
        elif code < 32 or 0x7F <= code < 0xA0:
            made = YAML_CONTROL.get(ch)
            if made:
                raise LatexError(f"control character U+{code:04X} ({made[0]}) in the answer, where the text probably "
                                 f"had \\{made[1]} (as in \\{made[2]}): {QUOTING_HINT}")
            raise LatexError(f"control character U+{code:04X} in the answer")
        elif code < 0x7F:
            out.append(ch)
        elif code in DIGITS:
            out.append(DIGITS[code])
        elif ch in HOMOGLYPHS:
            out.append(HOMOGLYPHS[ch])
        elif ch in GREEK:
            out.append(f"\\{GREEK[ch]} ")
        elif ch in COMBINING and out:  # x̄ -> \bar{x}
            out[-1] = f"\\{COMBINING[ch]}{{{out[-1]}}}"
        else:
            folded = unicodedata.normalize("NFKC", ch)
            if folded.isascii() and folded.isprintable() and folded.strip():
                out.append(folded)
            elif folded in GREEK:
                out.append(f"\\{GREEK[folded]} ")
            elif unicodedata.category(ch) == "Zs":
                out.append(" ")
            elif _arabic_script(ch):
                out.append(ch)          # Persian words: the lexer reads them as prose in \text{...} only
            else:
                name = unicodedata.name(ch, "unnamed")
                raise LatexError(f"character {ch!r} (U+{code:04X} {name}) is not LaTeX the grader reads")
    return "".join(out)
