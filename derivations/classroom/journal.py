"""What survives a killed run: one result file per student, and the per-answer cache.

``DIR/.derivcheck/students/STUDENT.json`` is written atomically (a temporary file in the same
folder, then ``os.replace``) once every answer of that student is decided, so after
``kill -9`` each file is either complete or absent. It is not fsynced (a thousand fsyncs
cost seconds): after a power cut a file may be torn, but a torn file does not parse, and
that student is simply graded again. It records the sheet's
content hash and the grader's fingerprint (a hash of the package's source): a changed sheet,
or a changed grader, makes it stale and the student is graded again.

``DIR/.derivcheck/answers.jsonl`` caches decisions by task key (slot, kind, normalised
text) across runs; lines are appended and flushed one by one, and a torn last line from a
kill is skipped when it is read back. Results that came from a time-out or a dead worker
are never cached.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

STATE = ".derivcheck"


def fingerprint() -> str:
    """A hash of the grader's own source (every .py and .lark file of ``derivations``)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".lark") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc), else by the
    set-and-restore idiom."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace ``path`` by ``data`` so that a reader sees the old or the new file, never half.

    ``durable`` also fsyncs (survives a power cut, not only a killed process); outputs that
    every run rewrites from the journal skip it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:                    # mkstemp makes 0600; the file gets what open() would give it
            os.fchmod(fd, 0o666 & ~_umask())
        except OSError:
            pass
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Busy(RuntimeError):
    """Another run holds this output folder."""


class Journal:
    def __init__(self, out: Path):
        self.root = Path(out) / STATE
        self.students = self.root / "students"
        self.students.mkdir(parents=True, exist_ok=True)
        self.cache_path = self.root / "answers.jsonl"
        self.fingerprint = fingerprint()       # once per run: the grader must not change mid-run
        self._lock = None

    def lock(self) -> None:
        """One run per output folder: DIR/.derivcheck/lock holds the running process's id. A lock
        left by a killed run names a dead process and is taken over. (Not flock: the sandbox's
        forked workers would inherit it and hold it after their parent is killed.)"""
        path = self.root / "lock"
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and _alive(pid):
                    raise Busy(f"another derivcheck grade (process {pid}) is writing to {self.root.parent}") \
                        from None
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self._lock = path
            return
        raise Busy(f"cannot take the lock {path}")

    def sweep(self) -> None:
        """Remove the temporary files a killed run left half-written (``.NAME.XXXX.tmp`` beside
        each output); only while holding the lock, so never another run's."""
        out = self.root.parent
        for folder in (out, out / "feedback", self.students, *(out / "gradescope").glob("*")):
            try:
                for tmp in folder.glob(".*.tmp"):
                    if tmp.is_file():
                        tmp.unlink()
            except OSError:
                pass

    def unlock(self) -> None:
        if self._lock is not None:
            try:
                self._lock.unlink()
            except FileNotFoundError:
                pass
            self._lock = None

    # ------------------------------------------------------------------ students
    def _path(self, student: str) -> Path:
        return self.students / f"{student}.json"

    def load(self, student: str, sheet_hash: str) -> dict | None:
        """The student's recorded results if they are for this sheet and this grader."""
        try:
            entry = json.loads(self._path(student).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if entry.get("sheet_hash") != sheet_hash or entry.get("fingerprint") != self.fingerprint:
            return None
        return entry

    def record(self, student: str, sheet_hash: str, results: dict) -> None:
        entry = {"student": student, "sheet_hash": sheet_hash, "fingerprint": self.fingerprint,
                 "results": results}
        write_atomic(self._path(student), json.dumps(entry, sort_keys=True, ensure_ascii=False).encode("utf-8"),
                     durable=False)

    # ------------------------------------------------------------------ answer cache
    def read_cache(self) -> dict:
        out = {}
        try:
            with open(self.cache_path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        item = json.loads(line)
                    except ValueError:
                        continue        # a line torn by a kill
                    if isinstance(item, dict) and item.get("fingerprint") == self.fingerprint:
                        out[item["key"]] = item["result"]
        except OSError:
            pass
        return out

    def open_cache(self):
        return CacheWriter(self.cache_path, self.fingerprint)


class CacheWriter:
    def __init__(self, path: Path, fingerprint: str):
        self.fingerprint = fingerprint
        self.fh = open(path, "a", encoding="utf-8")
        # a torn last line from a killed run would glue onto the next record: start a fresh line
        if self.fh.tell() > 0:
            with open(path, "rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    self.fh.write("\n")

    def add(self, key: str, result: dict) -> None:
        self.fh.write(json.dumps({"key": key, "fingerprint": self.fingerprint, "result": result},
                                 sort_keys=True, ensure_ascii=False) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()
