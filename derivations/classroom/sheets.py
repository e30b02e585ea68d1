"""Answer sheets from files and folders: YAML/JSON, LaTeX and CSV, every problem a review entry.

A sheet is what one student handed in: answers (slot -> LaTeX) and chains (slot -> steps).
Reading never parses the LaTeX itself (that happens in a sandboxed worker); it only splits
files into per-slot text. Whatever is wrong with a file -- too large, not UTF-8, binary,
malformed YAML, a YAML alias bomb, a duplicated slot key, an unknown slot id, a hostile
student id -- becomes a ``Problem`` with a message a person can act on, and the rest of the
class is read as usual. Two files of the same student are merged when they answer
different slots (a course system may export one CSV per question).
"""
from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

MAX_SHEET_BYTES = 1 << 20           # one student's YAML/JSON/LaTeX file
MAX_CSV_BYTES = 16 << 20            # a course export with the whole class
MAX_STEPS = 60
MAX_ENTRIES = 500                   # answers + chains on one sheet (a course has fewer slots)
MAX_NESTING = 20
SHEET_SUFFIXES = (".yaml", ".yml", ".json", ".tex", ".csv")
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")


@dataclass(frozen=True)
class Problem:
    """Something a person must look at; ``slot`` is empty when it concerns the whole file."""

    source: str
    reason: str
    student: str = ""
    slot: str = ""


@dataclass
class Sheet:
    student: str
    sources: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    chains: dict[str, list[str]] = field(default_factory=dict)
    blocked: set = field(default_factory=set, repr=False)   # slots given twice: none of it graded

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


# ---------------------------------------------------------------------------- files


def sheet_files(paths) -> tuple[list[Path], list[Problem]]:
    """Files named directly, and files under folders (sorted, hidden ones skipped)."""
    files, problems = [], []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if not name.startswith("."):
                        files.append(Path(root) / name)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    seen, unique = set(), []
    for f in files:
        key = os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems


def _read_text(path: Path, limit: int) -> str:
    size = path.stat().st_size
    if size > limit:
        raise SheetError(f"the file is {size / 2**20:.1f} MB; sheets larger than {limit / 2**20:g} MB "
                         "are not read")
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise SheetError(f"the file is larger than {limit / 2**20:g} MB; not read")
    if b"\x00" in data:
        raise SheetError("the file is binary (it contains NUL bytes), not a text sheet")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetError(f"the file is not UTF-8 text (bad byte at offset {exc.start})") from None
    return text


# ---------------------------------------------------------------------------- YAML / JSON


_DUPLICATED = object()      # a key given twice: neither value is graded


class _SheetLoader(yaml.SafeLoader):
    """Safe YAML without aliases (no alias bombs), bounded nesting, duplicated keys kept as
    ``_DUPLICATED`` and listed in ``dups`` (PyYAML silently keeps the last one)."""

    def __init__(self, stream):
        super().__init__(stream)
        self.depth, self.dups = 0, []

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise SheetError(f"YAML aliases (*{event.anchor}) are not allowed in answer sheets "
                             f"(line {event.start_mark.line + 1})")
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise SheetError("the YAML is nested too deeply")
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


