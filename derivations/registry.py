"""The slot registry: the one place where a slot (a named result) and the derivations that
establish it are defined. Verify, grade and publish all read it.

The catalogue modules (``derivations.catalogue.*``) fill it on import; ``load()`` imports them.
Loading is lazy per question: ``get_slot("gan.square.f")`` imports ``derivations.catalogue.gan``
only (a catalogue module registers only slots of its own question, which a test checks), and
``question_slots("gan")`` gives that question's slots; ``slots()`` and ``derivations()`` load
everything. Other sources of slots (questions written in YAML) register with ``add_loader``; a
lookup that the question's module does not answer falls back to loading everything.
"""
from __future__ import annotations

import difflib
import importlib
import sys
from dataclasses import dataclass, field
from typing import Callable

from .step import Derivation, Step


@dataclass(frozen=True)
class Slot:
    """A named result: what an answer to ``id`` must equal, over which symbols."""

    id: str
    statement: str
    reference: object = None        # SymPy expression (or Matrix / relation) an answer must equal
    symbols: tuple = ()             # symbols an answer may use; domains are in ``symbols.py``
    conditions: tuple = ()          # side conditions on those symbols (SymPy relationals)
    definitions: dict = field(default_factory=dict)  # named quantities -> expression in primitives
    functions: tuple = ()           # unknown functions an answer may apply (p_d, eps_theta, ...)
    accepts: Callable | None = None  # set-valued answers: (answer_expr) -> Evidence
    kind: str = "expression"        # expression | relation | set | structural | matrix
    latex: str = ""                 # reference in LaTeX, when the printer's form is not the best
    question: str = ""              # q1..q5, for grouping in reports
    matrix_kinds: dict = field(default_factory=dict)  # matrix name -> "spd" | "any" | "vector"


_SLOTS: dict[str, Slot] = {}
_DERIVATIONS: dict[str, Derivation] = {}
_LOADED = False
CATALOGUE = ("lemma", "ddim", "gan", "vae", "hvae", "sm")
_ORIGIN: dict[str, str] = {}          # slot id -> the module that registered it
_LOADERS: list[Callable[[], None]] = []  # other sources of slots, run by load()


def slot(id: str, statement: str, **fields) -> Slot:
    """Register a slot (once; a second definition of the same id is a bug)."""
    if id in _SLOTS:
        raise ValueError(f"slot {id!r} is defined twice")
    fields.setdefault("question", id.split(".")[0])
    s = Slot(id, statement, **fields)
    _SLOTS[id] = s
    _ORIGIN[id] = sys._getframe(1).f_globals.get("__name__", "?")
    return s


def derivation(id: str, title: str, steps, source: str = "") -> Derivation:
    """Register a derivation; remembers the caller's file and line for reports and pytest."""
    if id in _DERIVATIONS:
        raise ValueError(f"derivation {id!r} is defined twice")
    caller = sys._getframe(1)             # not inspect.stack(): it reads every frame's source lines
    flat: list[Step] = []
    for s in steps:
        flat.extend(s if isinstance(s, (list, tuple)) else [s])
    d = Derivation(id, title, tuple(flat), source, caller.f_code.co_filename, caller.f_lineno)
    _DERIVATIONS[id] = d
    return d


def load() -> None:
    """Import every catalogue module and run every other slot source (idempotent)."""
    global _LOADED
    if not _LOADED:
        for name in CATALOGUE:
            importlib.import_module(f"derivations.catalogue.{name}")
        for loader in list(_LOADERS):
            loader()
        _LOADED = True


def add_loader(loader: Callable[[], None]) -> None:
    """Register another source of slots (called by ``load()``; at once if everything is loaded)."""
    _LOADERS.append(loader)
    if _LOADED:
        loader()


def register(s: Slot) -> Slot:
    """Add a slot built elsewhere (a question file's slot, ``derivations.questions``); an id already
    taken is refused (call ``slots()`` first to compare with the whole catalogue)."""
    global _REGISTERED
    if s.id in _SLOTS:
        raise ValueError(f"slot {s.id!r} is defined twice")
    _SLOTS[s.id] = s
    _ORIGIN[s.id] = sys._getframe(1).f_globals.get("__name__", "?")
    _REGISTERED += 1
    return s


_REGISTERED = 0


def registered_count() -> int:
    """How many slots were added by ``register``: a process-wide grader forked before a question
    file was loaded does not know its slots, so ``grading.sandbox.shared`` keys on this."""
    return _REGISTERED


def fully_loaded() -> bool:
    return _LOADED


def load_question(question: str) -> None:
    """Import the catalogue module of one question (``gan`` for ``gan.square.f``), if it has one."""
    if not _LOADED and question in CATALOGUE:
        importlib.import_module(f"derivations.catalogue.{question}")


def question_slots(question: str) -> dict[str, Slot]:
    """The slots of one question (id prefix ``question.``): what a slot's scope and mistake names
    may draw on, without loading the rest of the catalogue."""
    if _LOADERS or question not in CATALOGUE:
        load()
    else:
        load_question(question)
    prefix = question + "."
    return {k: v for k, v in _SLOTS.items() if k.startswith(prefix)}


def origin(slot_id: str) -> str:
    """The module that registered the slot."""
    get_slot(slot_id)
    return _ORIGIN[slot_id]


def slots() -> dict[str, Slot]:
    load()
    return dict(_SLOTS)


def derivations() -> dict[str, Derivation]:
    load()
    return dict(_DERIVATIONS)


def matches(id: str, selectors) -> bool:
    """``ddim`` selects ``ddim.gamma``; an exact id selects itself."""
    return not selectors or any(id == s or id.startswith(s.rstrip(".") + ".") for s in selectors)


def select(selectors=()) -> list[Derivation]:
    """Derivations whose id, or one of whose slots, matches a selector."""
    chosen = []
    for d in derivations().values():
        if matches(d.id, selectors) or any(matches(s, selectors) for s in d.slots):
            chosen.append(d)
    return chosen


def get_slot(id: str) -> Slot:
    if isinstance(id, str) and id not in _SLOTS and not _LOADED:
        load_question(id.split(".")[0])
    if id in _SLOTS:
        return _SLOTS[id]
    table = slots()
    if id not in table:
        containing = [s for s in table if id and id.lower() in s.lower()]      # "ddpm" -> ddim.ddpm_sigma
        near = (containing + [s for s in difflib.get_close_matches(id, table, n=5, cutoff=0.5)
                              if s not in containing])[:5]
        hint = f"; did you mean {', '.join(near)}?" if near else "; `derivcheck slots` lists them"
        raise KeyError(f"unknown slot {id!r}{hint}")
    return table[id]


def unknown_selectors(selectors) -> list[str]:
    names = set(slots()) | set(derivations())
    return [s for s in selectors if not any(matches(n, [s]) for n in names)]
