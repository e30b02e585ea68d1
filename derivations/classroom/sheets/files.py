"""Which files are sheets, and their bytes as text: a folder is walked without leaving it, and
a file that is binary, too large or in an unexpected encoding is refused or noted, never
silently misread."""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from .model import Problem, SheetError


def sheet_files(paths, exclude=()) -> tuple[list[Path], list[Problem]]:
    """Files named directly, and files under folders (sorted, hidden ones skipped).

    Under a folder, only regular files are read: a FIFO or device would block or never end,
    and a symbolic link that leads outside the folder could make a student's "sheet" any file
    on the machine (its text would surface in the feedback); both are reported, not read.
    Folders and files in ``exclude`` (the output folder when it lies inside the class, the
    rubric, the decisions file) are skipped, and so are files that are documents, not sheets
    (``README*``, ``*.md``)."""
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
                    if real in skip or _document(name):
                        continue
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
            if os.path.realpath(path) not in skip:
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


def _document(name: str) -> bool:
    """A file a class folder holds for people, never a sheet."""
    low = name.lower()
    return low.startswith(("readme", "license", "changelog")) or low.endswith((".md", ".rst", ".pdf"))


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
