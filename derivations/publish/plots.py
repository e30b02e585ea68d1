"""Figures of the numeric side, each drawn from the registry or a numeric-check module, never
from numbers typed here: vector PDF for the LaTeX document, PNG for notebooks.

=====================  ===================================================================
mc_convergence         a Monte Carlo estimate +- 2 SE against the sample count, with the
                       closed form as a line (one registered check per question)
gan_losses             f(t) and the optimal discriminator of every GAN loss in the registry
ddim_variance          Var[x_t | x_0] across t for several eta (``numeric_checks.ddim``)
iwae_bounds            ELBO <= IWAE_K <= log p(X) against K (``numeric_checks.vae``'s
                       linear-Gaussian model and closed forms)
dsm_across_theta       l_3 - l across theta for s_theta = theta * MLP (``numeric_checks.sm``)
=====================  ===================================================================

Each builder returns ``(matplotlib Figure, caption)`` or raises ``Unavailable`` with a
message saying which source is missing; ``make_all`` saves what it can and lists the rest.
Figures are built without pyplot, so importing this module changes no global state.
"""
from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp
import torch
from matplotlib.figure import Figure

from .. import registry
from . import questions

MC_COUNTS = (2000, 8000, 32000, 128000)
MC_RUN_SECONDS = 8.0           # stop raising the sample count of a check once a run takes longer
MC_TOTAL_SECONDS = 40.0        # and stop adding questions to the convergence plot after this
FIGSIZE = (7.0, 3.0)
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


class Unavailable(Exception):
    """The source of a plot (a catalogue or numeric-check module) does not exist yet."""


@dataclass(frozen=True)
class PlotFile:
    name: str
    question: str          # "Q1".."Q5", or "numeric" for the section of numeric checks
    caption: str
    pdf: Path
    png: Path
    width: float = 1.0     # fraction of the text width in the document


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            raise Unavailable(f"{name} does not exist yet") from None
        raise


def _numeric(expr, *symbols):
    """A registry expression as a numpy function of ``symbols`` (trusted: the registry's own)."""
    return sp.lambdify(symbols, expr, "numpy")


# ---------------------------------------------------------------------------- Monte Carlo
def _convergence_series(check, counts, seconds):
    """(samples, estimate, SE, expected, measurement name) of the check's first Monte Carlo
    equality at increasing sample counts; at least two counts, then stop once a run gets slow.
    Empty when the check has no such measurement or does not scale with the samples asked for."""
    from numeric_checks import core

    rows = []
    for n in counts:
        started = time.perf_counter()
        result = core.run_check(check, samples=n)
        chosen = [m for m in result.measurements if m.kind == "monte-carlo" and m.relation == "="]
        if not chosen:
            return []
        m = chosen[0]
        rows.append((m.samples, m.estimate, m.stderr, m.expected, m.name))
        if len(rows) == 2 and rows[0][0] == rows[1][0]:
            return []
        if len(rows) >= 2 and time.perf_counter() - started > seconds:
            break
    return rows


def mc_convergence(selectors=(), counts=MC_COUNTS, seconds=MC_RUN_SECONDS, budget=MC_TOTAL_SECONDS):
    """Per question, its first registered Monte Carlo check (by slot id): the estimate +- 2 SE
    of its first Monte Carlo equality against the number of samples. Questions are tried in
    order until ``budget`` seconds are spent."""
    from numeric_checks import core

    first: dict[str, tuple] = {}
    for slot_id, checks in sorted(core.checks().items()):
        q = questions.of_slot(slot_id)
        monte_carlo = [c for c in checks if c.tier == "montecarlo"]
        if q.key not in first and monte_carlo and registry.matches(slot_id, selectors):
            first[q.key] = (slot_id, monte_carlo[0])
    series, started = {}, time.perf_counter()
    for key in sorted(first):
        if time.perf_counter() - started > budget:
            break
        slot_id, check = first[key]
        rows = _convergence_series(check, counts, seconds)
        if rows:
            series[key] = (slot_id, rows)
    if not series:
        raise Unavailable("no registered Monte Carlo check scales with its sample count")
    cols = 2 if len(series) > 1 else 1
    rows_n = math.ceil(len(series) / cols)
    fig = Figure(figsize=(FIGSIZE[0], 2.6 * rows_n), layout="constrained")
    for i, (key, (slot_id, rows)) in enumerate(sorted(series.items())):
        ax = fig.add_subplot(rows_n, cols, i + 1)
        n, est, se = (np.array([r[k] for r in rows], float) for k in range(3))
        expected, name = rows[0][3], rows[0][4]
        ax.errorbar(n, est, yerr=2 * se, fmt="o", capsize=3, color=COLOURS[0], label=r"estimate $\pm$ 2 SE")
        ax.axhline(expected, color=COLOURS[1], lw=1.2, label="closed form")
        _sample_axis(ax, n)
        ax.set_title(f"{key} {slot_id}\n{_short(name, 48)}", fontsize=8)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=7)
    caption = ("Monte Carlo estimates $\\pm$ 2 standard errors against the number of samples, one registered "
               "numeric check per question (its first Monte Carlo equality), with the closed form as a line; "
               "the error bars shrink like $1/\\sqrt{n}$ around it.")
    return fig, caption



