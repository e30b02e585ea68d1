"""Matrix answers: shapes first, then exact rational arithmetic with random matrices.

Matrix symbols are replaced by random rational matrices of the right kind -- symmetric
positive definite for precisions and covariances (Lambda, L, Sigma, Psi), columns for
vectors, general square matrices otherwise -- at a concrete size, and both sides are
evaluated exactly (inverses included). A shape that differs from the reference's is a wrong
answer, not an error. An answer that equals the reference structurally is a symbolic proof.
"""
from __future__ import annotations

import random
import time
from collections import OrderedDict

import sympy as sp

from ..symbols import as_expr

from ..evidence import Evidence, Kind, Status

SIZES = (3, 2, 4, 5, 1)   # Cayley-Hamilton terms that vanish at sizes 2 and 3 show at 4 and 5
TRIALS = 20
SPD_NAMES = {"Lambda", "L", "Sigma", "Psi", "S", "P", "C", "Q"}


def is_matrix(x) -> bool:
    return isinstance(x, (sp.MatrixExpr, sp.MatrixBase))


KINDS = ("spd", "symmetric", "any", "vector")


def kind_of(m: sp.MatrixSymbol, slot) -> str:
    """The slot's ``matrix_kinds`` entry for ``m`` ("spd", "symmetric", "any", "vector"); without
    one a column is a vector, and the usual names of precisions and covariances are SPD."""
    kinds = getattr(slot, "matrix_kinds", None) or {}
    if m.name in kinds:
        kind = kinds[m.name]
        if kind not in KINDS:
            raise ValueError(f"matrix_kinds[{m.name!r}] = {kind!r}: the kinds are {', '.join(KINDS)}")
        if kind != "vector" and m.shape[1] == 1 and m.shape[0] != 1:
            return "vector"                # a column stays a column whatever it is called
        return kind
    if m.shape[1] == 1:
        return "vector"
    return "spd" if m.name in SPD_NAMES else "any"


def _random(kind: str, rows: int, cols: int, rng: random.Random) -> sp.Matrix:
    def r():
        return sp.Rational(rng.randint(-9, 9), rng.randint(1, 5))
    if kind == "spd":
        M = sp.Matrix(rows, rows, lambda *_: r())
        return M * M.T + sp.eye(rows)
    if kind == "symmetric":
        M = sp.Matrix(rows, rows, lambda *_: r())
        return M + M.T
    return sp.Matrix(rows, cols, lambda *_: r())


def _dims(exprs) -> set:
    out = set()
    for e in exprs:
        for m in e.atoms(sp.MatrixSymbol):
            out |= {d for d in m.shape if isinstance(d, sp.Symbol)}
    return out


def _expanded(slot, expr):
    """``expr`` with the slot's named matrices (Sigma = (Lambda + A^T L A)^{-1}) replaced by their
    definitions, so an answer written with them is compared in the slot's primitives."""
    from ..latex.scope import build, for_slot
    from .core import expand
    try:
        scope = for_slot(slot.id)
    except KeyError:                       # a slot made on the spot: its own definitions
        scope = build(slot.symbols, slot.functions, slot.definitions, slot.reference, matrix=True)
    return expand(expr, slot.id, scope=scope)


