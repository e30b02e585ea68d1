"""The one atomic-write helper of the package: a reader sees the old file or the new one, never
half of either (a temporary file in the same folder, then ``os.replace``)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


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


def write_atomic(path, data: bytes | str, durable: bool = True) -> None:
    """Replace ``path`` by ``data`` so that a reader sees the old or the new file, never half.

    ``durable`` also fsyncs (survives a power cut, not only a killed process); outputs that
    every run rewrites from the journal skip it."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
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
