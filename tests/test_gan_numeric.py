"""Unit tests of the GAN numeric cross-checks (``numeric_checks/gan.py``): the independent
divergence values agree with each other, the torch losses are the catalogue's losses, and each
kind of measurement fails when fed a wrong claim."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp
import torch

from derivations.fdiv import alpha
from numeric_checks import gan
from numeric_checks import core


def test_every_loss_has_a_quadrature_and_a_discriminator_check():
    registered = core._CHECKS   # this module's registrations (checks() would import every module)
    for name in gan.LOSSES:
        assert f"gan.{name}.risk" in registered and f"gan.{name}.dstar" in registered


@pytest.mark.parametrize("div", ["TV", "H2"])
def test_closed_forms_agree_with_textbook_integrands(div):
    pd, pg, closed = gan.PAIRS["gaussians"]
    value, err = gan.quad(lambda x: gan.TEXTBOOK[div](pd(x), pg(x)), gan.crossings(pd, pg))
    assert abs(value - closed[div]) <= gan.QUAD_SAFETY * err + gan.ROUNDING


def test_crossings_of_the_mixture_pair():
    pd, pg, _ = gan.PAIRS["mixture"]
    for x in gan.crossings(pd, pg):
        assert abs(pd(x) - pg(x)) < 1e-12


@pytest.mark.parametrize("name", ["square", "logistic", "hinge", "exponential"])
def test_torch_losses_are_the_catalogue_losses(name):
    xs = np.linspace(-5, 5, 101)
    want = gan.numpy_of(gan.RESULTS[name].loss, alpha)(xs) * np.ones_like(xs)
    got = gan.TORCH_LOSS[name](torch.tensor(xs)).numpy()
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_zero_one_surrogate_approaches_the_indicator():
    xs = np.concatenate([np.linspace(-5, -1, 50), np.linspace(1, 5, 50)])
    want = gan.numpy_of(gan.RESULTS["zero_one"].loss, alpha)(xs)
    got = gan.TORCH_LOSS["zero_one"](torch.tensor(xs)).numpy()
    assert np.max(np.abs(got - want)) < 1e-4


def test_quadrature_passes_and_a_wrong_normalisation_fails(monkeypatch):
    assert all(m.passed for m in gan.quadrature_measurements("square"))
    res = gan.RESULTS["square"]
    wrong = dataclasses.replace(res, match=dataclasses.replace(res.match, b=res.match.b + 1))
    monkeypatch.setitem(gan.RESULTS, "square", wrong)  # claims R = 1/2 - Delta/2
    named = [m for m in gan.quadrature_measurements("square") if "I_f" not in m.name]
    assert named and not any(m.passed for m in named)


def test_quadrature_fails_for_a_wrong_dstar(monkeypatch):
    res = gan.RESULTS["zero_one"]
    wrong = dataclasses.replace(res, dstar_t=sp.sign(1 - gan.t))   # the seed's sign(p_g - p_d)
    monkeypatch.setitem(gan.RESULTS, "zero_one", wrong)
    assert not any(m.passed for m in gan.quadrature_measurements("zero_one"))


def test_distance_to_set():
    assert gan.distance_to_set(0.5, sp.Interval.open(0, sp.oo)) == 0
    assert gan.distance_to_set(-0.5, sp.Interval.open(0, sp.oo)) == 0.5
    assert gan.distance_to_set(0.2, sp.FiniteSet(-1, 1)) == pytest.approx(0.8)
    assert gan.distance_to_set(3, sp.Union(sp.Interval(-1, 1), sp.FiniteSet(5))) == 2
    xs = np.array([-1.0, 1.0])
    pd, pg = np.array([0.1, 0.3]), np.array([0.3, 0.1])
    flipped = gan.optimal_set_distance("hinge", xs, np.array([1.0, -1.0]), pd, pg)
    assert np.allclose(flipped, 2.0)


def test_discriminator_check_end_to_end():
    """One trained discriminator (square loss, about a second): all three measurements pass,
    and the risk bound is not beaten by the held-out estimate beyond its standard error."""
    ms = gan.discriminator_measurements("square", samples=20_000, device="cpu", seed=101)
    assert all(m.passed for m in ms), [(m.name, m.estimate, m.expected, m.tolerance) for m in ms]
    assert ms[0].extra["gap"] > -4 * ms[0].stderr
    assert ms[2].estimate < gan.GRID_TOL["square"]
