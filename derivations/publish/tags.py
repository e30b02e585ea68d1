"""One short label per piece of evidence, shared by the LaTeX document and the notebooks.

The label says what backs a step, in the words of the outline: "symbolic" (SymPy proved the
relation under the stated assumptions), "family: ..." (proved in a stated concrete family
only), "exact numeric" (high-precision evaluation at random admissible points, never called a
proof), "Monte Carlo" (an estimate with its z-score and standard error), or what went wrong.
The tone names the colour the document gives it.
"""
from __future__ import annotations

from ..evidence import Kind, Status

TONES = ("symbolic", "family", "numeric", "montecarlo", "refuted", "unchecked", "error", "audit")

_KIND = {Kind.SYMBOLIC: ("symbolic", "symbolic"), Kind.SYMBOLIC_FAMILY: ("family", "family"),
         Kind.EXACT_NUMERIC: ("exact numeric", "numeric"), Kind.MONTE_CARLO: ("Monte Carlo", "montecarlo"),
         Kind.NONE: ("no evidence", "unchecked")}


def _first(extra: dict, *keys):
    for key in keys:
        if extra.get(key) is not None:
            return extra[key]
    return None


def monte_carlo_figures(extra: dict) -> str:
    """"z = +0.41, SE = 0.0012, n = 200000" from whichever of these an estimate reports."""
    z, se = _first(extra, "z", "z_score"), _first(extra, "stderr", "se", "standard_error")
    n = _first(extra, "samples", "n")
    parts = []
    if z is not None:
        parts.append(f"z = {float(z):+.2f}")
    if se is not None:
        parts.append(f"SE = {float(se):.3g}")
    if n is not None:
        parts.append(f"n = {int(n)}")
    return ", ".join(parts)


def step_label(step, evidence) -> tuple[str, str]:
    """(label, tone) for one step's evidence."""
    name, tone = _KIND.get(evidence.kind, (evidence.kind.value, "unchecked"))
    if evidence.kind is Kind.SYMBOLIC_FAMILY:
        family = step.family or evidence.extra.get("family", "")
        name = f"family: {family}" if family else "symbolic in a family"
    if evidence.kind is Kind.MONTE_CARLO:
        figures = monte_carlo_figures(evidence.extra)
        name = f"Monte Carlo, {figures}" if figures else name
    if evidence.status is Status.PROVED:
        return name, tone
    if evidence.status is Status.REFUTED:
        return f"refuted ({name})", "refuted"
    if evidence.status is Status.ERROR:
        return "error", "error"
    return "unchecked", "unchecked"


def measurement_label(row: dict) -> tuple[str, str]:
    """(label, tone) for one numeric measurement row (``CheckResult.rows()``)."""
    if row["kind"] == "monte-carlo":
        label = f"Monte Carlo, {monte_carlo_figures(row)}"
        tone = "montecarlo"
    else:
        label, tone = f"{row['kind']}, tol {row['tolerance']:.2g}", "numeric"
    return (label, tone) if row["passed"] else (f"FAILED {label}", "refuted")


def _allowed(row: dict) -> str:
    if row["kind"] == "monte-carlo":
        k = float(row.get("k_se", 0.0))
        return f"{k * float(row['stderr']):.3g} ({k:.2f} SE)"
    return f"{float(row['tolerance']):.3g} (tolerance)"


def comparison(row: dict) -> str:
    """What one numeric row (``CheckResult.rows()``) compared, in words that are true as printed,
    whichever way it went: "estimate 0.387853 exceeds the bound 0.379285 by 0.00857, within the
    allowed 0.037 (tolerance)". The pass/fail wording follows ``row["passed"]``, never a
    recomputation; the difference only picks the words (above/below, exceeds/falls short)."""
    est, ref = float(row["estimate"]), float(row["expected"])
    gap, passed, relation = est - ref, bool(row["passed"]), row.get("relation", "=")
    allowed = _allowed(row)
    head = f"estimate {est:.6g}"
    limit = "within the allowed" if passed else "more than the allowed"
    if relation == ">=":
        if gap == 0:
            return f"{head} equals the bound {ref:.6g}"
        if gap > 0:
            return f"{head} is not below the bound {ref:.6g} (above it by {gap:.3g})"
        return f"{head} falls short of the bound {ref:.6g} by {-gap:.3g}, {limit} {allowed}"
    if relation == "<=":
        if gap == 0:
            return f"{head} equals the bound {ref:.6g}"
        if gap < 0:
            return f"{head} does not exceed the bound {ref:.6g} (below it by {-gap:.3g})"
        return f"{head} exceeds the bound {ref:.6g} by {gap:.3g}, {limit} {allowed}"
    if gap == 0:
        return f"{head} equals the expected value {ref:.6g}"
    side = "above" if gap > 0 else "below"
    return f"{head} is {abs(gap):.3g} {side} the expected value {ref:.6g}, {limit} {allowed}"


def outcome(row: dict) -> str:
    """"pass" or "FAIL"."""
    return "pass" if row["passed"] else "FAIL"