def _fast_loader(text: str):
    """A libyaml loader for ``text`` once its events are known safe (None without libyaml)."""
    if _CLoader is None:
        return None
    depth = 0
    opens = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    closes = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    for event in yaml.parse(text, Loader=_CLoader):   # libyaml's event parser is iterative
        if isinstance(event, yaml.AliasEvent):
            raise SheetError(f"YAML aliases (*{event.anchor}) are not allowed in answer sheets "
                             f"(line {event.start_mark.line + 1})")
        if isinstance(event, opens):
            depth += 1
            if depth > MAX_NESTING:
                raise SheetError("the YAML is nested too deeply")
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
            data = json.loads(text, object_pairs_hook=pairs)
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
        raise SheetError(f"malformed YAML: {what}{where}") from None
    except RecursionError:
        raise SheetError("the YAML is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


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
    if not isinstance(data, dict):
        raise SheetError("the sheet must be a mapping with keys student, answers, chains "
                         f"(found {type(data).__name__})")
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
                    problems.append(Problem(source, f"the answer to {slot} is not text "
                                            f"({type(value).__name__})", student, slot))
                    continue
                _put(sheet, problems, source, slot, "answer", text)
            else:
                if isinstance(value, str):
                    value = [value]
                steps = [_as_text(v) for v in value] if isinstance(value, list) else None
                if not steps or any(s is None for s in steps):
                    problems.append(Problem(source, f"the chain for {slot} must be a list of LaTeX steps",
                                            student, slot))
                    continue
                if len(steps) > MAX_STEPS:
                    problems.append(Problem(source, f"the chain for {slot} has {len(steps)} steps; at most "
                                            f"{MAX_STEPS} are graded", student, slot))
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
        sheet.answers[slot] = value
    else:
        sheet.chains[slot] = list(value)


# ---------------------------------------------------------------------------- LaTeX


_COMMAND = re.compile(r"\\(answer|step|student)(?![A-Za-z@])")


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


def _group(text: str, i: int) -> tuple[str, int]:
    """The balanced ``{...}`` group starting at or after ``i`` (whitespace skipped)."""
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    if i >= len(text) or text[i] != "{":
        raise SheetError(f"expected '{{' at line {text.count(chr(10), 0, i) + 1}")
    depth, j = 0, i
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
            if depth > 200:
                raise SheetError("braces nested too deeply")
        j += 1
    raise SheetError(f"unbalanced braces: the group opened at line {text.count(chr(10), 0, i) + 1} "
                     "is never closed")


def sheet_from_latex(text: str, source: str, default_student: str) -> tuple[Sheet, list[Problem]]:
    r"""``\student{ID}``, ``\answer{SLOT}{LATEX}`` and ``\step{SLOT}{LATEX}`` (in order)."""
    text = _strip_comments(text)
    problems: list[Problem] = []
    student, answers, chains = None, {}, {}
    order: list[tuple[str, str, str]] = []
    pos = 0
    while True:
        m = _COMMAND.search(text, pos)
        if m is None:
            break
        cmd = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        first, pos = _group(text, m.end())
        if cmd == "student":
            if student is not None and first.strip() != student:
                raise SheetError(rf"\student is given twice (line {line}): {student!r} and {first.strip()!r}")
            student = first.strip()
            continue
        body, pos = _group(text, pos)
        order.append((cmd, first.strip(), body.strip()))
        if len(order) > MAX_ENTRIES * MAX_STEPS // 10:
            raise SheetError(f"the sheet has more than {len(order) - 1} \\answer and \\step commands")
    student = student if student is not None else default_student
    sheet = Sheet(student, [source])
    for cmd, slot, body in order:
        if cmd == "answer":
            if slot in answers:
                answers[slot] = _DUPLICATED
            else:
                answers[slot] = body
        else:
            chains.setdefault(slot, []).append(body)
    for slot, body in answers.items():
        if body is _DUPLICATED:
            sheet.blocked.add(slot)
            problems.append(Problem(source, rf"duplicated slot key: \answer{{{slot}}} is given more than once; "
                                    "neither answer is graded", student, slot))
            continue
        _put(sheet, problems, source, slot, "answer", body)
    for slot, steps in chains.items():
        if len(steps) > MAX_STEPS:
            problems.append(Problem(source, f"the chain for {slot} has {len(steps)} steps; at most "
                                    f"{MAX_STEPS} are graded", student, slot))
            continue
        _put(sheet, problems, source, slot, "chain", steps)
    if not order:
        problems.append(Problem(source, r"no \answer{SLOT}{...} or \step{SLOT}{...} found", student))
    return sheet, problems


# ---------------------------------------------------------------------------- CSV


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
        for lineno, row in enumerate(reader, start=2):
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
            if len(steps) > MAX_STEPS:
                problems.append(Problem(source, f"the chain for {slot} has {len(steps)} steps; at most "
                                        f"{MAX_STEPS} are graded", student, slot))
                continue
            _put(sheet, problems, source, slot, "chain", [latex for _, _, latex in sorted(steps)])
        sheets.append(sheet)
    return sheets, problems


# ---------------------------------------------------------------------------- the class


def read_file(path: Path) -> tuple[list[Sheet], list[Problem]]:
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SHEET_SUFFIXES:
        return [], [Problem(source, f"not an answer sheet (expected {', '.join(SHEET_SUFFIXES)}); skipped")]
    try:
        text = _read_text(path, MAX_CSV_BYTES if suffix == ".csv" else MAX_SHEET_BYTES)
        if suffix == ".csv":
            return sheets_from_csv(text, source)
        if suffix == ".tex":
            sheet, problems = sheet_from_latex(text, source, path.stem)
            return [sheet], problems
        data, dups = load_structured(text, suffix)
        sheet, problems = sheet_from_mapping(data, source, path.stem, dups)
        return ([sheet] if sheet else []), problems
    except SheetError as exc:
        return [], [Problem(source, f"sheet not graded: {exc}")]
    except OSError as exc:
        return [], [Problem(source, f"sheet not graded: cannot read the file ({exc.strerror or exc})")]
    except (MemoryError, RecursionError) as exc:
        return [], [Problem(source, f"sheet not graded: the file is too large or deep to read "
                            f"({type(exc).__name__})")]


def read_class(paths, known_slots) -> tuple[list[Sheet], list[Problem]]:
    """Every sheet under ``paths``, merged per student, slots checked against ``known_slots``."""
    files, problems = sheet_files(paths)
    merged: dict[str, Sheet] = {}
    for path in files:
        sheets, found = read_file(path)
        problems.extend(found)
        for sheet in sheets:
            source = sheet.sources[0]
            if not STUDENT_ID.match(sheet.student):
                problems.append(Problem(source, f"sheet not graded: the student id {sheet.student[:80]!r} "
                                        "must be 1-64 letters, digits or _.@+- starting with a letter or "
                                        "digit"))
                continue
            _check_slots(sheet, known_slots, problems, source)
            if sheet.student not in merged:
                merged[sheet.student] = sheet
                continue
            into = merged[sheet.student]
            into.sources.append(source)
            into.blocked |= sheet.blocked
            for slot, kind, payload in sheet.items():
                if slot in into.answers or slot in into.chains:
                    problems.append(Problem(source, f"duplicated slot key: {slot} is also answered in "
                                            f"{into.sources[0]} for the same student; this one is not graded",
                                            sheet.student, slot))
                    continue
                _put(into, problems, source, slot, kind, list(payload) if kind == "chain" else payload)
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
