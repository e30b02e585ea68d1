r"""Answer sheets from files and folders: YAML/JSON, LaTeX and CSV, every problem a review entry.

A sheet is what one student handed in: answers (slot -> LaTeX) and chains (slot -> steps).
Reading never parses the LaTeX itself (that happens in a sandboxed worker); it only splits
files into per-slot text. Whatever is wrong with a file becomes a ``Problem`` with a message
a person can act on (file and line where there is one), and the rest of the class is read as
usual. The rules:

* **One bad answer costs that answer only.** An unclosed brace in a LaTeX answer ends at the
  next ``\answer``/``\step``/``\student``; a YAML sheet that does not parse is read entry by
  entry (a syntax error, an alias or deep nesting costs its entry); a CSV quote that is never
  closed costs its row, not the rows after it. A broken step costs its slot's whole chain.
* **A file that cannot be read at all** (binary, too large, not a mapping, ...) is one problem;
  when it names its student (``student: s1``, ``\student{s1}``) that student is still listed,
  every slot showing the reason.
* **Duplicates.** A slot given twice on one sheet (or as both an answer and a chain) is not
  graded. A student's answers may be split over several files (a course system may export one
  CSV per question): they are merged; a slot answered *identically* in two files is graded
  once, a slot answered *differently* is a conflict -- neither version is graded, and the
  conflict is listed in review.csv and in that slot's feedback for a person to decide.
* **Not text.** A null, list, mapping or true/false answer is not graded (named); numbers are
  kept as written (``0.50``, ``1e-3``; a 5000-digit integer is not converted).
* **Display maths.** ``\begin{align}``..., ``\[ \]`` and ``\\`` row breaks become one step each in a
  chain (an answer's rows that continue with ``&= ...`` are joined); ``\label``, ``\tag``,
  ``\nonumber`` and remarks after ``\quad`` are dropped; ``cases`` rows are left alone.
* **Encodings.** UTF-8 (with or without BOM), UTF-16/32 with a BOM; CRLF line ends; anything
  else that is text is read as Windows-1252 with a note.
* **Student ids** must be 1-64 of ``A-Za-z0-9_.@+-`` starting with a letter or digit: they
  name output files, so ``../x``, ``a/b`` or a trailing newline are refused.
"""
from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

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

    def content_hash(self) -> str:
        """Hash of what is graded (not of the file's bytes): a changed answer changes it,
        moving a sheet between folders or reformatting unrelated LaTeX does not."""
        body = json.dumps({"student": self.student, "answers": self.answers, "chains": self.chains},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


class SheetError(ValueError):
    """The whole file is unusable (the message says why)."""


class MalformedYaml(SheetError):
    """A YAML syntax error, an alias or too deep a nesting somewhere in the sheet: the sheet is
    then read entry by entry (``recover_yaml``), each entry under the same refusals."""


# ---------------------------------------------------------------------------- files


def sheet_files(paths, exclude=()) -> tuple[list[Path], list[Problem]]:
    """Files named directly, and files under folders (sorted, hidden ones skipped).

    Under a folder, only regular files are read: a FIFO or device would block or never end,
    and a symbolic link that leads outside the folder could make a student's "sheet" any file
    on the machine (its text would surface in the feedback); both are reported, not read.
    Folders in ``exclude`` (the output folder, when it lies inside the class) are skipped."""
    files, problems = [], []
    skip = {os.path.realpath(e) for e in exclude}
    for p in paths:
        path = Path(p)
        if path.is_dir():
            top = os.path.realpath(path)
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                                 and os.path.realpath(os.path.join(root, d)) not in skip)
                for name in sorted(names):
                    if name.startswith("."):
                        continue
                    f = Path(root) / name
                    real = os.path.realpath(f)
                    if os.path.commonpath([top, real]) != top:
                        problems.append(Problem(str(f), "a link to a file outside the folder being graded; "
                                                "not read"))
                        continue
                    try:
                        regular = stat.S_ISREG(os.stat(f).st_mode)
                    except OSError as exc:
                        problems.append(Problem(str(f), f"cannot read the file ({exc.strerror or exc})"))
                        continue
                    if not regular:
                        problems.append(Problem(str(f), "not a regular file (a pipe, device or socket); not read"))
                        continue
                    files.append(f)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            problems.append(Problem(str(path), "not a regular file or folder; not read"))
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    seen, unique = set(), []
    for f in files:
        key = os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems


def _read_text(path: Path, limit: int, notes: list | None = None) -> str:
    """The file as text with ``\n`` line ends. UTF-8 (a BOM is dropped); UTF-16/32 with a BOM;
    anything else that is text is read as Windows-1252 with a note in ``notes``. Binary data
    (NUL bytes outside UTF-16, or mostly control characters) and oversized files are refused."""
    size = path.stat().st_size
    if size > limit:
        raise SheetError(f"the file is {size / 2**20:.1f} MB; sheets larger than {limit / 2**20:g} MB "
                         "are not read")
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise SheetError(f"the file is larger than {limit / 2**20:g} MB; not read")
    text = _decode(data, notes)
    return text.replace("\r\n", "\n").replace("\r", "\n")


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\x80-\x9f\ufffd]")


def _decode(data: bytes, notes: list | None) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise SheetError(f"the file starts with a {codec.upper()} byte-order mark but is not "
                                 f"{codec.upper()} text (bad data at offset {exc.start})") from None
            if "\x00" in text:
                raise SheetError("the file is binary (it contains NUL characters), not a text sheet")
            return text
    if b"\x00" in data:
        raise SheetError("the file is binary (it contains NUL bytes), not a text sheet")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        text = data.decode("cp1252", errors="replace")
        if _binary(text):
            raise SheetError(f"the file is not UTF-8 text (bad byte at offset {exc.start}, line {line}) "
                             "and looks binary") from None
        if notes is not None:
            notes.append(f"the file is not UTF-8 text (bad byte at offset {exc.start}, line {line}); "
                         "it was read as Windows-1252 (Latin-1): check its answers, and save it as UTF-8")
        return text
    if _binary(text):
        raise SheetError("the file is binary (mostly control characters), not a text sheet")
    return text


