"""What survives a killed run: one result file per student, and the per-answer cache.

``DIR/.derivcheck/students/STUDENT.json`` is written atomically (``derivations.atomic``) once
every answer of that student is decided, so after ``kill -9`` each file is either complete or
absent. It is not fsynced (a thousand fsyncs cost seconds): after a power cut a file may be
torn, but a torn file does not parse, and that student is simply graded again. It records the
sheet's content hash and, for every result, the versions it was decided under (``versions``:
the grader, the slot's reference, the slot's rubric entry): a changed sheet grades that student
again; a changed grader or reference regrades the answers that depend on it, and no others.

``DIR/.derivcheck/answers.sqlite`` caches decisions by task key (slot, kind, normalised text)
across runs, with the grader and reference versions they were decided under; every result is
committed on its own (SQLite's journal: a killed run loses at most the answer it was writing).
Results that came from a time-out or a dead worker are never cached.

One run per output folder: ``DIR/.derivcheck/lock`` is held with ``filelock`` (an OS lock, freed
by the kernel when the holding process dies, so a killed run leaves no stale lock). Worker
processes forked while it is held close their inherited copy, so they never keep it.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from filelock import FileLock, Timeout

from ..atomic import write_atomic  # noqa: F401  (the package's one atomic-write helper)
from . import versions

STATE = ".derivcheck"


def fingerprint() -> str:
    """The grader's version: a hash of the source that decides verdicts (``versions``)."""
    return versions.grader_fingerprint()


_HELD: dict = {}            # lock file descriptor -> (device, inode) of the lock file, in this process


def _close_inherited_locks() -> None:
    """In a forked child: close the inherited lock descriptors (filelock >= 4 does it itself;
    a descriptor is closed only while it still is the lock file, never a number reused since)."""
    for fd, ident in list(_HELD.items()):
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == ident:
                os.close(fd)
        except OSError:
            pass
    _HELD.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)


class Busy(RuntimeError):
    """Another run holds this output folder."""


class Journal:
    def __init__(self, out: Path):
        self.root = Path(out) / STATE
        self.students = self.root / "students"
        self.students.mkdir(parents=True, exist_ok=True)
        self.cache_path = self.root / "answers.sqlite"
        self.fingerprint = fingerprint()       # once per run: the grader must not change mid-run
        self._lock = None
        self._fd = None

    def lock(self) -> None:
        """One run per output folder (``filelock``; a lock left by a killed run is free)."""
        lock = FileLock(str(self.root / "lock"), timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise Busy(f"another derivcheck grade is writing to {self.root.parent}") from None
        self._lock = lock
        fd = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
        if fd is not None:
            try:
                st = os.fstat(fd)
                self._fd = fd
                _HELD[fd] = (st.st_dev, st.st_ino)
            except OSError:
                pass

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
            _HELD.pop(getattr(self, "_fd", None), None)
            self._lock.release()
            self._lock = None

    # ------------------------------------------------------------------ students
    def _path(self, student: str) -> Path:
        return self.students / f"{student}.json"

    def load(self, student: str, sheet_hash: str) -> dict | None:
        """The student's recorded entry if it is for this sheet (``results`` and, per result,
        ``versions``: which of them are still current is the caller's to judge)."""
        try:
            entry = json.loads(self._path(student).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("sheet_hash") != sheet_hash \
                or not isinstance(entry.get("results"), dict):
            return None
        if not isinstance(entry.get("versions"), dict):
            entry["versions"] = {}
        return entry

    def record(self, student: str, sheet_hash: str, results: dict, versions: dict) -> None:
        entry = {"student": student, "sheet_hash": sheet_hash, "results": results, "versions": versions}
        write_atomic(self._path(student), json.dumps(entry, sort_keys=True, ensure_ascii=False).encode("utf-8"),
                     durable=False)

    # ------------------------------------------------------------------ answer cache
    def read_cache(self, slots=None) -> dict:
        """Cached results (task key -> result) decided under this grader and the current
        reference of their slot (``slots``: only these)."""
        out = {}
        try:
            db = sqlite3.connect(self.cache_path)
            try:
                rows = db.execute("SELECT key, slot, reference, result FROM answers WHERE grader = ?",
                                  (self.fingerprint,)).fetchall()
            finally:
                db.close()
        except sqlite3.Error:           # no cache yet, or a damaged one: grade again
            return out
        for key, slot, reference, result in rows:
            if (slots is None or slot in slots) and reference == versions.reference_version(slot):
                try:
                    out[key] = json.loads(result)
                except ValueError:
                    continue
        return out

    def open_cache(self):
        return CacheWriter(self.cache_path, self.fingerprint)


class CacheWriter:
    def __init__(self, path: Path, fingerprint: str):
        self.fingerprint = fingerprint
        try:
            self.db = sqlite3.connect(path)
            self.db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, slot TEXT, grader TEXT, "
                            "reference TEXT, result TEXT)")
            self.db.commit()
        except sqlite3.DatabaseError:   # not a database (damaged): start a new one
            try:
                self.db.close()
            except Exception:
                pass
            Path(path).unlink(missing_ok=True)
            self.db = sqlite3.connect(path)
            self.db.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, slot TEXT, grader TEXT, "
                            "reference TEXT, result TEXT)")
            self.db.commit()

    def add(self, key: str, slot: str, result: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                        (key, slot, self.fingerprint, versions.reference_version(slot),
                         json.dumps(result, sort_keys=True, ensure_ascii=False)))
        self.db.commit()

    def close(self) -> None:
        self.db.close()
