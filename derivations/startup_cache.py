"""Values the catalogue computes on import, kept on disk so a cold start need not recompute them.

The GAN question derives every reference from its loss (``fdiv.analyse``: about a second for the
five losses). ``cached(namespace, key, compute)`` stores ``compute()`` under a key made of

- ``key`` (the caller's description of its input: ``sympy.srepr`` of the loss, with assumptions),
- the **code version**: the sha256 of every module directly in the ``derivations`` package (the
  analysis and everything it imports live there) and the versions of Python, SymPy and mpmath,

so a changed input or a changed line of the engine is a miss, never a stale hit. A value computed
while a time limit fired (``limits.time_limit``: a starved machine) is not stored: it might differ
on a rerun. An entry that cannot be read back whole (truncated, another key) is recomputed.

Storage: pickles in ``$DERIVCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/derivcheck``, else
``~/.cache/derivcheck`` (subfolder ``startup``), written atomically, readable by the user only;
the cache holds only what this code computed from the catalogue, never a student's text.
``DERIVCHECK_NO_CACHE=1`` turns it off (``derivcheck verify --no-cache`` does too).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
from functools import lru_cache
from pathlib import Path

from .atomic import write_atomic

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA = 1


def cache_dir() -> Path:
    base = os.environ.get("DERIVCHECK_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "derivcheck"


def disabled() -> bool:
    return os.environ.get("DERIVCHECK_NO_CACHE", "").strip() not in ("", "0")


@lru_cache(maxsize=1)
def code_version() -> str:
    import mpmath
    import sympy
    h = hashlib.sha256(f"{SCHEMA}|{sys.version}|{sympy.__version__}|{mpmath.__version__}".encode())
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _key(namespace: str, key: str) -> str:
    return hashlib.sha256(f"{namespace}\0{code_version()}\0{key}".encode()).hexdigest()


def _path(namespace: str, digest: str) -> Path:
    return cache_dir() / "startup" / f"{namespace}-{digest[:40]}.pickle"


def load(namespace: str, key: str):
    """(True, value) for a stored entry, else (False, None)."""
    if disabled():
        return False, None
    digest = _key(namespace, key)
    try:
        blob = _path(namespace, digest).read_bytes()
        head, payload = blob[:64], blob[64:]
        if head.decode() != hashlib.sha256(digest.encode() + payload).hexdigest():
            return False, None
        return True, pickle.loads(payload)
    except Exception:   # missing, truncated, unreadable: recompute
        return False, None


def store(namespace: str, key: str, value) -> bool:
    if disabled():
        return False
    digest = _key(namespace, key)
    path = _path(namespace, digest)
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, hashlib.sha256(digest.encode() + payload).hexdigest().encode() + payload,
                     durable=False)
        return True
    except Exception:   # a read-only home, a sandboxed worker (no file writes), an unpicklable value
        return False


def cached(namespace: str, key: str, compute):
    """``compute()``, or its stored value for (namespace, key, code version)."""
    hit, value = load(namespace, key)
    if hit:
        return value
    from . import limits
    count = getattr(limits, "fired", None)
    before = count() if count else None
    value = compute()
    if count and count() == before:      # no time limit ran out: a rerun computes the same value
        store(namespace, key, value)
    return value
