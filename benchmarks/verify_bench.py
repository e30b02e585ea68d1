"""verify: cold ``derivcheck verify`` wall time, and the moment route against naive SymPy.

Cold means a fresh interpreter, as a user or CI runs it; its baselines are the interpreter
with ``import sympy`` (the floor no check can beat) and ``derivcheck slots`` (the catalogue
loaded, nothing proved). Per statement, the engine computes Gaussian expectations by moments
(``derivations.expectation``); the baselines compute the same expectation the textbook way,
``sympy.integrate`` of density x integrand over the real line and ``sympy.stats.E``, each in a
fresh SymPy cache and under a time limit. Every pair is checked to agree (by value at random
admissible points), so a ratio is never between different answers.
"""
from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import Table

ROOT = Path(__file__).resolve().parent.parent
NAIVE_SECONDS = 15.0


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# Runs one command and reports its wall time, CPU time and the peak RSS of its process tree (the
# largest of the command and its waited-for workers: getrusage(RUSAGE_CHILDREN) in a fresh parent).
_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - started
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": r.ru_utime + r.ru_stime, "rss_mib": r.ru_maxrss / 1024,
                  "rc": proc.returncode, "stderr": proc.stderr[-2000:]}))
"""


def cold(args: list[str], timeout: float = 1200, env: dict | None = None) -> dict:
    """Wall and CPU seconds and peak RSS (MiB) of ``python args`` in a fresh interpreter (the
    repository as cwd)."""
    import os
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, sys.executable, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"wall": float("nan"), "cpu": float("nan"), "rss_mib": float("nan"), "rc": proc.returncode,
                "stderr": proc.stderr[-2000:]}


def _median(runs: list[dict]) -> dict:
    runs = sorted(runs, key=lambda r: r["wall"])
    return {**runs[len(runs) // 2], "runs": [round(r["wall"], 3) for r in runs]}


def cold_verify(ids: list[str], repeats: int = 3) -> tuple[Table, dict]:
    """Cold and warm ``derivcheck verify`` against ``python -c 'import sympy'``, in one run.

    cold: --no-cache in an empty cache folder (no proof cache, no start-up cache, no timings:
    a clean clone); first: the same with the cache on (it fills the proof cache); warm: again
    (a stored report of the identical run: no catalogue load); warm per step: the stored reports
    removed, so every step is read back from the proof cache after loading the catalogue."""
    import sqlite3

    from derivations import proof_cache
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "verify.json"
        env = {"DERIVCHECK_CACHE_DIR": str(Path(tmp) / "cache"), "DERIVCHECK_NO_CACHE": "0"}
        verify_args = ["-m", "derivations.cli", "verify", "-q", *ids]
        floor = _median([cold(["-c", "import sympy"]) for _ in range(repeats)])
        load = cold(["-m", "derivations.cli", "slots", "--json", *ids], env=env)
        cold_run = cold([*verify_args, "--no-cache", "--json", str(out)], env=env)
        report = json.loads(out.read_text()) if out.exists() else {"derivations": [], "summary": {}}
        first = cold([*verify_args, "--json", str(Path(tmp) / "first.json")], env=env)
        settling = []          # a step cut short on a starved machine is checked again until a run stores it
        while len(settling) < 3:
            settling.append(cold([*verify_args, "--json", str(Path(tmp) / "settle.json")], env=env))
            done = json.loads((Path(tmp) / "settle.json").read_text())["summary"]
            if done.get("cached", 0) >= sum(v for k, v in done["steps"].items() if k != "definition"):
                break              # everything read back: the report is stored
        warm = _median([cold([*verify_args, "--json", str(Path(tmp) / "warm.json")], env=env)
                        for _ in range(repeats)])
        db = Path(env["DERIVCHECK_CACHE_DIR"]) / proof_cache.FILENAME
        per_step = []
        for _ in range(repeats):
            with sqlite3.connect(db) as conn:
                conn.execute("DELETE FROM reports")
            per_step.append(cold([*verify_args, "--json", str(Path(tmp) / "step.json")], env=env))
        per_step = _median(per_step)
        summaries = {name: json.loads((Path(tmp) / f).read_text())["summary"] if (Path(tmp) / f).exists() else {}
                     for name, f in (("cold", "verify.json"), ("first", "first.json"), ("warm", "warm.json"),
                                     ("per_step", "step.json"))}
        verdicts = {name: s.get("steps") for name, s in summaries.items()}
        with sqlite3.connect(db) as conn:
            stored = {"proofs": conn.execute("SELECT count(*), sum(timed) FROM proofs").fetchone()}
    what = " ".join(ids) or "all derivations"
    t = Table(f"Cold and warm runs (fresh interpreter): derivcheck verify {what}",
              ["command", "wall s", "CPU s", "wall / floor", "peak RSS MiB", "steps from the cache", "exit"])
    rows = (("python -c 'import sympy' (floor, median)", floor, None),
            ("derivcheck slots --json (catalogue loaded)", load, None),
            ("verify --no-cache, empty cache folder (cold)", cold_run, "cold"),
            ("verify, empty proof cache (cold, fills it)", first, "first"),
            ("verify again (warm: the stored report, median)", warm, "warm"),
            ("verify, reports removed (warm: steps from the proof cache, median)", per_step, "per_step"))
    checked = sum(v for k, v in (summaries["cold"].get("steps") or {}).items() if k != "definition")
    for name, r, which in rows:
        from_cache = f"{summaries[which].get('cached', 0)} / {checked}" if which else "-"
        t.add(name, r["wall"], r["cpu"], r["wall"] / floor["wall"], r["rss_mib"], from_cache, r["rc"])
    t.notes.append(f"proof cache after the runs: {stored['proofs'][0]} entries, {stored['proofs'][1] or 0} of them "
                   "reached after a time limit fired (kept because the check had the CPU throughout); a step "
                   "cut short on a starved machine is not stored, and then no report is")
    for name, r, _ in rows:
        if r["rc"] not in (0, 1):
            t.notes.append(f"{name} exited {r['rc']}: {r['stderr'].strip().splitlines()[-1:] or ''}")
    s = report.get("summary", {})
    t.notes.append(f"verify: {s.get('derivations')} derivations, steps {s.get('steps')}, evidence {s.get('evidence')}; "
                   f"seconds inside verify {s.get('seconds')}")
    same = len({json.dumps(v, sort_keys=True) for v in verdicts.values()}) == 1
    t.notes.append(f"step verdicts {'identical' if same else 'DIFFER'} across the cold, first, warm and per-step runs"
                   + (f": {next(iter(verdicts.values()))}" if same else f": {json.dumps(verdicts)}"))
    t.notes.append(f"walls of the repeated runs: floor {floor['runs']}, warm {warm['runs']}, per step {per_step['runs']}; "
                   f"runs after the first until one read every step back: {[round(r['wall'], 2) for r in settling]}")
    t.notes.append("peak RSS: the largest process of the command's tree (getrusage of children: verify's forked "
                   "workers included); wall > CPU means waiting for the CPU (other processes) or for I/O")
    return t, report


# --------------------------------------------------------------------------- statements
@dataclass
class Statement:
    """One expectation a derivation states, computed by the engine and by naive SymPy."""

    name: str
    derivations: tuple[str, ...]
    engine: Callable                       # the moment route, as the catalogue computes it
    integrate: Callable | None = None      # sympy.integrate of density x integrand
    stats: Callable | None = None          # sympy.stats.E with random variables substituted


def _integral(density_integrand, *ranges):
    import sympy as sp
    expr = density_integrand
    for var in ranges:                     # innermost first
        expr = sp.integrate(expr, (var, -sp.oo, sp.oo), conds="none")
    return expr


def statements() -> list[Statement]:
    import sympy as sp
    import sympy.stats as st

    from derivations import registry
    from derivations.catalogue import sm, vae
    from derivations.expectation import E, E_exp, Normal, diagonal, log_normal, log_normal_diag, normal_density
    registry.load()

    Z, mu, sigma, mu_z, sigma_z = vae.Z, vae.mu, vae.sigma, vae.mu_z, vae.sigma_z
    kl = log_normal(Z, mu, sigma**2) - log_normal(Z, mu_z, sigma_z**2)
    zs = [sp.Symbol(f"Z_{k}", real=True) for k in (1, 2, 3)]
    means, variances = [vae.mu_i[k] for k in (1, 2, 3)], [vae.sigma_i[k] ** 2 for k in (1, 2, 3)]
    prior_means, prior_vars = [vae.mu_zi[k] for k in (1, 2, 3)], [vae.sigma_zi[k] ** 2 for k in (1, 2, 3)]
    kl3 = log_normal_diag(zs, means, variances) - log_normal_diag(zs, prior_means, prior_vars)
    q3 = sp.Mul(*(normal_density(z, m, v) for z, m, v in zip(zs, means, variances)))
    S = vae.SCALAR
    x, xt, m, s, sig = sm.x, sm.x_t, sm.m, sm.s, sm.sigma

    def stats_normal(name, mean, sd):
        return st.Normal(name, mean, sd)

    return [
        Statement("KL(N(mu, sigma^2) || N(mu_z, sigma_z^2)) = E_q[log q - log p]",
                  ("vae.gauss_kl_1d", "vae.elbo_decomp"),
                  lambda: E_exp(kl, Normal(Z, mu, sigma**2)),
                  lambda: _integral(normal_density(Z, mu, sigma**2) * kl, Z),
                  lambda: st.E(kl.xreplace({Z: stats_normal("Zq", mu, sigma)}))),
        Statement("KL between diagonal Gaussians, m = 3", ("vae.gauss_kl_diag",),
                  lambda: E_exp(kl3, *diagonal(zs, means, variances)),
                  lambda: _integral(q3 * kl3, *zs),
                  lambda: st.E(kl3.xreplace({z: stats_normal(f"Zq{k}", mm, sp.sqrt(v))
                                             for k, (z, mm, v) in enumerate(zip(zs, means, variances))}))),
        Statement("p(X) = E_{p(Z)}[p(X|Z)] (linear-Gaussian, n = m = 1)", ("vae.marginal",),
                  lambda: E_exp(sp.exp(S.loglik), *S.p_z),
                  lambda: _integral(sp.exp(S.loglik) * normal_density(Z, mu_z, sigma_z**2), Z),
                  lambda: st.E(sp.exp(S.loglik).xreplace({Z: stats_normal("Zp", mu_z, sigma_z)}))),
        Statement("ELBO = E_q[log p(X, Z) - log q(Z)] (linear-Gaussian, n = m = 1)",
                  ("vae.elbo_decomp", "vae.jensen", "vae.elbo_gap"),
                  lambda: E_exp(S.log_weight, *S.q),
                  lambda: _integral(normal_density(Z, mu, sigma**2) * S.log_weight, Z),
                  lambda: st.E(S.log_weight.xreplace({Z: stats_normal("Zq", mu, sigma)}))),
        Statement("C_1 per coordinate: E_q[1/2 (d/dx log q)^2]", ("sm.ism_constant_gauss",),
                  lambda: E(sm.C1_INTEGRAND, sm.DATA),
                  lambda: _integral(normal_density(x, m, s**2) * sm.C1_INTEGRAND, x),
                  lambda: st.E(sm.C1_INTEGRAND.xreplace({x: stats_normal("xq", m, s)}))),
        Statement("C_3 per coordinate: E_{q(x) q_sigma(x~|x)}[1/2 (d/dx~ log q_sigma(x~|x))^2]",
                  ("sm.dsm_constant_gauss",),
                  lambda: E(sm.C3_INTEGRAND, sm.DATA, sm.KERNEL),
                  lambda: _integral(normal_density(x, m, s**2) * normal_density(xt, x, sig**2) * sm.C3_INTEGRAND, xt, x),
                  lambda: _stats_nested(sm.C3_INTEGRAND, x, xt, m, s, sig)),
        Statement("C_2 per coordinate: E_{q_sigma}[1/2 (d/dx~ log q_sigma(x~))^2]", ("sm.dsm_constant_gauss",),
                  lambda: E(sm.C2_INTEGRAND, sm.NOISED),
                  lambda: _integral(normal_density(xt, m, s**2 + sig**2) * sm.C2_INTEGRAND, xt),
                  lambda: st.E(sm.C2_INTEGRAND.xreplace({xt: stats_normal("xs", m, sp.sqrt(s**2 + sig**2))}))),
    ]


def _stats_nested(integrand, x, xt, m, s, sig):
    """x ~ N(m, s^2), x~ = x + sigma eps with eps ~ N(0, 1) independent."""
    import sympy.stats as st
    X, eps = st.Normal("xq", m, s), st.Normal("eps", 0, 1)
    return st.E(integrand.xreplace({x: X, xt: X + sig * eps}))


def timed(fn: Callable, seconds: float) -> tuple[object, float, str]:
    """(value, seconds, outcome) in a fresh SymPy cache; outcome ok | timeout | error: ..."""
    from sympy.core.cache import clear_cache

    from derivations.limits import CheckTimeout, time_limit
    clear_cache()
    started = time.perf_counter()
    try:
        with time_limit(seconds):
            value = fn()
        return value, time.perf_counter() - started, "ok"
    except CheckTimeout:
        return None, time.perf_counter() - started, "timeout"
    except Exception as exc:  # noqa: BLE001 - a baseline that cannot do it is a result, not a crash
        return None, time.perf_counter() - started, f"error: {type(exc).__name__}"


def agree(a, b, points: int = 4) -> bool | None:
    """Equal values at random admissible points (30 digits); None when ``b`` is not closed-form."""
    import sympy as sp
    from sympy.stats import Expectation
    if b is None:
        return None
    if sp.sympify(b).has(sp.Integral, Expectation):          # left unevaluated: no closed form
        return False
    rng = random.Random(0)
    a, b = sp.sympify(a), sp.sympify(b)
    leaves = (a.atoms(sp.Symbol, sp.Indexed) | b.atoms(sp.Symbol, sp.Indexed)) - {
        i.base.label for i in a.atoms(sp.Indexed) | b.atoms(sp.Indexed)}
    compared = 0
    for _ in range(4 * points):          # a point where a form is singular (0/0) is skipped
        at = {v: sp.Rational(rng.randint(3, 17), 10) * (1 if v.is_positive else rng.choice((-1, 1)))
              for v in sorted(leaves, key=str)}
        va, vb = sp.N(a.xreplace(at), 30), sp.N(b.xreplace(at), 30)
        if not (va.is_comparable and vb.is_comparable):
            continue
        if abs(va - vb) > 1e-20 * (1 + abs(va)):
            return False
        compared += 1
        if compared == points:
            return True
    return False


def compare_statements(chosen: list[Statement], seconds: float) -> Table:
    t = Table("Gaussian expectations: the engine's moment route vs naive SymPy (fresh cache each)",
              ["statement", "derivations", "moment route s", "integrate s", "integrate / moments",
               "sympy.stats s", "stats / moments", "all agree"])
    for st in chosen:
        value, t_engine, ok = timed(st.engine, seconds)
        cells = []
        agreements = []
        for baseline in (st.integrate, st.stats):
            if baseline is None:
                cells += ["-", "-"]
                continue
            other, t_other, outcome = timed(baseline, seconds)
            if outcome == "ok":
                same = agree(value, other)
                agreements.append(same)
                cells += [t_other, t_other / t_engine] if same else [f"{t_other:.3g} (differs)", "-"]
            else:
                cells += [f"> {seconds:g} ({outcome})" if outcome == "timeout" else outcome,
                          f"> {seconds / t_engine:.3g}" if outcome == "timeout" else "-"]
        t.add(st.name, ", ".join(st.derivations), t_engine if ok == "ok" else ok, *cells,
              all(agreements) if agreements else "-")
    t.notes.append(f"each baseline stops after {seconds:g} s (ratio then a lower bound); 'differs' = the baseline's "
                   "value is not closed-form or disagrees at random points, so no ratio is claimed for it")
    return t


def per_derivation(report: dict, chosen: list[Statement]) -> Table:
    by_derivation = {}
    for st in chosen:
        for d in st.derivations:
            by_derivation.setdefault(d, []).append(st.name)
    t = Table("Per derivation (from the cold verify's JSON)",
              ["derivation", "steps", "status", "seconds", "share of verify", "naive baseline (table below)"])
    total = sum(d["seconds"] for d in report.get("derivations", [])) or 1.0
    for d in sorted(report.get("derivations", []), key=lambda d: -d["seconds"]):
        t.add(d["id"], len(d["steps"]), d["status"], d["seconds"], d["seconds"] / total,
              "; ".join(by_derivation.get(d["id"], [])) or "-")
    return t


def run(quick: bool = False, **_) -> dict:
    started = time.perf_counter()
    ids = ["vae.gauss_kl_1d"] if quick else []
    cold_table, report = cold_verify(ids)
    chosen = statements()
    if quick:
        chosen = chosen[:1]
    seconds = 5.0 if quick else NAIVE_SECONDS
    stmt_table = compare_statements(chosen, seconds)
    return {"tables": [cold_table.as_dict(), per_derivation(report, chosen).as_dict(), stmt_table.as_dict()],
            "seconds": time.perf_counter() - started}
