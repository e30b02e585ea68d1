"""Optional parts of the install, by job (pyproject.toml's extras), and the message a command
gives when the one it needs is missing.

The base install (``pip install derivcheck``) grades answers and classes and verifies
symbolically; it never imports torch. ``require`` looks modules up without importing them.
"""
from __future__ import annotations

import importlib.util

# extra -> (modules it provides that commands import, what it is for)
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "numeric": (("torch", "scipy"), "the numeric cross-checks (Monte Carlo, quadrature) and their figures"),
    "publish": (("matplotlib", "pylatexenc"), "documents, reports and plots"),
    "serve": (("starlette", "uvicorn"), "the self-check web page"),
    "dask": (("distributed",), "grading on a Dask cluster"),
}

# top-level module name -> extra, for an import that fails deep inside a command
MODULE_EXTRA = {module: extra for extra, (modules, _) in EXTRAS.items() for module in modules}
MODULE_EXTRA.update({"IPython": "publish", "latex2mathml": "publish", "dask": "dask"})


class MissingExtra(Exception):
    """A command needs an optional part of the install that is not there."""

    def __init__(self, extras: list[str], missing: list[str], purpose: str):
        self.extras, self.missing = extras, missing
        spec = ",".join(extras)
        super().__init__(
            f"{purpose} needs the [{spec}] extra{'s' if len(extras) > 1 else ''}, not installed "
            f"(missing: {', '.join(missing)}). "
            f'Install it with: pip install "derivcheck[{spec}]" (from a clone: pip install -e ".[{spec}]"'
            + ('; add -c constraints/cpu.txt for the CPU build of torch)' if "numeric" in extras else ")"))


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):      # a broken or hidden installation counts as missing
        return False


def missing_modules(extra: str) -> list[str]:
    return [m for m in EXTRAS[extra][0] if not _installed(m)]


def require(*extras: str, purpose: str) -> None:
    """Raise ``MissingExtra`` naming every one of ``extras`` whose modules are not installed."""
    lacking, missing = [], []
    for extra in extras:
        gone = missing_modules(extra)
        if gone:
            lacking.append(extra)
            missing += gone
    if lacking:
        raise MissingExtra(lacking, missing, purpose)


def from_import_error(exc: ModuleNotFoundError, purpose: str) -> MissingExtra | None:
    """The ``MissingExtra`` for an import of a module that an extra provides, else None."""
    top = (exc.name or "").split(".")[0]
    extra = MODULE_EXTRA.get(top)
    if extra is None:
        return None
    return MissingExtra([extra], [top], purpose)