def _binary(text: str) -> bool:
    return bool(text) and len(_CONTROL.findall(text[:65536])) > max(8, len(text[:65536]) // 20)


# ---------------------------------------------------------------------------- YAML / JSON


_DUPLICATED = object()      # a key given twice: neither value is graded
_BROKEN = object()          # an entry that did not parse (already reported): not graded


class _SheetLoader(yaml.SafeLoader):
    """Safe YAML without aliases (no alias bombs), bounded nesting, duplicated keys kept as
    ``_DUPLICATED`` and listed in ``dups`` (PyYAML silently keeps the last one)."""

    def __init__(self, stream):
        super().__init__(stream)
        self.depth, self.dups = 0, []

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise MalformedYaml(f"YAML aliases (*{event.anchor}) are not allowed in answer sheets "
                                f"(line {event.start_mark.line + 1})")
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise MalformedYaml(f"the YAML is nested too deeply (line {self.peek_event().start_mark.line + 1})")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        out = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise SheetError(f"a mapping key at line {key_node.start_mark.line + 1} is not text") from None
            value = self.construct_object(value_node, deep=True)
            if key in out:
                self.dups.append((str(key), key_node.start_mark.line + 1))
                out[key] = _DUPLICATED
            else:
                out[key] = value
        return out


_SheetLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _SheetLoader.construct_mapping)
# numbers stay as written: an answer "1e-3" or "0.50" is the student's text, and a 5000-digit
# integer is not converted (Python refuses that conversion)
NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
for _tag in NUMBER_TAGS:
    _SheetLoader.add_constructor(_tag, yaml.SafeLoader.construct_scalar)


_CLoader = getattr(yaml, "CSafeLoader", None)


if _CLoader is not None:
    class _FastSheetLoader(_CLoader):
        """libyaml's parser (about 8x faster), used only after ``_fast_loader`` has walked the
        event stream: no aliases, bounded nesting -- its composer is recursive C code."""

        def __init__(self, stream):
            super().__init__(stream)
            self.dups = []

        construct_mapping = _SheetLoader.construct_mapping

    _FastSheetLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                     _FastSheetLoader.construct_mapping)
    for _tag in NUMBER_TAGS:
        _FastSheetLoader.add_constructor(_tag, _CLoader.construct_scalar)


def _fast_loader(text: str):
    """A libyaml loader for ``text`` once its events are known safe (None without libyaml)."""
    if _CLoader is None:
        return None
    depth = 0
    opens = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    closes = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    for event in yaml.parse(text, Loader=_CLoader):   # libyaml's event parser is iterative
        if isinstance(event, yaml.AliasEvent):
            raise MalformedYaml(f"YAML aliases (*{event.anchor}) are not allowed in answer sheets "
                                f"(line {event.start_mark.line + 1})")
        if isinstance(event, opens):
            depth += 1
            if depth > MAX_NESTING:
                raise MalformedYaml(f"the YAML is nested too deeply (line {event.start_mark.line + 1})")
        elif isinstance(event, closes):
            depth -= 1
    return _FastSheetLoader(text)


