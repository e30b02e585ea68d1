"""A proof cache: a step's evidence, stored under a key made of everything that decides it.

The key (sha256 of a stable serialisation) covers:

- the step's two sides, relation, side conditions and gap certificate (``sympy.srepr``, which
  includes each symbol's assumptions), its family and definition flag, and its time limit;
- the checker: the default prover, or a step's own ``check`` callable (its module and qualified
  name);
- a side built lazily (a zero-argument callable) and an own checker (a closure, whose data does
  not print) are keyed by their place instead: the derivation, the step's position, its module,
  and the source of the whole catalogue (every catalogue module and what they import); a step
  outside the hashed catalogue with such a part is not cached. A warm run thus never rebuilds
  the catalogue's algebra to compute a key;
- the **checker version**: the sha256 of the source of every ``derivations`` module the engine can
  run (the import closure of ``verify``, ``prove`` and ``limits``, function-level imports
  included), of the modules outside it that define a class named in the step's expressions,
  and the versions of Python, SymPy and mpmath.

Symbol domains (``x in (0, 1)``) are not SymPy assumptions: the declarations a check reads
(``symbols.info``) are recorded and stored with its entry, and the entry is used only while
every one of them is unchanged (a test that redeclares a symbol misses).

A changed side, side condition, domain, checker or engine file therefore misses: an entry can
never be read back for a changed step. Anything that cannot be serialised faithfully (an object
that is neither a SymPy expression, a number nor text) makes the step uncacheable; it is then
simply checked.

What is stored: only outcomes that a rerun would reproduce. The engine's inner attempts (the
prover's 8 s symbolic attempt, the violation search, switch signs) are budgeted in CPU time
(``limits.time_limit(cpu=True)``), so they reach the same outcome on a loaded machine as on an
idle one, and the numeric fallbacks are seeded. A wall-clock limit that fired (the step's
``--timeout``, or a checker's own limit) makes the outcome machine-dependent: a starved process
may run out where an idle one would finish. Such an outcome is stored only when the check was
not starved (its process had the CPU for >= ``UNSTARVED`` of its wall time, so an idle machine
would have run out too), and is read back only under the same step limit (the limit is in the
key). Errors (perhaps a resource failure) and Monte Carlo estimates are never stored.
``derivcheck verify --no-cache`` reruns everything.

A run whose every step was read back or stored also stores its report, under a key of the whole
package's source, the selectors and the limit (``report_key``); an identical run prints it
without loading the catalogue.

Storage: one SQLite file (WAL journal, one transaction per write, a busy timeout) in
``$DERIVCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/derivcheck``, else ``~/.cache/derivcheck``,
safe under concurrent processes (pytest-xdist workers, verify's workers). Each row carries the
sha256 of its key and value; a row that does not match is deleted, and a file SQLite cannot
read is discarded and rebuilt, never trusted. ``DERIVCHECK_NO_CACHE=1`` turns the cache off.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sqlite3
import sys
import time
from pathlib import Path

SCHEMA = 1
FILENAME = f"proofs-v{SCHEMA}.sqlite3"
UNSTARVED = 0.9          # CPU / wall above which a timed-out check is taken to have had the machine
PACKAGE_DIR = Path(__file__).resolve().parent
CATALOGUE_DIR = PACKAGE_DIR / "catalogue"
# the roots of the engine's import graph: everything they import inside ``derivations`` is hashed
ENGINE_ROOTS = ("verify.py", "prove.py", "proof_cache.py", "limits.py")


# --------------------------------------------------------------------------- where
def cache_dir() -> Path:
    """$DERIVCHECK_CACHE_DIR, else $XDG_CACHE_HOME/derivcheck, else ~/.cache/derivcheck."""
    if os.environ.get("DERIVCHECK_CACHE_DIR"):
        return Path(os.environ["DERIVCHECK_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "derivcheck"
    return Path.home() / ".cache" / "derivcheck"


def disabled_by_environment() -> bool:
    return os.environ.get("DERIVCHECK_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no")


# --------------------------------------------------------------------------- checker version
_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#]*)", re.M)


def _relative_imports(path: Path) -> set[Path]:
    """The files inside ``derivations`` that ``path`` imports, at any level (function bodies too).
    A textual scan: a line in a string that looks like an import only adds a file (generous)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return set()
    package = path.parent.relative_to(PACKAGE_DIR.parent).parts        # ("derivations", ...)
    found: set[Path] = set()

    def add(parts) -> None:
        if not parts or parts[0] != "derivations":
            return
        base = PACKAGE_DIR.parent.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                found.add(candidate)

    for dots, module, names in _FROM.findall(text):
        here = list(package[: len(package) - (len(dots) - 1)]) if dots else []
        mod = here + [m for m in module.split(".") if m]
        add(mod)
        for name in re.findall(r"[A-Za-z_]\w*", names.split(" as ")[0] if "(" not in names else names):
            add(mod + [name])                                   # ``from . import lemma``
    for names in _IMPORT.findall(text):
        for name in names.split(","):
            add(name.split(" as ")[0].strip().split("."))
    return found


