"""Unit tests of the HVAE mechanism (derivations/catalogue/hvae.py, derivations/collapse.py).

The seed's KL rewrite must be refuted by the checker's own search (no point is given to it),
and the same comparison must pass where the rewrite is in fact valid (w = 0 or a = 0), so
the refutation is not an artefact. The collapse objectives are tested as code.
"""
import pytest
import sympy as sp
import torch

from derivations import registry
from derivations.catalogue import hvae
from derivations.collapse import active_units, free_bits_kl, gauss_kl_std, kl_weight
from derivations.evidence import Status
from derivations.expectation import E_exp
from derivations.prove import check_relation
from derivations.verify import check_step, run

Q2_SLOTS = ("hvae.elbo", "hvae.decomp", "hvae.invalid_kl_step", "hvae.collapse")


def test_every_q2_slot_is_registered_and_established():
    established = {s for d in registry.derivations().values() for s in d.slots}
    for slot_id in Q2_SLOTS:
        registry.get_slot(slot_id)
        assert slot_id in established, slot_id


def test_seed_kl_rewrite_is_refuted_by_search_and_reported_as_a_finding():
    result = run(registry.derivations()["hvae.invalid_kl_step"])
    audited = [r for r in result.steps if r.step.audit == "seed"]
    assert audited and all(r.evidence.status is Status.REFUTED for r in audited)
    for r in audited:
        ce = r.evidence.counterexample
        assert ce["lhs"] != pytest.approx(ce["rhs"], abs=1e-9)
        assert r.step.establishes == ("hvae.invalid_kl_step",)
    assert result.status is Status.PROVED          # a refuted quoted claim is a finding, not a failure
    assert len(result.findings) == len(audited)


def test_counterexample_difference_matches_the_covariance_formula():
    ev = check_step(registry.derivations()["hvae.invalid_kl_step"].steps[0])
    ce = ev.counterexample
    w, tau, a, s1 = (ce[k] for k in ("w_p", "tau", "a_q", "s_1"))
    # middle - (A) = -(w / tau^2) Cov_q(z1, z2) and Cov_q(z1, z2) = a s1^2
    assert ce["lhs"] - ce["rhs"] == pytest.approx(-w * a * s1**2 / tau**2, rel=1e-9)


@pytest.mark.parametrize("where", [{hvae.w: 0}, {hvae.a: 0}])
def test_seed_rewrite_holds_where_z1_and_z2_do_not_interact(where):
    left = hvae.middle_term().xreplace(where)
    right = hvae.seed_rhs_aggregate().xreplace(where)
    assert check_relation(left, "=", right, family=hvae.FAMILY).ok


def test_elbo_gap_with_a_wrong_posterior_is_refuted():
    # the posterior of z1 alone (ignoring z2) is not the joint posterior
    wrong = E_exp(hvae.log_q_z1 + hvae.log_q_z2 - hvae.log_p_z1 - hvae.log_p_z2, *hvae.Q)
    ev = check_relation(hvae.LOG_EVIDENCE - hvae.elbo(), "=", wrong, family=hvae.FAMILY, symbolic_seconds=1.0)
    assert ev.status is Status.REFUTED and ev.counterexample


def test_decomposition_with_the_top_kl_reversed_is_refuted():
    reversed_kl = E_exp(hvae.log_p_z2 - hvae.log_q_z2, *hvae.Q)        # KL(p(z2) || q(z2|z1)) by mistake
    claim = hvae.reconstruction_term() - hvae.middle_term() - reversed_kl
    ev = check_relation(hvae.elbo(), "=", claim, family=hvae.FAMILY, symbolic_seconds=1.0)
    assert ev.status is Status.REFUTED


# --- collapse code -------------------------------------------------------------------------
def test_active_units_counts_coordinates_whose_mean_moves():
    g = torch.Generator().manual_seed(0)
    means = torch.stack([torch.randn(500, generator=g), 0.01 * torch.randn(500, generator=g),
                         torch.full((500,), 3.0)], 1)
    count, spread = active_units(means)
    assert count == 1 and spread[0] > 0.5 and spread[1] < 0.01 and spread[2] == 0


def test_kl_weight_is_a_linear_warm_up():
    assert [kl_weight(s, 4) for s in (0, 1, 2, 4, 10)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert kl_weight(3, 0) == 1.0


def test_free_bits_stop_the_pull_below_the_floor_only():
    kl = torch.tensor([[0.1, 2.0], [0.3, 1.0]], requires_grad=True)   # batch means 0.2 and 1.5
    total = free_bits_kl(kl, 0.5)
    assert float(total.detach()) == pytest.approx(0.5 + 1.5)
    total.backward()
    assert torch.equal(kl.grad[:, 0], torch.zeros(2))                 # below the floor: no gradient
    assert torch.allclose(kl.grad[:, 1], torch.full((2,), 0.5))       # above: the plain mean's gradient


def test_gauss_kl_std_is_the_slot_formula():
    m, lv = torch.tensor([0.3, -1.0]), torch.tensor([0.2, -0.5])
    from derivations.catalogue.vae import gauss_kl_1d
    expected = [float(gauss_kl_1d(mi, sp.exp(sp.Float(li) / 2), 0, 1)) for mi, li in zip(m.tolist(), lv.tolist())]
    assert gauss_kl_std(m, lv).tolist() == pytest.approx(expected, rel=1e-6)
