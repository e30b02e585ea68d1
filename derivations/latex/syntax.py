"""The grammar (``grammar.lark``, LALR) run over the lexer's tokens: text -> parse tree.

The parse is all-or-nothing: a token the grammar does not expect is an error that quotes
it, never a silently kept prefix.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer

from .errors import LatexError, LimitError
from .lexer import tokenize

# How deep the reader (and SymPy after it) may recurse: bracket nesting is bounded by the lexer,
# but operators nest without brackets too (- - - t, \log \log t, \sum \sum t). The longest
# students' answers reach ~25; thirty nested \frac{1}{...} reach ~150.
MAX_TREE_DEPTH = 160
_CHAINS = {"add", "sub", "juxt", "mul", "div"}     # left-nested runs the reader walks in a loop


def tree_depth(tree) -> int:
    """Nesting depth of a parse tree, computed without recursion; a run a + b + c counts once."""
    best, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        if isinstance(node, Tree):
            for i, child in enumerate(node.children):
                same = i == 0 and node.data in _CHAINS and isinstance(child, Tree) and child.data in _CHAINS
                stack.append((child, d if same else d + 1))
    return best


class _Given(Lexer):
    """Hands lark the already-made token list (our lexer does the context-dependent work)."""

    def __init__(self, lexer_conf):
        pass

    def lex(self, data):
        yield from data


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser, built once and kept in the cache folder (``startup_cache.cache_dir``):
    lark stores the built tables with a hash of the grammar and options and rebuilds them when
    either changed (or the file cannot be read or written)."""
    grammar = (Path(__file__).with_name("grammar.lark")).read_text()
    cache = None
    from .. import startup_cache
    if not startup_cache.disabled():
        try:
            folder = startup_cache.cache_dir()
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            import lark
            cache = str(folder / f"latex-grammar-lark{lark.__version__}.cache")
        except OSError:
            cache = None
    return Lark(grammar, parser="lalr", lexer=_Given, start=["start", "continuation"], cache=cache)


_SHOW = {"$END": "the end of the answer"}


def parse_tree(text: str, continuation: bool = False) -> Tree:
    """Parse tree of ``text``; ``LatexError`` says where the grammar stopped and why.

    ``continuation=True`` also reads a step that starts with its relation (``= C``, ``\\le D``,
    ``&= C``): the tree is then a ``continuation`` (relations and members, no first member)."""
    toks = tokenize(text)
    if continuation and toks and toks[0].type == "REL":
        # a step that continues a chain ("\\stackrel{Jensen}{\\ge} C \\quad (\\text{Jensen})"): read
        # without the single-answer remark rules, so that the chain reader sets its remarks aside and
        # keeps them (it does so only for a step it cannot read as written)
        toks = tokenize(text, remarks=False)
    start = "continuation" if continuation and toks and toks[0].type == "REL" else "start"
    return parse_tokens(toks, start)


def parse_tokens(toks, start: str = "start") -> Tree:
    """Parse tree of already-made tokens (``lexer.tokenize_parts``); errors as ``parse_tree``'s."""
    try:
        tree = parser().parse(toks, start=start)
    except UnexpectedToken as exc:
        tok = exc.token
        where = _SHOW.get(tok.type, repr(str(tok.value))) if tok is not None else "the end"
        if tok is not None and tok.type == "$END":
            raise LatexError("the answer ends too early (an operator or bracket is missing its operand)") from None
        raise LatexError(f"unexpected {where} in the answer") from None
    except UnexpectedInput:
        raise LatexError("cannot read the answer") from None
    depth = tree_depth(tree)
    if depth > MAX_TREE_DEPTH:
        raise LimitError(f"operators nested {depth} deep (such as - - - t or \\log \\log t); "
                         f"the limit is {MAX_TREE_DEPTH}")
    return tree
