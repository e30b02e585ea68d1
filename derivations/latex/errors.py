"""Why a piece of LaTeX is not an answer: each error says what, in the student's terms."""
from __future__ import annotations


class LatexError(ValueError):
    """The text is not an answer the grader can read (verdict ``invalid``)."""


class UnknownName(LatexError):
    """A symbol or function the slot does not declare (named in the message)."""

    def __init__(self, name: str, what: str = "symbol", known: tuple[str, ...] = ()):
        self.name, self.what, self.known = name, what, tuple(known)
        hint = f"; this slot knows {', '.join(known)}" if known else ""
        super().__init__(f"unknown {what} {clip(name)}{hint}")

    def __reduce__(self):          # rebuilt from its parts when it crosses a process boundary
        return UnknownName, (self.name, self.what, self.known)


def clip(text: str, n: int = 40) -> str:
    """At most ``n`` characters of the student's text, for a message (a 2000-letter \\text{...}
    is named by its start, not echoed whole)."""
    text = str(text)
    return text if len(text) <= n else text[:n] + f"... ({len(text)} characters)"


class LimitError(LatexError):
    """Readable but outside the grader's limits (size, nesting, huge powers): ``unchecked``."""
