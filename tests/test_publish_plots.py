"""The plots' numbers: what each figure draws must agree with the closed forms it claims to
illustrate (so a wrong plot fails here), and a missing source is skipped with a message."""
from __future__ import annotations

import numpy as np
import pytest

from derivations.publish import plots
from numeric_checks import core
from numeric_checks.core import K_SE, Measurement, NumericCheck


def test_iwae_values_are_ordered_bounds():
    v = plots.iwae_values(Ks=(1, 4, 16), groups=600)
    assert abs(v["iwae"][0] - v["elbo"]) <= K_SE * v["se"][0]           # IWAE_1 is the ELBO
    assert np.all(v["iwae"] <= v["log_p"] + K_SE * v["se"])             # every IWAE_K <= log p(X)
    assert v["iwae"][2] - v["iwae"][0] > 5 * v["se"][0]                 # and K tightens it (visibly)
    assert v["elbo"] < v["log_p"]


def test_dsm_difference_is_flat_while_both_objectives_move():
    v = plots.dsm_values(thetas=(-1.0, 0.5, 2.0), samples=4000)
    assert np.all(np.abs(v["diff"] - v["C"]) <= K_SE * v["diff_se"])
    assert np.ptp(v["l3"]) > 20 * v["l3_se"].max()                      # l_3 itself depends on theta


def test_gan_losses_draws_every_loss_of_the_registry():
    losses = plots.gan_slots()
    assert {"zero_one", "square", "logistic", "hinge", "exponential"} <= set(losses)
    fig, caption = plots.gan_losses()
    f_axis, d_axis = fig.axes
    assert len(f_axis.lines) == len(losses) + 1                         # one curve each, plus t = 1
    for line in f_axis.lines[:-1]:
        t, f = line.get_data()
        assert np.all(np.diff(f) <= 1e-12)                              # every f is non-increasing
    assert "gan." in caption


def test_convergence_series_skips_checks_that_ignore_the_sample_count():
    def fixed(samples, device, seed):
        return [Measurement("always 1000 draws", 1.0, 1.0, 0.1, 1000)]

    def scaling(samples, device, seed):
        return [Measurement("scales", 1.0, 1.0, 1 / samples ** 0.5, samples)]

    assert plots._convergence_series(NumericCheck("x.fixed", fixed), (10, 20, 40), 5.0) == []
    rows = plots._convergence_series(NumericCheck("x.scaling", scaling), (10, 20, 40), 5.0)
    assert [r[0] for r in rows] == [10, 20, 40]


def test_make_all_skips_a_missing_source_with_a_message(tmp_path, monkeypatch):
    def missing():
        raise plots.Unavailable("numeric_checks.nothing does not exist yet")

    def tiny():
        from matplotlib.figure import Figure
        fig = Figure(figsize=(3.5, 2))
        fig.add_subplot(1, 1, 1).plot([0, 1], [0, 1])
        return fig, "a line"

    monkeypatch.setattr(plots, "PLOTS", (("absent", "Q2", ("hvae",), missing), ("tiny", "Q5", ("ddim",), tiny)))
    messages = []
    made, skipped = plots.make_all(tmp_path, (), log=messages.append)
    assert [p.name for p in made] == ["tiny"] and made[0].pdf.exists() and made[0].png.exists()
    assert made[0].width == pytest.approx(0.5)
    assert skipped == messages == ["plot absent skipped: numeric_checks.nothing does not exist yet"]
    made, _ = plots.make_all(tmp_path, ("sm",), log=messages.append)   # neither plot concerns sm
    assert made == []


def test_ddim_variance_plots_the_registry_reference():
    fig, _ = plots.ddim_variance(etas=(0.0, 1.0), samples=2000)
    ax_v, ax_z = fig.axes
    t, closed = ax_v.lines[0].get_data()
    from numeric_checks import ddim
    assert np.allclose(closed, [1 - float(ddim.ABAR[k - 1]) for k in t])
    assert core.K_SE > 3