def compare(slot, answer, seed: int = 0) -> Evidence:
    started = time.perf_counter()
    reference = _expanded(slot, slot.reference)
    answer = _expanded(slot, answer) if is_matrix(answer) else answer
    if not is_matrix(answer):
        return Evidence(Status.REFUTED, Kind.SYMBOLIC, "a scalar where the slot's quantity is a matrix",
                        seconds=time.perf_counter() - started)
    if tuple(answer.shape) != tuple(reference.shape):
        return Evidence(Status.REFUTED, Kind.SYMBOLIC,
                        f"dimension mismatch: the answer is {_shape(answer)}, the quantity is {_shape(reference)}",
                        seconds=time.perf_counter() - started)
    try:
        if sp.simplify((answer - reference).doit()) == sp.ZeroMatrix(*reference.shape) or answer == reference:
            return Evidence(Status.PROVED, Kind.SYMBOLIC, "the answer is the reference as a matrix expression",
                            seconds=time.perf_counter() - started)
    except Exception:
        pass
    mats = sorted(answer.atoms(sp.MatrixSymbol) | reference.atoms(sp.MatrixSymbol), key=lambda m: m.name)
    dims = _dims([answer, reference])
    draws = _draws(tuple((m, kind_of(m, slot)) for m in mats), tuple(sorted(dims, key=str)), seed)
    used = 0
    for trial, (size, sub_dims, values) in enumerate(draws):
        try:
            a = _explicit_at(answer, draws, trial)
            r = _explicit_at(reference, draws, trial)
        except (ValueError, ZeroDivisionError, sp.NonInvertibleMatrixError):
            continue
        if a.shape != r.shape:
            return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC, f"shapes differ at size {size}",
                            seconds=time.perf_counter() - started)
        if a != r:
            example = {m.name: str(v.tolist()) for m, v in values.items()}
            example.update(size=size, answer=str(a.tolist()), reference=str(r.tolist()))
            return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC,
                            "the answer and the reference differ for random matrices of the right kind "
                            "(exact rational arithmetic)", counterexample=example,
                            seconds=time.perf_counter() - started)
        used += 1
    if used < TRIALS // 2:
        return Evidence(Status.UNCHECKED, Kind.NONE, f"only {used} random models could be evaluated",
                        seconds=time.perf_counter() - started)
    return Evidence(Status.PROVED, Kind.EXACT_NUMERIC,
                    f"equal in exact rational arithmetic for {used} random models (sizes {SIZES}; "
                    "symmetric positive definite where a precision or covariance is meant)",
                    seconds=time.perf_counter() - started, extra={"points": used})


_DRAWS: OrderedDict = OrderedDict()      # (matrices and kinds, dims, seed) -> the TRIALS draws
_EXPLICIT: OrderedDict = OrderedDict()   # (expr, draws key, trial) -> matrix, or the error it raised
CACHE_SIZE = 20000
_ERRORS = (ValueError, ZeroDivisionError)   # NonInvertibleMatrixError is a ValueError


class _Draws(list):
    key = None


def _draws(mats_kinds: tuple, dims: tuple, seed: int) -> list:
    """The random matrices of every trial: [(size, {dim: size}, {matrix: value})], drawn in order
    from ``random.Random(seed)``. Kept per process: every answer to a slot (and every mutation of
    its reference) is evaluated with the same matrices, so their values are reused too."""
    key = (mats_kinds, dims, seed)
    hit = _DRAWS.get(key)
    if hit is not None:
        return hit
    rng = random.Random(seed)
    out = _Draws()
    out.key = key
    for trial in range(TRIALS):
        size = SIZES[trial % len(SIZES)]
        sub_dims = {d: size for d in dims}
        values = {}
        for m, kind in mats_kinds:
            rows, cols = (as_expr(x).subs(sub_dims) for x in m.shape)
            values[m] = _random(kind, int(rows), int(cols), rng)
        out.append((size, sub_dims, values))
    _DRAWS[key] = out
    if len(_DRAWS) > 256:
        _DRAWS.popitem(last=False)
    return out


def _explicit_at(expr, draws: _Draws, trial: int) -> sp.Matrix:
    """``_explicit`` at one trial's matrices, computed once per (expression, draws, trial)."""
    key = (expr, draws.key, trial)
    hit = _EXPLICIT.get(key)
    if hit is None:
        _, sub_dims, values = draws[trial]
        try:
            hit = (True, _explicit(expr, values, sub_dims))
        except _ERRORS as exc:
            hit = (False, exc)
        _EXPLICIT[key] = hit
        if len(_EXPLICIT) > CACHE_SIZE:
            _EXPLICIT.popitem(last=False)
    ok, value = hit
    if not ok:
        raise value.with_traceback(None)
    return value


def _explicit(expr, values, dims) -> sp.Matrix:
    e = expr.subs(dims).xreplace({sp.MatrixSymbol(m.name, *(as_expr(d).subs(dims) for d in m.shape)): v
                                   for m, v in values.items()})
    e = e.xreplace(values)
    return sp.Matrix(e.doit())


def _shape(x) -> str:
    return " x ".join(str(d) for d in x.shape)