def _sample_axis(ax, counts) -> None:
    """Log axis ticked at the sample counts used (matplotlib's minor labels overlap here)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(counts))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticklabels([f"{c / 1000:g}k" if c >= 1000 else f"{c:g}" for c in counts])
    ax.set_xlabel("samples")


def _short(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


# ---------------------------------------------------------------------------- GAN
def gan_slots() -> dict[str, dict[str, registry.Slot]]:
    """{loss name: {"f": slot, "dstar": slot}} for every loss with both slots in the registry."""
    table = registry.slots()
    found: dict[str, dict] = {}
    for sid, s in table.items():
        parts = sid.split(".")
        if len(parts) == 3 and parts[0] == "gan" and parts[2] in ("f", "dstar") and s.reference is not None:
            found.setdefault(parts[1], {})[parts[2]] = s
    return {k: v for k, v in sorted(found.items()) if set(v) == {"f", "dstar"}}


def _by_name(slot, name):
    for sym in slot.symbols:
        if getattr(sym, "name", "") == name:
            return sym
    raise Unavailable(f"slot {slot.id} has no symbol {name!r}")


def gan_losses(t_max: float = 4.0):
    """f(t) and D* as a function of t = p_d/p_g, for each GAN loss with f and D* slots."""
    losses = gan_slots()
    if not losses:
        raise Unavailable("the registry has no gan.<loss>.f / gan.<loss>.dstar slots yet")
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax_f, ax_d = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    t_grid = np.linspace(0.02, t_max, 400)
    ratio = np.geomspace(0.05, 20, 400)
    for i, (name, s) in enumerate(losses.items()):
        colour = COLOURS[i % len(COLOURS)]
        f = _numeric(s["f"].reference, _by_name(s["f"], "t"))
        ax_f.plot(t_grid, np.broadcast_to(f(t_grid), t_grid.shape), color=colour, label=name.replace("_", "-"))
        dstar = _numeric(s["dstar"].reference, _by_name(s["dstar"], "p_d"), _by_name(s["dstar"], "p_g"))
        values = np.broadcast_to(np.asarray(dstar(ratio, np.ones_like(ratio)), float), ratio.shape)
        ax_d.plot(ratio, values, color=colour, lw=1.4, ls=("-", "--", "-.", ":")[i % 4])
    ax_f.axvline(1, color="0.7", lw=0.8)
    ax_f.set_xlabel("$t = p_d/p_g$")
    ax_f.set_ylabel("$f(t)$")
    ax_f.set_title(r"$f(t) = -\inf_\alpha[\ell(\alpha)t + \ell(-\alpha)]$", fontsize=9)
    ax_f.legend(fontsize=7)
    ax_d.set_xscale("log")
    ax_d.axvline(1, color="0.7", lw=0.8)
    ax_d.set_ylim(-3.2, 3.2)
    ax_d.set_xlabel("$p_d/p_g$")
    ax_d.set_ylabel("$D^*$")
    ax_d.set_title("optimal discriminator (slot reference)", fontsize=9)
    caption = ("The f-functions (left) and optimal discriminators (right) of the GAN losses, plotted from the "
               "registry's references of the \\texttt{gan.}$\\langle$\\textit{loss}$\\rangle$\\texttt{.f} and "
               "\\texttt{gan.}$\\langle$\\textit{loss}$\\rangle$\\texttt{.dstar} slots "
               "(for the 0-1 and hinge losses D* is a set; the reference member is drawn).")
    return fig, caption


# ---------------------------------------------------------------------------- DDIM
def ddim_variance(etas=(0.0, 0.5, 1.0), samples: int = 20_000, seed: int = 7):
    """Var[x_t | x_0] of the sampled DDIM chain across t for several eta, with 1 - abar_t."""
    ddim = _module("numeric_checks.ddim")
    from numeric_checks import core
    from numeric_checks.schedule import sigma_eta

    reference = registry.get_slot("ddim.marginal_var").reference
    var = _numeric(reference, *sorted(reference.free_symbols, key=str))
    abar = ddim.ABAR
    T = len(abar)
    watch = tuple(range(1, T))
    t = np.array(watch)
    closed = np.array([float(var(float(abar[k - 1]))) for k in watch])
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax_v, ax_z = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ax_v.plot(t, closed, color="k", lw=1.2, label=r"$1 - \bar\alpha_t$ (slot reference)")
    for i, eta in enumerate(etas):
        sigma = sigma_eta(abar[1:], abar[:-1], eta)
        mean = [math.sqrt(float(abar[k - 1])) * ddim.X0 for k in watch]

        def draw(n, gen, sigma=sigma, mean=mean):
            x = ddim.sample_chain(n, gen, abar, sigma, "cpu", watch=watch)
            return [(xt - m).square_() for xt, m in zip(x, mean)]
        est, se = (np.array(v) for v in core.stream_mean(draw, samples, "cpu", seed + i))
        shift = (i - (len(etas) - 1) / 2) * 0.15
        ax_v.errorbar(t + shift, est, yerr=2 * se, fmt="o", ms=3, capsize=2, color=COLOURS[i],
                      label=rf"$\eta = {eta:g}$")
        ax_z.plot(t + shift, (est - closed) / se, "o", ms=3, color=COLOURS[i])
    ax_z.axhspan(-core.K_SE, core.K_SE, color="0.9")
    ax_z.axhline(0, color="k", lw=0.8)
    ax_v.set_xlabel(f"step $t$ of the {T}-step sub-sequence")
    ax_v.set_ylabel(r"Var$[x_t \mid x_0]$")
    ax_v.legend(fontsize=7)
    ax_z.set_xlabel("step $t$")
    ax_z.set_ylabel("z = (estimate - closed form) / SE")
    ax_z.set_title(f"shaded: $\\pm${core.K_SE:.2f} SE (the suite's tolerance)", fontsize=8)
    caption = (f"DDIM marginal variance across $t$: the non-Markovian chain sampled from $x_T$ down "
               f"({samples} chains per $\\eta$, $\\pm$ 2 SE) agrees with $1 - \\bar\\alpha_t$ for every $\\eta$; "
               "right: the same as z-scores.")
    return fig, caption


# ---------------------------------------------------------------------------- VAE / IWAE
def iwae_values(Ks=(1, 2, 4, 8, 16, 32, 64), groups: int = 2000, seed: int = 3):
    """log p(X), the ELBO and IWAE_K (+- SE) in the linear-Gaussian VAE of ``numeric_checks.vae``.

    log p(X) and the ELBO are that module's closed forms (the catalogue's family, expectations
    by moments); IWAE_K = E[log (1/K) sum_k w_k], w_k = p(X, Z_k)/q(Z_k), Z_k ~ q, is estimated
    from ``groups`` independent sets of max(K) draws (the first K of each set, as in the check).
    Its proposal is not the posterior, so the bounds are strict.
    """
    vae = _module("numeric_checks.vae")
    from numeric_checks import core

    fast, exact = vae.Streams(vae.LinearGaussian("cpu")), vae.closed_forms()
    k_max = max(Ks)

    def draw(n, gen):                    # the check's own stream (vae.iwae_bounds), more K
        log_w = fast.log_w(fast.eps(n * k_max, gen)).reshape(n, k_max)
        return [torch.logsumexp(log_w[:, :k], 1) - math.log(k) for k in Ks]

    means, ses = core.stream_mean(draw, groups, "cpu", seed)
    return {"K": np.array(Ks), "iwae": np.array(means), "se": np.array(ses), "elbo": exact["elbo"],
            "log_p": exact["log_evidence"], "groups": groups}


def iwae_bounds(**kw):
    v = iwae_values(**kw)
    fig = Figure(figsize=(4.6, 3.0), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.axhline(v["log_p"], color="k", lw=1.2, label=r"$\log p(X)$ (closed form)")
    ax.axhline(v["elbo"], color=COLOURS[1], lw=1.2, ls="--", label="ELBO (closed form)")
    ax.errorbar(v["K"], v["iwae"], yerr=2 * v["se"], fmt="o", capsize=3, color=COLOURS[0],
                label=r"IWAE$_K$ $\pm$ 2 SE")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("K (importance samples)")
    ax.set_ylabel("nats")
    ax.legend(fontsize=7)
    caption = ("ELBO $\\le$ IWAE$_K \\le \\log p(X)$ in the linear-Gaussian VAE of \\texttt{numeric\\_checks.vae} "
               "($Z, X \\in \\mathbb{R}^2$) with a proposal $q$ that is not the posterior: the closed forms (lines) "
               "come from the catalogue's family, IWAE$_K$ is "
               f"a Monte Carlo estimate over {v['groups']} groups of draws; IWAE$_1$ is the ELBO and the bound "
               "tightens as K grows.")
    return fig, caption


# ---------------------------------------------------------------------------- score matching
def dsm_values(thetas=tuple(np.linspace(-1.0, 2.0, 13)), samples: int = 20_000, seed: int = 5):
    """l_3, l and l_3 - l for s_theta = theta * MLP on Gaussian data (common random numbers)."""
    sm = _module("numeric_checks.sm")
    from derivations.catalogue import sm as sym
    from numeric_checks import core

    s_data, mean = 0.8, [0.5, -1.0]
    data = sm.gaussian(mean, s_data, "cpu")
    base = sm.models(data.dim, 1, "cpu", seed)[0]
    models = [base.scaled(float(th)) for th in thetas]
    k = len(models)
    values, ses = core.stream_mean(sm.dsm_minus_esm(data, sm.SIGMA, models), samples, "cpu", seed)
    values, ses = np.array(values), np.array(ses)
    C = float(sym.C_REF.subs({sym.d: data.dim, sym.s: sp.nsimplify(s_data), sym.sigma: sp.nsimplify(sm.SIGMA)}))
    pick = lambda a, start: a[start:start + k]  # noqa: E731
    return {"theta": np.array(thetas), "diff": pick(values, 0), "diff_se": pick(ses, 0),
            "l3": pick(values, 2 * k - 1), "l3_se": pick(ses, 2 * k - 1), "l": pick(values, 3 * k - 1),
            "l_se": pick(ses, 3 * k - 1), "C": C, "sigma": sm.SIGMA, "samples": samples}


def dsm_across_theta(**kw):
    v = dsm_values(**kw)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax_l, ax_d = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ax_l.errorbar(v["theta"], v["l3"], yerr=2 * v["l3_se"], fmt="o-", ms=3, color=COLOURS[0], label="$l_3$ (DSM)")
    ax_l.errorbar(v["theta"], v["l"], yerr=2 * v["l_se"], fmt="s-", ms=3, color=COLOURS[2], label="$l$")
    ax_l.set_xlabel(r"$\theta$ in $s_\theta = \theta\,$MLP")
    ax_l.legend(fontsize=7)
    ax_d.errorbar(v["theta"], v["diff"], yerr=2 * v["diff_se"], fmt="o", ms=3, capsize=2, color=COLOURS[0],
                  label=r"$l_3 - l$ $\pm$ 2 SE")
    ax_d.axhline(v["C"], color=COLOURS[1], lw=1.2, label=r"$C = C_3 - C_2$ (slot reference)")
    spread = max(8 * float(v["diff_se"].max()), 0.05 * abs(v["C"]))
    ax_d.set_ylim(v["C"] - spread, v["C"] + spread)
    ax_d.set_xlabel(r"$\theta$")
    ax_d.legend(fontsize=7)
    caption = ("Denoising score matching on Gaussian data in $d = 2$, $\\sigma = "
               f"{v['sigma']:g}$: $l_3(\\theta)$ and $l(\\theta)$ change with $\\theta$ (left) but their difference "
               "stays at the constant $C$ of \\texttt{sm.dsm\\_constant\\_gauss} (right), so both objectives have "
               f"the same minimiser ({v['samples']} paired samples per $\\theta$).")
    return fig, caption


# ---------------------------------------------------------------------------- all of them
PLOTS = (  # name, question it illustrates, the slots it concerns, builder
    ("gan_losses", "Q3", ("gan",), gan_losses),
    ("ddim_variance", "Q5", ("ddim.marginal_var",), ddim_variance),
    ("iwae_bounds", "Q1", ("vae.jensen", "vae.elbo_gap"), iwae_bounds),
    ("dsm_across_theta", "Q4", ("sm.dsm_equiv", "sm.dsm_constant_gauss"), dsm_across_theta),
    ("mc_convergence", "numeric", (), mc_convergence),
)


def save(fig: Figure, folder: Path, name: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pdf, png = folder / f"{name}.pdf", folder / f"{name}.png"
    fig.savefig(pdf)
    fig.savefig(png, dpi=110)
    return pdf, png


def make_all(folder, selectors=(), log=print, progress=None) -> tuple[list[PlotFile], list[str]]:
    """Draw every plot whose slots match ``selectors``; returns (saved plots, skip messages).
    ``progress(name, total)`` is called as each plot is drawn or skipped."""
    folder = Path(folder)
    made, skipped = [], []
    chosen = [p for p in PLOTS if not (selectors and p[2] and not any(
        registry.matches(s, selectors) or registry.matches(sel, p[2]) for s in p[2] for sel in selectors))]
    for name, question, slots, build in chosen:
        try:
            fig, caption = build(selectors) if name == "mc_convergence" else build()
        except Unavailable as exc:
            skipped.append(f"plot {name} skipped: {exc}")
            log(skipped[-1])
        else:
            pdf, png = save(fig, folder, name)
            made.append(PlotFile(name, question, caption, pdf, png, min(1.0, fig.get_figwidth() / FIGSIZE[0])))
        if progress:
            progress(name, len(chosen))
    return made, skipped
