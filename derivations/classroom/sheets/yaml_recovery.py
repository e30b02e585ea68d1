"""A YAML sheet that does not parse as a whole, read entry by entry: one bad indent or unclosed
bracket costs the student that entry, not the sheet."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from .model import _BROKEN, _DUPLICATED, MAX_ENTRIES, Problem, SheetError
from .structured import _SheetLoader


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
            if "escape" in what:
                what += ("; in a double-quoted YAML string a backslash starts an escape (\\s, \\d, \\x: unknown; "
                         "\\f, \\b, \\t, \\n, \\r: control characters), so LaTeX belongs in single quotes "
                         "('\\sigma') or a block scalar (|)")
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
