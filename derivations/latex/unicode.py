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
        if ch in "\t\n\r":
            out.append(" ")
        elif code < 32 or 0x7F <= code < 0xA0:
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