def _depth(obj, limit=MAX_NESTING) -> int:
    stack, deepest = [(obj, 1)], 0
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def load_structured(text: str, suffix: str) -> tuple[object, list[tuple[str, int | None]]]:
    """Parse YAML or JSON; returns (data, duplicated keys with their line)."""
    if suffix == ".json":
        dups: list[tuple[str, int | None]] = []

        def pairs(items):
            out = {}
            for k, v in items:
                if k in out:
                    dups.append((k, None))
                    out[k] = _DUPLICATED
                else:
                    out[k] = v
            return out
        try:
            data = json.loads(text, object_pairs_hook=pairs, parse_int=str, parse_float=str,
                              parse_constant=str)   # numbers as written (see NUMBER_TAGS)
        except json.JSONDecodeError as exc:
            raise SheetError(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        except RecursionError:
            raise SheetError("the JSON is nested too deeply") from None
        return data, dups
    loader = None
    try:
        loader = _fast_loader(text) or _SheetLoader(text)
        return loader.get_single_data(), loader.dups
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MalformedYaml(f"malformed YAML: {what}{where}") from None
    except RecursionError:
        raise MalformedYaml("the YAML is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()




_TOP_KEY = re.compile(r"^([A-Za-z_][\w.-]*)[ \t]*:(?:[ \t]|$)")
_ENTRY_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([^\s#:'"][^:#]*?))[ \t]*:(?:[ \t]|$)""")
MAX_RECOVERED_PROBLEMS = 100


_SLOT_LINE = re.compile(r"^\s*['\"]?([A-Za-z_]\w*(?:\.\w+)+)['\"]?\s*:(?:\s|$)")


def _untab(line: str) -> str:
    """Leading tabs (not allowed in YAML indentation) as two spaces each, for splitting only."""
    body = line.lstrip(" \t")
    lead = line[:len(line) - len(body)]
    return lead.replace("\t", "  ") + body if "\t" in lead else line


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def recover_yaml(text: str, source: str, error: str):
    """A YAML sheet that does not parse as a whole, read entry by entry.

    Students write sheets by hand, and one unclosed bracket or bad indent in one answer must not
    cost them the others. The top-level keys (``student``, ``answers``, ``chains``) and each
    slot's entry under ``answers``/``chains`` (a line at the block's indentation and the lines
    indented below it) are parsed on their own, each by the same safe loader (no aliases,
    bounded nesting). An entry that still does not parse is a problem for that slot, naming the
    line; the rest of the sheet is graded. Returns (data, dups, problems), or None when the
    layout is not a block mapping this can split (then the whole file is reported)."""
    lines = [_untab(line) for line in text.split("\n")]
    name = Path(source).name
    blocks: list[tuple[str, int, int]] = []          # (key, first line index, end index)
    for i, line in enumerate(lines):
        if _blank(line) or line.strip() in ("---", "..."):
            continue
        if line[0] in " \t":
            if not blocks:
                return None
            continue
        m = _TOP_KEY.match(line)
        if m is None:
            return None
        if blocks:
            blocks[-1] = (*blocks[-1][:2], i)
        blocks.append((m.group(1), i, len(lines)))
    if not blocks or not any(k == "student" for k, _, _ in blocks):
        return None
    data: dict = {}
    dups: list = []
    problems: list[Problem] = []

    def load(start: int, end: int):
        chunk = lines[start:end]
        cut = min((_indent(l) for l in chunk if not _blank(l)), default=0)
        body = "\n".join(l[cut:] if len(l) >= cut else l.lstrip(" ") for l in chunk)
        loader = _SheetLoader(body)
        try:
            value = loader.get_single_data()
            return value, loader.dups, None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = start + 1 + (mark.line if mark is not None else 0)
            what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            return None, [], (at, what)
        except SheetError as exc:               # an alias or deep nesting inside this entry
            return None, [], (start + 1, re.sub(r" \(line \d+\)$", "", str(exc)))
        except RecursionError:
            return None, [], (start + 1, "nested too deeply")
        finally:
            loader.dispose()

    for key, start, end in blocks:
        if key in data:
            dups.append((key, start + 1))
            data[key] = _DUPLICATED
            continue
        inline = lines[start][len(key):].split(":", 1)[1].strip()
        if key not in ("answers", "chains") or (inline and not inline.startswith("#")):
            value, found, bad = load(start, end)
            if bad is not None:
                if key == "student":
                    return None
                known = key in ("answers", "chains")
                problems.append(Problem(source, f"{name} line {bad[0]}: malformed YAML in '{key}': {bad[1]}; "
                                        f"'{key}' is not read, the rest of the sheet is", "", "", known))
                continue
            dups.extend(found)
            data.update(value if isinstance(value, dict) else {key: value})
            continue
        entries: list[tuple[int, int]] = []
        indent = None
        for i in range(start + 1, end):
            line = lines[i]
            if _blank(line):
                continue
            if indent is None:
                indent = _indent(line)
            if _indent(line) == indent and not line.lstrip(" ").startswith("- "):
                if entries:
                    entries[-1] = (entries[-1][0], i)
                entries.append((i, end))
            elif _indent(line) < indent or not entries:
                return None
        if len(entries) > MAX_ENTRIES:
            raise SheetError(f"the sheet has {len(entries)} entries under '{key}'; at most {MAX_ENTRIES} are read")
        block: dict = {}
        for first, stop in entries:
            value, found, bad = load(first, stop)
            if bad is None and isinstance(value, dict):
                for k, v in value.items():
                    if k in block:
                        dups.append((str(k), first + 1))
                        block[k] = _DUPLICATED
                    else:
                        block[k] = v
                dups.extend(found)
                continue
            m = _ENTRY_KEY.match(lines[first])
            slot = next((g for g in m.groups() if g is not None), "").strip() if m else ""
            where, what = bad if bad is not None else (first + 1, "not a 'slot: value' entry")
            if len(problems) < MAX_RECOVERED_PROBLEMS:
                problems.append(Problem(source, f"{name} line {where}: malformed YAML in the {key[:-1]} "
                                        f"{'to ' + slot[:80] if slot else 'entry at line ' + str(first + 1)}: {what}; "
                                        "this entry is not graded, the rest of the sheet is", "", slot[:80]))
            if slot:
                block[slot] = _BROKEN
            # slot ids further down the broken entry (a bad indent joined them to it) are not
            # graded either, and are said so
            for k in range(first + 1, stop):
                inner = _SLOT_LINE.match(lines[k])
                if inner and inner.group(1) != slot and inner.group(1) not in block:
                    block[inner.group(1)] = _BROKEN
                    if len(problems) < MAX_RECOVERED_PROBLEMS:
                        problems.append(Problem(source, f"{name} line {k + 1}: {inner.group(1)} is inside the "
                                                f"malformed entry that starts at line {first + 1} (check its "
                                                "indentation); it is not graded", "", inner.group(1)))
        data[key] = block
    if not problems:
        problems.append(Problem(source, f"{error}; the sheet was read entry by entry and every entry parsed"))
    return data, dups, problems


def _kind(value) -> str:
    return {dict: "a mapping", list: "a list", bool: "true/false", type(None): "null"}.get(
        type(value), type(value).__name__)


def _as_text(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)
    return None


def sheet_from_mapping(data, source: str, default_student: str, dups=()) -> tuple[Sheet | None, list[Problem]]:
    """``{student, answers: {slot: latex}, chains: {slot: [step, ...]}}`` -> Sheet."""
    if data is None:
        raise SheetError("the sheet is empty")
    if not isinstance(data, dict):
        raise SheetError("the sheet must be a mapping with keys student, answers, chains "
                         f"(found {_kind(data)})")
    if _depth(data) > MAX_NESTING:
        raise SheetError("the sheet is nested too deeply")
    problems = []
    entries = sum(len(data.get(k)) for k in ("answers", "chains") if isinstance(data.get(k), dict))
    if entries > MAX_ENTRIES:
        raise SheetError(f"the sheet has {entries} answers and chains; at most {MAX_ENTRIES} are read")
    unknown = sorted(str(k) for k in data if k not in ("student", "answers", "chains"))
    if unknown:
        problems.append(Problem(source, f"unknown top-level keys ignored: {', '.join(unknown)} "
                                "(expected student, answers, chains)"))
    student = data.get("student", default_student)
    if student is _DUPLICATED:
        raise SheetError("the key 'student' is given twice")
    student = _as_text(student) if student is not None else None
    if student is None:
        raise SheetError("'student' must be a text id")
    sheet = Sheet(student, [source])
    for section in ("answers", "chains"):
        block = data.get(section, {})
        if block is _DUPLICATED:
            problems.append(Problem(source, f"the key '{section}' is given twice; neither block is graded",
                                    student))
            continue
        if block is None:
            continue
        if not isinstance(block, dict):
            problems.append(Problem(source, f"'{section}' must map slot ids to "
                                    f"{'LaTeX' if section == 'answers' else 'lists of steps'}", student))
            continue
        for slot, value in block.items():
            slot = str(slot)
            if value is _BROKEN:
                sheet.blocked.add(slot)
                sheet.answers.pop(slot, None)
                sheet.chains.pop(slot, None)
                continue
            if value is _DUPLICATED:
                lines = [str(line) for k, line in dups if k == slot and line]
                where = f" (again at line {', '.join(lines)})" if lines else ""
                sheet.blocked.add(slot)
                sheet.answers.pop(slot, None)
                sheet.chains.pop(slot, None)
                problems.append(Problem(source, f"duplicated slot key: {slot} is answered twice in "
                                        f"'{section}'{where}; neither answer is graded", student, slot))
                continue
            if section == "answers":
                text = _as_text(value)
                if text is None:
                    what = "empty (null)" if value is None else f"not text ({_kind(value)})"
                    problems.append(Problem(source, f"the answer to {slot} is {what}; it is not graded",
                                            student, slot))
                    sheet.blocked.add(slot)
                    continue
                _put(sheet, problems, source, slot, "answer", text)
            else:
                if isinstance(value, str):
                    value = [value]
                steps = [_as_text(v) for v in value] if isinstance(value, list) else None
                if not steps or any(s is None for s in steps):
                    bad = next((i for i, s in enumerate(steps or [], 1) if s is None), None)
                    what = (f"step {bad} is {'empty (null)' if value[bad - 1] is None else 'not text (' + _kind(value[bad - 1]) + ')'}"
                            if bad else f"it is {'empty' if not steps and isinstance(value, list) else _kind(value)}")
                    problems.append(Problem(source, f"the chain for {slot} must be a list of LaTeX steps "
                                            f"({what}); it is not graded", student, slot))
                    sheet.blocked.add(slot)
                    continue
                _put(sheet, problems, source, slot, "chain", steps)
    return sheet, problems


def _put(sheet: Sheet, problems, source, slot, kind, value) -> None:
    if slot in sheet.blocked:
        problems.append(Problem(source, f"{slot} is also given elsewhere on this sheet, where it is "
                                "duplicated; not graded", sheet.student, slot))
        return
    if slot in sheet.answers or slot in sheet.chains:
        problems.append(Problem(source, f"duplicated slot key: {slot} has both an answer and a chain; "
                                "neither is graded", sheet.student, slot))
        sheet.answers.pop(slot, None)
        sheet.chains.pop(slot, None)
        sheet.blocked.add(slot)
        return
    if kind == "answer":
        sheet.answers[slot] = answer_text(value)
    else:
        steps = chain_steps(value)
        if not steps:
            problems.append(Problem(source, f"the chain for {slot} has no steps with mathematics; it is not "
                                    "graded", sheet.student, slot))
            sheet.blocked.add(slot)
            return
        if len(steps) > MAX_STEPS:
            problems.append(Problem(source, f"the chain for {slot} has {len(steps)} steps; at most "
                                    f"{MAX_STEPS} are graded", sheet.student, slot))
            sheet.blocked.add(slot)
            return
        sheet.chains[slot] = steps
    sheet.origin[slot] = source


# ---------------------------------------------------------------------------- LaTeX


_COMMAND = re.compile(r"\\(answer|step|student)(?![A-Za-z@])")
# the next command (or the end of the document) bounds a group that is never closed
_BOUNDARY = re.compile(r"\\(?:answer|step|student)(?![A-Za-z@])|\\end\s*\{document\}")
# "\newcommand{\answer}[2]{...}", "\def\answer#1#2{...}": a definition, not an answer
_DEFINES = re.compile(r"\\(?:(?:re)?newcommand|providecommand|DeclareRobustCommand|"
                      r"(?:New|Renew|Provide|Declare)DocumentCommand)\s*\*?\s*\{?\s*$|"
                      r"\\(?:def|gdef|edef|xdef|let|renewcommand\*?|newcommand\*?)\s*$")
MAX_BRACE_DEPTH = 200


def _strip_comments(text: str) -> str:
    """Drop ``%`` comments (not ``\\%``), keeping line breaks so line numbers stay right."""
    out = []
    for line in text.split("\n"):
        i, cut = 0, len(line)
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == "%":
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


class _Unclosed(Exception):
    """A ``{...}`` group that is not closed before ``stop`` (or has no ``{``)."""

    def __init__(self, opened: int | None, why: str = ""):
        self.opened = opened            # index of the "{" (None: no group there at all)
        self.why = why                  # set when the group is refused rather than unclosed


def _line(text: str, i: int) -> int:
    return text.count("\n", 0, i) + 1


def _group(text: str, i: int, stop: int | None = None) -> tuple[str, int]:
    """The balanced ``{...}`` group starting at or after ``i`` (whitespace skipped), closed
    before ``stop``; ``_Unclosed`` otherwise."""
    stop = len(text) if stop is None else stop
    while i < stop and text[i] in " \t\r\n":
        i += 1
    if i >= stop or text[i] != "{":
        raise _Unclosed(None)
    depth, j = 0, i
    while j < stop:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            depth += 1
            if depth > MAX_BRACE_DEPTH:
                raise _Unclosed(i, f"braces are nested more than {MAX_BRACE_DEPTH} deep (line {_line(text, j)})")
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
        j += 1
    raise _Unclosed(i)


def sheet_from_latex(text: str, source: str, default_student: str) -> tuple[Sheet, list[Problem]]:
    r"""``\student{ID}``, ``\answer{SLOT}{LATEX}`` and ``\step{SLOT}{LATEX}`` (in order).

    A group that is never closed (an unbalanced brace in one answer) ends at the next
    ``\answer``/``\step``/``\student`` or ``\end{document}``: that answer (or that slot's whole
    chain) is reported with its file and line and not graded; every other answer on the sheet
    is. Definitions such as ``\newcommand{\answer}[2]{...}`` in the preamble are skipped."""
    text = _strip_comments(text)
    name = Path(source).name
    problems: list[Problem] = []
    student, answers, chains = None, {}, {}
    broken: dict[str, str] = {}
    order: list[tuple[str, str, str]] = []
    pos = 0
    while True:
        m = _COMMAND.search(text, pos)
        if m is None:
            break
        cmd = m.group(1)
        line = _line(text, m.start())
        nxt = _BOUNDARY.search(text, m.end())
        stop = nxt.start() if nxt else len(text)
        if _DEFINES.search(text[max(0, m.start() - 40):m.start()]):
            pos = m.end()
            continue
        try:
            first, after = _group(text, m.end(), stop)
        except _Unclosed as exc:
            if exc.opened is None:
                problems.append(Problem(source, rf"{name} line {line}: \{cmd} is not followed by "
                                        rf"{{...}}; it is ignored", ""))
                pos = m.end()
                continue
            if cmd == "student":
                head = text[exc.opened + 1:stop].split("\n", 1)[0].strip()
                if student is None and STUDENT_ID.match(head):
                    student = head
                    problems.append(Problem(source, rf"{name} line {line}: \student{{ is never closed; "
                                            f"the student id is read as {head!r}"))
                    pos = stop
                    continue
                raise SheetError(rf"{name} line {line}: \student{{...}} is never closed, so whose sheet this "
                                 "is cannot be told") from None
            problems.append(Problem(source, rf"{name} line {line}: the slot name of \{cmd}{{ is never closed "
                                    "(unbalanced braces); this entry is not graded, the rest of the sheet is"))
            pos = stop
            continue
        if cmd == "student":
            if student is not None and first.strip() != student:
                raise SheetError(rf"\student is given twice (line {line}): {student!r} and {first.strip()!r}")
            student = first.strip()
            pos = after
            continue
        slot = first.strip()
        try:
            body, pos = _group(text, after, stop)
        except _Unclosed as exc:
            what = "answer" if cmd == "answer" else "step"
            if exc.why:
                why = rf"in \{cmd}{{{slot}}} {exc.why}"
            elif exc.opened is None:
                why = rf"\{cmd}{{{slot}}} has no {{...}} with the {what} after it"
            else:
                before = (f"before line {_line(text, stop)}" if nxt else "before the end of the file")
                why = (rf"the {what} in \{cmd}{{{slot}}} opened at line {_line(text, exc.opened)} is never "
                       f"closed {before} (unbalanced braces)")
            scope = "this answer is" if cmd == "answer" else f"the chain for {slot} is"
            broken.setdefault(slot, f"{name} line {line}: {why}; {scope} not graded, the rest of the sheet is")
            pos = stop if exc.opened is not None else after
            continue
        order.append((cmd, slot, body.strip()))
        if len(order) > MAX_ENTRIES * MAX_STEPS // 10:
            raise SheetError(f"the sheet has more than {len(order) - 1} \\answer and \\step commands")
    student = student if student is not None else default_student
    sheet = Sheet(student, [source])
    for cmd, slot, body in order:
        if slot in broken:
            continue
        if cmd == "answer":
            if slot in answers:
                answers[slot] = _DUPLICATED
            else:
                answers[slot] = body
        else:
            chains.setdefault(slot, []).append(body)
    for slot, why in broken.items():
        sheet.blocked.add(slot)
        problems.append(Problem(source, why, student, slot))
    for slot, body in answers.items():
        if body is _DUPLICATED:
            sheet.blocked.add(slot)
            problems.append(Problem(source, rf"duplicated slot key: \answer{{{slot}}} is given more than once; "
                                    "neither answer is graded", student, slot))
            continue
        _put(sheet, problems, source, slot, "answer", body)
    for slot, steps in chains.items():
        _put(sheet, problems, source, slot, "chain", steps)
    if not order and not broken:
        problems.append(Problem(source, r"no \answer{SLOT}{...} or \step{SLOT}{...} found", student))
    return sheet, problems


# ---------------------------------------------------------------------------- display maths


ALIGN_ENVS = {"align", "align*", "aligned", "alignat", "alignat*", "alignedat", "eqnarray", "eqnarray*",
              "gather", "gather*", "gathered", "multline", "multline*", "split", "equation", "equation*",
              "displaymath", "math", "flalign", "flalign*"}
_DROPPED = ("nonumber", "notag", "displaystyle", "noindent")
_ARGUED = ("label", "tag", "tag*", "eqref", "ref", "intertext", "shortintertext", "hspace", "vspace")
_LEADING_REL = re.compile(r"^(?:&|\s)*(?:=|<|>|\\le(?:q|qslant)?(?![A-Za-z])|\\ge(?:q|qslant)?(?![A-Za-z])|"
                          r"\\leqslant|\\geqslant)")
_ANNOTATION = re.compile(r"\s*(?:\\q?quad|\\hspace\*?\{[^{}]*\})(?:\\q?quad|\\hspace\*?\{[^{}]*\}|\\[,;:!]|~|\s)*"
                         r"\\(?:text|textrm|mbox|textit|emph)\{[^{}]*\}\s*[.,]?\s*$"
                         r"|\s*\\(?:text|textrm|mbox)\{\s*\([^{}]*\)\s*\}\s*[.,]?\s*$")


def display_rows(text: str) -> list[str] | None:
    r"""A step or answer written as display maths, split into its rows: ``\begin{align}``
    (``align*``, ``aligned``, ``eqnarray``, ``equation``, ...), ``\[ \]``, ``\( \)`` dropped,
    rows split at ``\\`` outside braces and other environments (``cases``, ``pmatrix`` keep
    theirs), ``\nonumber``, ``\label{..}``, ``\tag{..}`` dropped, and a trailing annotation after
    ``\quad`` (``\quad\text{by Jensen}``) removed. ``&`` is left to the parser (it ignores it).
    None when the text has none of this (it is then used as it is). Only text is moved here;
    nothing is parsed."""
    if "\\" not in text:
        return None
    rows, cur = [], []
    depth, other, changed = 0, [], False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c != "\\":
            cur.append(c)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "\\" and depth == 0 and not other:
            rows.append("".join(cur))
            cur, changed = [], True
            i += 2
            while i < n and text[i] in " *":
                i += 1
            if i < n and text[i] == "[":
                close = text.find("]", i)
                i = close + 1 if close != -1 else i
            continue
        if nxt in "[]()" and nxt and depth == 0 and not other:
            cur.append(" ")
            changed = True
            i += 2
            continue
        m = re.match(r"\\([A-Za-z]+\*?)", text[i:i + 40])
        if not m:
            cur.append(text[i:i + 2])
            i += 2
            continue
        word = m.group(1)
        end = i + len(m.group(0))
        if word in ("begin", "end"):
            env = re.match(r"\s*\{\s*([A-Za-z]+\*?)\s*\}", text[end:end + 40])
            if env:
                name = env.group(1)
                stop = end + len(env.group(0))
                if name in ALIGN_ENVS and not other and depth == 0:
                    changed = True
                    if word == "begin" and name.startswith("alignat"):
                        arg = re.match(r"\s*\{[^{}]*\}", text[stop:stop + 20])
                        stop += len(arg.group(0)) if arg else 0
                    cur.append(" ")
                    i = stop
                    continue
                if word == "begin":
                    other.append(name)
                elif other and other[-1] == name:
                    other.pop()
        elif word.rstrip("*") in _DROPPED or word in _DROPPED:
            changed = True
            cur.append(" ")
            i = end
            continue
        elif word in _ARGUED and depth == 0 and not other:
            try:
                _, stop = _group(text, end)
            except _Unclosed:
                stop = end
            changed = True
            cur.append(" ")
            i = stop
            continue
        cur.append(m.group(0))
        i = end
    rows.append("".join(cur))
    stripped = []
    for row in rows:
        row2 = _ANNOTATION.sub("", row).strip()
        changed = changed or row2 != row.strip()
        if row2.strip("& \t\n"):
            stripped.append(row2)
    if not changed:
        return None
    return stripped


def answer_text(text: str) -> str:
    """An answer with display markup as one formula: rows that continue (``&= ...``) are joined;
    rows that do not are left as written, for the parser to report."""
    rows = display_rows(text)
    if rows is None:
        return text
    if len(rows) <= 1:
        return rows[0] if rows else ""
    if all(_LEADING_REL.match(r) for r in rows[1:]):
        return " ".join(rows)
    return text


_PROSE_ONLY = re.compile(r"^\s*(?:\\(?:text|textrm|textit|emph|mbox|intertext|shortintertext)\s*\{[^{}]*\}"
                         r"\s*[.,:;]?\s*)+$")


def chain_steps(steps) -> list[str]:
    """Chain steps with display markup split into one step per row; blank steps and steps that
    are only a remark (``\text{by Jensen}``) are dropped: they claim nothing."""
    out = []
    for step in steps:
        rows = display_rows(step)
        for row in [step] if rows is None else (rows or [step]):
            if row.strip() and not _PROSE_ONLY.match(row):
                out.append(row)
    return out


# ---------------------------------------------------------------------------- CSV


_ROW_START = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63},\s*[A-Za-z_][\w]*(?:\.[\w]+)+\s*,")


def _csv_records(text: str, reader, source: str, problems: list, idx: dict):
    """(line number, row) for every record after the header. A quoted field that swallows
    whole lines that look like rows (``s2,gan.square.f,...``) is a quote that was never closed:
    that record is reported, and reading starts again on the line after it, so one stray
    quote does not take the rest of the class with it."""
    lines = text.split("\n")
    offset, start = 0, reader.line_num + 1          # physical line numbers are 1-based
    restarts = 0
    while True:
        prev = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            return
        first, last = offset + prev + 1, offset + reader.line_num
        if last > first and any(_ROW_START.match(lines[k - 1]) for k in range(first + 1, min(last, len(lines)) + 1)):
            restarts += 1
            if restarts > MAX_ENTRIES:
                raise SheetError(f"more than {MAX_ENTRIES} quotes are never closed")
            who = row[idx["student"]].strip()[:64] if len(row) > idx["student"] else ""
            problems.append(Problem(source, f"{Path(source).name} line {first}: a quote opened on this line "
                                    "is never closed, so the lines after it would be read as part of this "
                                    "row; this row is not graded, reading goes on at the next line",
                                    who if STUDENT_ID.match(who) else "",
                                    row[idx["slot"]].strip()[:80] if len(row) > idx["slot"] else ""))
            offset = first
            reader = csv.reader(io.StringIO("\n".join(lines[first:]), newline=""))
            continue
        yield first, row


def sheets_from_csv(text: str, source: str) -> tuple[list[Sheet], list[Problem]]:
    """Columns ``student,slot,latex`` and optionally ``step`` (chains: one row per step)."""
    csv.field_size_limit(MAX_CSV_BYTES)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SheetError("the CSV file is empty") from None
    except csv.Error as exc:
        raise SheetError(f"malformed CSV: {exc}") from None
    cols = [h.strip().lower() for h in header]
    need = ("student", "slot", "latex")
    missing = [c for c in need if c not in cols]
    if missing:
        raise SheetError(f"the CSV header must have columns student,slot,latex[,step]; missing "
                         f"{', '.join(missing)} (found {', '.join(cols) or 'nothing'})")
    idx = {c: cols.index(c) for c in (*need, "step") if c in cols}
    problems: list[Problem] = []
    rows: dict[str, dict] = {}
    try:
        for lineno, row in _csv_records(text, reader, source, problems, idx):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) <= max(idx[c] for c in need):
                problems.append(Problem(source, f"line {lineno}: expected {len(cols)} columns, found {len(row)}"))
                continue
            student = row[idx["student"]].strip()
            slot = row[idx["slot"]].strip()
            latex = row[idx["latex"]]
            step = row[idx["step"]].strip() if "step" in idx and idx["step"] < len(row) else ""
            if not student or not slot:
                problems.append(Problem(source, f"line {lineno}: empty student or slot"))
                continue
            entry = rows.setdefault(student, {"answers": {}, "chains": {}, "rows": 0})
            entry["rows"] += 1
            if entry["rows"] > MAX_ENTRIES * 4:
                raise SheetError(f"student {student[:40]!r} has more than {MAX_ENTRIES * 4} rows")
            if not step:
                entry["answers"].setdefault(slot, []).append((lineno, latex))
                continue
            try:
                n = int(step)
            except ValueError:
                problems.append(Problem(source, f"line {lineno}: step {step!r} is not a whole number",
                                        student, slot))
                continue
            entry["chains"].setdefault(slot, []).append((n, lineno, latex))
    except csv.Error as exc:
        raise SheetError(f"malformed CSV: {exc}") from None
    sheets = []
    for student in sorted(rows):
        entry, sheet = rows[student], Sheet(student, [source])
        for slot, given in entry["answers"].items():
            if len(given) > 1:
                problems.append(Problem(source, f"duplicated slot key: {slot} is answered on lines "
                                        f"{', '.join(str(l) for l, _ in given)}; neither answer is graded",
                                        student, slot))
                continue
            _put(sheet, problems, source, slot, "answer", given[0][1])
        for slot, steps in entry["chains"].items():
            numbers = [n for n, _, _ in steps]
            if len(set(numbers)) != len(numbers):
                problems.append(Problem(source, f"the chain for {slot} numbers a step twice; it is not graded",
                                        student, slot))
                continue
            _put(sheet, problems, source, slot, "chain", [latex for _, _, latex in sorted(steps)])
        sheets.append(sheet)
    return sheets, problems


# ---------------------------------------------------------------------------- the class


_EXPLICIT_STUDENT = {
    ".yaml": re.compile(r"""^student[ \t]*:[ \t]*["']?([^\s"'#,{}\[\]]+)["']?[ \t]*(?:#.*)?$""", re.M),
    ".json": re.compile(r'"student"\s*:\s*"([^"\\]+)"'),
    ".tex": re.compile(r"\\student\s*\{\s*([^{}\s]+)\s*\}"),
}
_EXPLICIT_STUDENT[".yml"] = _EXPLICIT_STUDENT[".yaml"]


def _named_student(text: str | None, suffix: str) -> str:
    """The student id a file that cannot be read names explicitly (one id, well formed), so that
    the student appears in the grades with the reason instead of vanishing; else ""."""
    pattern = _EXPLICIT_STUDENT.get(suffix)
    if text is None or pattern is None:
        return ""
    found = {m.group(1) for m in pattern.finditer(text[:MAX_SHEET_BYTES])}
    if len(found) == 1:
        sid = found.pop()
        return sid if STUDENT_ID.match(sid) else ""
    return ""


def read_file(path: Path) -> tuple[list[Sheet], list[Problem]]:
    """The sheets in one file and its problems. Never raises for what is in the file: a file
    that cannot be read at all is one problem (``lost``), naming the student when the file says
    who it is; a problem inside one answer costs that answer only."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SHEET_SUFFIXES:
        return [], [Problem(source, f"not an answer sheet (expected {', '.join(SHEET_SUFFIXES)}); skipped")]
    notes: list[str] = []
    text = None

    def lost(reason: str):
        head = text
        if head is None:            # refused unread (too large): its first lines may say who
            try:
                with open(path, "rb") as fh:
                    head = fh.read(1 << 16).decode("utf-8", errors="replace")
            except OSError:
                head = None
        return [], [Problem(source, n) for n in notes] + \
            [Problem(source, f"sheet not graded: {reason}", _named_student(head, suffix), "", True)]
    try:
        text = _read_text(path, MAX_CSV_BYTES if suffix == ".csv" else MAX_SHEET_BYTES, notes)
        if suffix == ".csv":
            sheets, problems = sheets_from_csv(text, source)
        elif suffix == ".tex":
            sheet, problems = sheet_from_latex(text, source, path.stem)
            sheets = [sheet]
        else:
            extra: list[Problem] = []
            try:
                data, dups = load_structured(text, suffix)
            except MalformedYaml as exc:
                recovered = recover_yaml(text, source, str(exc))
                if recovered is None:
                    raise
                data, dups, extra = recovered
            sheet, problems = sheet_from_mapping(data, source, path.stem, dups)
            sheets, problems = ([sheet] if sheet else []), extra + problems
    except SheetError as exc:
        return lost(str(exc))
    except OSError as exc:
        return lost(f"cannot read the file ({exc.strerror or exc})")
    except (MemoryError, RecursionError) as exc:
        return lost(f"the file is too large or deep to read ({type(exc).__name__})")
    except Exception as exc:   # a reader's bug: this file is reported, the class goes on
        return lost(f"the file could not be read ({type(exc).__name__}: {str(exc)[:200]})")
    problems = [Problem(source, n) for n in notes] + problems
    if len(sheets) == 1:
        who = sheets[0].student
        problems = [p if p.student else Problem(p.source, p.reason, who, p.slot, p.lost) for p in problems]
    return sheets, problems


def _same(kind_a, a, kind_b, b) -> bool:
    if kind_a != kind_b:
        return False
    if kind_a == "answer":
        return " ".join(a.split()) == " ".join(b.split())
    return [" ".join(x.split()) for x in a] == [" ".join(x.split()) for x in b]


def _merge(into: Sheet, sheet: Sheet, source: str, problems: list) -> None:
    """One student's second file into the first. The rule (README, "Grading a class"): a slot
    answered identically in both is graded once; answered differently, it is a conflict --
    neither version is graded and the conflict is listed in review.csv and the feedback; a slot
    duplicated within either file is not graded at all."""
    into.sources.append(source)
    who = sheet.student
    for slot in sorted(sheet.blocked - into.blocked):
        if slot in into.answers or slot in into.chains:
            problems.append(Problem(f"{into.origin.get(slot, into.sources[0])};{source}",
                                    f"conflicting answers: {slot} is also given in {source}, where it is not "
                                    "graded (duplicated or unreadable there); neither is graded", who, slot))
            into.answers.pop(slot, None)
            into.chains.pop(slot, None)
        into.blocked.add(slot)
    for slot, kind, payload in sheet.items():
        mine = "answer" if slot in into.answers else "chain" if slot in into.chains else None
        if slot in into.blocked:
            problems.append(Problem(source, f"conflicting answers: {slot} is also given in another file of "
                                    f"{who}, where it is not graded; this one is not graded either", who, slot))
            continue
        if mine is None:
            if kind == "answer":
                into.answers[slot] = payload
            else:
                into.chains[slot] = list(payload)
            into.origin[slot] = sheet.origin.get(slot, source)
            continue
        theirs = into.answers[slot] if mine == "answer" else into.chains[slot]
        if _same(mine, theirs, kind, list(payload) if kind == "chain" else payload):
            continue            # the same answer handed in twice: graded once
        first = into.origin.get(slot, into.sources[0])
        problems.append(Problem(f"{first};{source}",
                                f"conflicting answers: {slot} is answered differently in {first} and in "
                                f"{source} for {who}; neither is graded (a person must decide which counts)",
                                who, slot))
        into.answers.pop(slot, None)
        into.chains.pop(slot, None)
        into.blocked.add(slot)


def read_class(paths, known_slots, exclude=()) -> tuple[list[Sheet], list[Problem]]:
    """Every sheet under ``paths`` (not under ``exclude``), merged per student, slots checked
    against ``known_slots``."""
    files, problems = sheet_files(paths, exclude)
    merged: dict[str, Sheet] = {}
    for path in files:
        sheets, found = read_file(path)
        problems.extend(found)
        for sheet in sheets:
            source = sheet.sources[0]
            if not STUDENT_ID.match(sheet.student):
                problems.append(Problem(source, f"sheet not graded: the student id {sheet.student[:80]!r} "
                                        "must be 1-64 letters, digits or _.@+- starting with a letter or "
                                        "digit", "", "", True))
                continue
            _check_slots(sheet, known_slots, problems, source)
            if sheet.student not in merged:
                merged[sheet.student] = sheet
            else:
                _merge(merged[sheet.student], sheet, source, problems)
    for p in problems:              # a student whose only file was unreadable is still listed
        if p.lost and p.student and p.student not in merged:
            merged[p.student] = Sheet(p.student, [p.source])
    folded: dict[str, list[str]] = {}
    for sid in merged:
        folded.setdefault(sid.lower(), []).append(sid)
    for ids in folded.values():
        if len(ids) > 1:
            problems.append(Problem(merged[ids[0]].sources[0], f"the student ids {', '.join(sorted(ids))} differ "
                                    "only in case; they are graded as different students"))
    sheets = [merged[s] for s in sorted(merged)]
    problems.sort(key=lambda p: (p.source, p.student, p.slot, p.reason))
    return sheets, problems


def _check_slots(sheet: Sheet, known, problems, source) -> None:
    for table in (sheet.answers, sheet.chains):
        for slot in list(table):
            if slot not in known:
                near = difflib.get_close_matches(slot, list(known), n=3, cutoff=0.6)
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                problems.append(Problem(source, f"unknown slot id {slot[:80]!r}{hint}", sheet.student, slot[:80]))
                del table[slot]