def _closure(roots) -> list[Path]:
    seen: set[Path] = set()
    todo = [Path(r) for r in roots]
    while todo:
        p = todo.pop()
        if p in seen or not p.is_file():
            continue
        seen.add(p)
        todo.extend(_relative_imports(p) - seen)
        init = p.parent / "__init__.py"                   # a package's __init__ runs on import
        if init != p and init.is_file() and p.parent != PACKAGE_DIR.parent:
            todo.append(init)
    return sorted(seen)


def _hash_files(paths) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(PACKAGE_DIR.parent)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def engine_files() -> tuple[Path, ...]:
    """Every ``derivations`` file that the engine can run while deciding a step: the import
    closure of the engine roots (the catalogue itself is hashed separately)."""
    files = _closure(PACKAGE_DIR / r for r in ENGINE_ROOTS)
    return tuple(p for p in files if CATALOGUE_DIR not in p.parents)


@functools.lru_cache(maxsize=None)
def catalogue_files() -> tuple[Path, ...]:
    """The catalogue modules and everything they import (generous: all of them)."""
    roots = sorted(CATALOGUE_DIR.glob("*.py"))
    return tuple(_closure(roots))


@functools.lru_cache(maxsize=None)
def checker_version() -> str:
    """sha256 of the engine's source files and the versions of what it runs on."""
    import mpmath
    import sympy
    h = hashlib.sha256()
    h.update(f"schema {SCHEMA}; python {sys.version}; sympy {sympy.__version__}; "
             f"mpmath {mpmath.__version__}".encode())
    h.update(_hash_files(engine_files()).encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def catalogue_version() -> str:
    return _hash_files(catalogue_files())


@functools.lru_cache(maxsize=None)
def _module_file_hash(filename: str) -> str:
    return hashlib.sha256(Path(filename).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- the key
class Uncacheable(Exception):
    """The step holds something that cannot be serialised faithfully."""


def _ser(obj, texts: list) -> object:
    """A JSON-able, faithful rendering of a side: SymPy objects by ``srepr`` (their arguments in
    stored order: two objects are equal exactly when their arguments are); plain data as itself.
    Each ``srepr`` text is also appended to ``texts`` (to find the classes it is built from)."""
    import sympy as sp
    if obj is None or isinstance(obj, (bool, int, str)):
        return [type(obj).__name__, obj]
    if isinstance(obj, float):
        return ["float", obj.hex()]
    if isinstance(obj, (tuple, list)):
        return [type(obj).__name__, [_ser(x, texts) for x in obj]]
    if isinstance(obj, (sp.Basic, sp.MatrixBase)):
        text = sp.srepr(obj, order="none")
        texts.append(text)
        return ["sympy", type(obj).__name__, text]
    raise Uncacheable(f"a {type(obj).__name__} is not serialised by the proof cache")


_CLASSES: tuple[int, dict] = (-1, {})


def _outside_classes() -> dict[str, set[str]]:
    """Class name -> "file:sha256" of the SymPy classes defined in a loaded ``derivations``
    module outside the engine (refreshed when more modules have been loaded)."""
    global _CLASSES
    import sympy as sp
    if _CLASSES[0] == len(sys.modules):
        return _CLASSES[1]
    engine = set(engine_files())
    out: dict[str, set[str]] = {}
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if not (name == "derivations" or name.startswith("derivations.")) or not filename:
            continue
        path = Path(filename).resolve()
        if path in engine:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and issubclass(value, sp.Basic) and value.__module__ == name:
                out.setdefault(value.__name__, set()).add(
                    f"{path.relative_to(PACKAGE_DIR)}:{_module_file_hash(str(path))}")
    _CLASSES = (len(sys.modules), out)
    return out


def _class_files(texts) -> list[str]:
    """Source hashes of the ``derivations`` modules outside the engine that define a class named
    in the step's expressions (generous: by name; the engine's and SymPy's classes are covered by
    the checker version)."""
    out = set()
    for name, files in _outside_classes().items():
        if any(f"{name}(" in t for t in texts):
            out |= files
    return sorted(out)


def step_key(step, seconds: float, where: tuple | None = None) -> str:
    """The cache key of ``step`` checked under a ``seconds`` limit; raises ``Uncacheable``.

    A side, side condition or certificate that is an expression is keyed by its ``srepr``. One
    built lazily (a zero-argument callable), or a step with its own checker (a closure whose data
    does not print), is keyed by its place ``where`` = (derivation id, position, module file) and
    the source of the whole catalogue; the module must be part of the hashed catalogue. Neither
    builds a lazy side, so a warm run does not redo the catalogue's algebra."""
    classes: list = []
    material = {
        "schema": SCHEMA,
        "engine": checker_version(),
        "seconds": repr(float(seconds)),
        "rel": step.rel,
        "family": step.family,
        "definition": bool(step.definition),
        "assume": _ser(list(step.assume), classes),
    }
    placed = step.check is not None
    for name in ("lhs", "rhs", "gap"):
        raw = getattr(step, name)
        if callable(raw) and not _is_sympy(raw):
            placed = True
            material[name] = ["lazy", getattr(raw, "__module__", None), getattr(raw, "__qualname__", None)]
        else:
            material[name] = _ser(raw, classes)
    if step.check is not None:
        material["checker"] = [getattr(step.check, "__module__", None), getattr(step.check, "__qualname__", None)]
    else:
        material["checker"] = "prove.check_relation"
    if placed:
        if where is None or len(where) != 3:
            raise Uncacheable("a lazily built side or an own checker is keyed by its place in the catalogue")
        derivation_id, index, module = where
        path = Path(module).resolve() if module else None
        if path is None or path not in set(catalogue_files()):
            raise Uncacheable(f"{module} is not part of the hashed catalogue")
        material["where"] = [str(derivation_id), int(index), str(path.relative_to(PACKAGE_DIR))]
        material["catalogue"] = catalogue_version()
    material["classes"] = _class_files(classes)
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _is_sympy(obj) -> bool:
    import sympy as sp
    return isinstance(obj, (sp.Basic, sp.MatrixBase))


# --------------------------------------------------------------------------- symbol-table reads
class reading_symbols:
    """Record the symbols whose declaration (``symbols.info``) a check reads: their domains are
    stored with the entry and must be the same when it is read back."""

    def __enter__(self):
        from . import symbols as symtab
        self.read: set = set()
        symtab._READERS.append(self.read)
        return self

    def __exit__(self, *exc):
        from . import symbols as symtab
        symtab._READERS.remove(self.read)
        return False

    def deps(self) -> list | None:
        return symbol_deps(self.read)


def symbol_deps(symbols) -> list | None:
    """[name, assumptions, lo, hi, integer] per symbol (None when one cannot be rebuilt)."""
    import sympy as sp

    from . import symbols as symtab
    rows = []
    for s in symbols:
        if type(s) is not sp.Symbol:
            continue        # ``declare`` stores plain Symbols only: anything else reads its own assumptions
        assumptions = dict(getattr(s, "_assumptions_orig", None) or s.assumptions0)
        if not all(isinstance(v, bool) for v in assumptions.values()):
            return None
        dom = symtab.info(s).domain
        rows.append([s.name, assumptions, sp.srepr(dom.lo), sp.srepr(dom.hi), bool(dom.integer)])
    return sorted(rows, key=lambda r: (r[0], json.dumps(r[1], sort_keys=True)))


def deps_hold(rows) -> bool:
    """Does every recorded symbol still have the recorded domain?"""
    import sympy as sp

    from . import symbols as symtab
    for name, assumptions, lo, hi, integer in rows:
        s = sp.Symbol(name, **assumptions)
        dom = symtab.info(s).domain
        if sp.srepr(dom.lo) != lo or sp.srepr(dom.hi) != hi or bool(dom.integer) != integer:
            return False
    return True


# --------------------------------------------------------------------------- whole runs
REPORTS_KEPT = 16


def _package_version(name: str) -> str:
    """A package's version without importing it (SymPy takes 0.6 s to import)."""
    import importlib.util
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return "absent"
    folder = Path(spec.origin).parent
    for candidate in ("release.py", "__init__.py", "version.py", "_version.py"):
        try:
            found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", (folder / candidate).read_text(), re.M)
        except OSError:
            continue
        if found:
            return found.group(1)
    import importlib.metadata
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def source_digest() -> str:
    """sha256 of every file in the ``derivations`` package (not only those the engine imports:
    a report depends on the whole catalogue and on how it is loaded) and of what runs it."""
    h = hashlib.sha256()
    h.update(f"schema {SCHEMA}; python {sys.version}; sympy {_package_version('sympy')}; "
             f"mpmath {_package_version('mpmath')}".encode())
    for p in sorted(PACKAGE_DIR.rglob("*")):
        if "__pycache__" in p.parts or p.suffix in (".pyc", ".pyo") or not p.is_file():
            continue
        h.update(str(p.relative_to(PACKAGE_DIR)).encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def report_key(selectors, seconds: float) -> str:
    """The key of a whole symbolic ``derivcheck verify`` run: the package's source (so the
    catalogue, every checker and every symbol declaration), the selectors and the step time
    limit. Computed without loading the catalogue."""
    material = {"schema": SCHEMA, "kind": "verify-report", "source": source_digest(),
                "selectors": sorted(set(selectors)), "seconds": repr(float(seconds))}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- evidence <-> text
def _evidence_json(evidence) -> str | None:
    """The evidence as JSON, or None when it would not come back equal."""
    from .evidence import Evidence
    d = {"status": evidence.status.value, "kind": evidence.kind.value, "detail": evidence.detail,
         "counterexample": evidence.counterexample, "seconds": evidence.seconds, "extra": evidence.extra}
    try:
        text = json.dumps(d, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError):
        return None
    try:
        back = _evidence_from(text)
    except (TypeError, ValueError, KeyError):
        return None
    if not isinstance(back, Evidence) or back != evidence:
        return None
    return text


def _evidence_from(text: str):
    from .evidence import Evidence, Kind, Status
    d = json.loads(text)
    return Evidence(Status(d["status"]), Kind(d["kind"]), str(d["detail"]), d["counterexample"],
                    float(d["seconds"]), d["extra"])


def _digest(key: str, value: str) -> str:
    return hashlib.sha256(f"{SCHEMA}\0{key}\0{value}".encode()).hexdigest()


# --------------------------------------------------------------------------- the store
class ProofCache:
    """The store; one SQLite connection per process (opened lazily, again after a fork)."""

    def __init__(self, directory: Path | str | None = None):
        self.directory = Path(directory) if directory is not None else cache_dir()
        self.path = self.directory / FILENAME
        self._conn = None
        self._pid = None
        self.broken = False
        self.hits = self.misses = self.stored = self.skipped = 0
        self.run_complete = False        # set by ``verify.run_all``

    # -- connection
    def _connect(self):
        if self.broken:
            return None
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self._conn = None          # a connection inherited through fork is never used
        for attempt in (1, 2):
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA busy_timeout = 30000")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                conn.execute("PRAGMA synchronous = NORMAL")
                check = conn.execute("PRAGMA quick_check").fetchone()
                if not check or check[0] != "ok" or not mode:
                    raise sqlite3.DatabaseError(f"quick_check: {check}")
                conn.execute("CREATE TABLE IF NOT EXISTS proofs (key TEXT PRIMARY KEY, evidence TEXT NOT NULL, "
                             "digest TEXT NOT NULL, created REAL NOT NULL, timed INTEGER NOT NULL)")
                conn.execute("CREATE TABLE IF NOT EXISTS timings (task TEXT PRIMARY KEY, seconds REAL NOT NULL)")
                conn.execute("CREATE TABLE IF NOT EXISTS reports (key TEXT PRIMARY KEY, payload TEXT NOT NULL, "
                             "digest TEXT NOT NULL, created REAL NOT NULL)")
                self._conn, self._pid = conn, os.getpid()
                return conn
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    time.sleep(0.05 * attempt)
                    continue
                if attempt == 1 and self._discard():
                    continue
                break
            except sqlite3.DatabaseError:       # not a database, malformed, torn: discard it
                if attempt == 1 and self._discard():
                    continue
                break
            except OSError:
                break
        self.broken = True
        return None

    def _discard(self) -> bool:
        """Remove a file SQLite cannot read (and its journal), so that it is rebuilt."""
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                p = Path(str(self.path) + suffix)
                if p.exists():
                    p.unlink()
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    # -- entries
    def get(self, key: str):
        """The stored evidence for ``key``, or None (also when a symbol it read has another
        domain now)."""
        conn = self._connect()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT evidence, digest FROM proofs WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError:
            self.broken = True
            return None
        if row is None:
            self.misses += 1
            return None
        value, digest = row
        try:
            if not isinstance(value, str) or digest != _digest(key, value):
                raise ValueError("digest mismatch")
            entry = json.loads(value)
            evidence = _evidence_from(entry["evidence"])
            deps = entry["deps"]
            if not isinstance(deps, list):
                raise ValueError("deps")
        except (TypeError, ValueError, KeyError):
            self._delete(key)
            self.misses += 1
            return None
        try:
            fresh = deps_hold(deps)
        except Exception:  # noqa: BLE001 - a row that cannot be validated is not used
            fresh = False
        if not fresh:
            self.misses += 1
            return None
        self.hits += 1
        return evidence

    def put(self, key: str, evidence, deps, timed: bool = False) -> bool:
        """Store ``evidence`` under ``key`` with the symbol declarations it read (``deps``)."""
        text = _evidence_json(evidence)
        if text is None or deps is None:
            self.skipped += 1
            return False
        value = json.dumps({"evidence": text, "deps": deps}, sort_keys=True)
        conn = self._connect()
        if conn is None:
            return False
        try:
            conn.execute("INSERT OR REPLACE INTO proofs (key, evidence, digest, created, timed) VALUES (?, ?, ?, ?, ?)",
                         (key, value, _digest(key, value), time.time(), int(timed)))
        except sqlite3.DatabaseError:
            return False
        self.stored += 1
        return True

    def _delete(self, key: str) -> None:
        try:
            self._conn.execute("DELETE FROM proofs WHERE key = ?", (key,))
        except (sqlite3.DatabaseError, AttributeError):
            pass

    # -- whole runs: a report stored only when every step in it was read back or stored
    def get_report(self, key: str) -> dict | None:
        conn = self._connect()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT payload, digest FROM reports WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError:
            return None
        if row is None:
            return None
        try:
            if row[1] != _digest(key, row[0]):
                raise ValueError("digest mismatch")
            payload = json.loads(row[0])
            if not isinstance(payload, dict) or not isinstance(payload.get("derivations"), list):
                raise ValueError("payload")
        except (TypeError, ValueError):
            try:
                conn.execute("DELETE FROM reports WHERE key = ?", (key,))
            except sqlite3.DatabaseError:
                pass
            return None
        return payload

    def put_report(self, key: str, payload: dict) -> bool:
        conn = self._connect()
        if conn is None:
            return False
        try:
            text = json.dumps(payload, sort_keys=True)
        except (TypeError, ValueError):
            return False
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT OR REPLACE INTO reports (key, payload, digest, created) VALUES (?, ?, ?, ?)",
                             (key, text, _digest(key, text), time.time()))
                conn.execute("DELETE FROM reports WHERE key NOT IN (SELECT key FROM reports ORDER BY created DESC "
                             "LIMIT ?)", (REPORTS_KEPT,))
        except sqlite3.DatabaseError:
            return False
        return True

    # -- scheduling hints: how long each step took when last checked (never a verdict)
    def timings(self) -> dict[str, float]:
        conn = self._connect()
        if conn is None:
            return {}
        try:
            return {str(k): float(v) for k, v in conn.execute("SELECT task, seconds FROM timings")}
        except (sqlite3.DatabaseError, TypeError, ValueError):
            return {}

    def record_timings(self, took: dict[str, float]) -> None:
        conn = self._connect()
        if conn is None:
            return
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO timings (task, seconds) VALUES (?, ?)",
                                 [(k, float(v)) for k, v in took.items()])
        except sqlite3.DatabaseError:
            pass

    def clear(self) -> None:
        conn = self._connect()
        if conn is not None:
            for table in ("proofs", "reports", "timings"):
                conn.execute(f"DELETE FROM {table}")


_DEFAULT: ProofCache | None = None


def default() -> ProofCache | None:
    """The process's cache in ``cache_dir()``, or None when ``DERIVCHECK_NO_CACHE`` is set."""
    global _DEFAULT
    if disabled_by_environment():
        return None
    directory = cache_dir()
    if _DEFAULT is None or _DEFAULT.directory != directory:
        _DEFAULT = ProofCache(directory)
    return _DEFAULT


def storable(evidence, timed_out: bool, cpu: float, wall: float) -> bool:
    """Is this outcome one a rerun under the same limits would reproduce? (See the module text.)"""
    from .evidence import Kind, Status
    if evidence.status is Status.ERROR:
        return False               # a crash may be a resource failure (memory): check again
    if evidence.kind is Kind.MONTE_CARLO:
        return False
    if not timed_out:
        return True
    return wall > 0 and cpu >= UNSTARVED * wall
