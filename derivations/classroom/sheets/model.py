"""What reading a sheet produces, shared by every reader: the ``Sheet``, the ``Problem`` a person
acts on, the two errors that give a whole file up, and the limits that keep a hostile file
from costing memory or time."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field


MAX_SHEET_BYTES = 1 << 20           # one student's YAML/JSON/LaTeX file
MAX_CSV_BYTES = 16 << 20            # a course export with the whole class
MAX_STEPS = 60
MAX_ENTRIES = 500                   # answers + chains on one sheet (a course has fewer slots)
MAX_NESTING = 20
SHEET_SUFFIXES = (".yaml", ".yml", ".json", ".tex", ".csv")
STUDENT_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}\Z")   # \Z: "s1\n" is not an id


@dataclass(frozen=True)
class Problem:
    """Something a person must look at; ``slot`` is empty when it concerns the whole file."""

    source: str
    reason: str
    student: str = ""
    slot: str = ""
    lost: bool = False      # the whole file was not read (the student's other slots say so)


@dataclass
class Sheet:
    student: str
    sources: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    chains: dict[str, list[str]] = field(default_factory=dict)
    blocked: set = field(default_factory=set, repr=False)   # slots given twice: none of it graded
    origin: dict = field(default_factory=dict, repr=False)  # slot -> the file it was read from

    def items(self) -> list[tuple[str, str, object]]:
        """(slot, kind, payload) in slot order: kind is "answer" or "chain"."""
        out = [(s, "answer", a) for s, a in self.answers.items()]
        out += [(s, "chain", tuple(c)) for s, c in self.chains.items()]
        return sorted(out, key=lambda x: x[0])

    def result_key(self, slot: str, kind: str) -> str:
        """Where a result is recorded: the slot id, except for a chain given beside an answer to
        the same slot, which is recorded apart (``SLOT#chain``) so that both verdicts are kept."""
        return chain_key(slot) if kind == "chain" and slot in self.answers else slot

    def content_hash(self) -> str:
        """Hash of what is graded (not of the file's bytes): a changed answer changes it,
        moving a sheet between folders or reformatting unrelated LaTeX does not."""
        body = json.dumps({"student": self.student, "answers": self.answers, "chains": self.chains},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


CHAIN_SUFFIX = "#chain"


def chain_key(slot: str) -> str:
    """The result key of a chain given beside an answer to the same slot."""
    return slot + CHAIN_SUFFIX


class SheetError(ValueError):
    """The whole file is unusable (the message says why)."""


class MalformedYaml(SheetError):
    """A YAML syntax error, an alias or too deep a nesting somewhere in the sheet: the sheet is
    then read entry by entry (``recover_yaml``), each entry under the same refusals."""


# markers put in place of a parsed value that is not graded (the readers report why)
_DUPLICATED = object()      # a key given twice: neither value is graded
_BROKEN = object()          # an entry that did not parse (already reported): not graded
