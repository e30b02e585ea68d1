"""The public pieces a step-by-step checker builds on: ``check_link`` (one link of a chain under a
slot's assumptions), ``grade_relation`` (a relation slot's answer given as parsed members) and
``Grader.submit`` (a function run in a sandboxed worker). Every test has links that must be
refuted or left unchecked, so the mechanism is shown able to say no."""
from __future__ import annotations

from concurrent.futures import TimeoutError as FutureTimeout

import pytest

from derivations import registry
from derivations.evidence import Status
from derivations.grading import Grader, check_link, grade_relation
from derivations.grading.core import scope_for
from derivations.latex import parse


def members(slot_id, latex):
    chain = parse(latex, scope_for(registry.get_slot(slot_id)))
    return chain.members, chain.relations


def link(slot_id, latex, factors=None):
    (a, b), (rel,) = members(slot_id, latex)
    return check_link(slot_id, a, rel, b, factors=factors)


def test_scalar_equalities_use_the_slots_integrated_quantities():
    # Delta is the slot's integral of (p_d - p_g)^2/(p_d + p_g): summed over random finite supports
    ev = link("gan.square.risk", r"1 - \frac{\Delta}{2} = \frac12\int\frac{4p_d(x)p_g(x)}{p_d(x)+p_g(x)}dx")
    assert ev.status is Status.PROVED
    ev = link("gan.square.risk", r"1 - \frac{\Delta}{2} = \int\frac{4p_d(x)p_g(x)}{p_d(x)+p_g(x)}dx")
    assert ev.status is Status.REFUTED and ev.counterexample
    ev = link("ddim.objective", r"\frac{\gamma_t(1-\bar\alpha_t)}{2\sigma_t^2\bar\alpha_t} = "
                                r"\frac{\gamma_t}{2\sigma_t^2}(\bar\alpha_t^{-1} - 1)")
    assert ev.status is Status.PROVED
    ev = link("ddim.objective", r"\frac{\gamma_t(1-\bar\alpha_t)}{2\sigma_t^2\bar\alpha_t} = \frac{\gamma_t}{2\sigma_t^2}")
    assert ev.status is Status.REFUTED


def test_scalar_inequalities_under_the_slots_domains():
    assert link("ddim.objective", r"\frac{\gamma_t(1-\bar\alpha_t)}{2\sigma_t^2\bar\alpha_t} \ge 0").status is Status.PROVED
    ev = link("ddim.objective", r"\bar\alpha_t \ge 1")
    assert ev.status is Status.REFUTED and ev.counterexample


def test_matrix_links_expand_named_matrices():
    assert link("lemma.posterior_mean", r"\Sigma(A^TL(y-b) + \Lambda\mu) = \Sigma A^TL(y-b) + \Sigma\Lambda\mu"
                ).status is Status.PROVED
    assert link("lemma.posterior_mean", r"\Sigma(A^TL(y-b) + \Lambda\mu) = (\Lambda + A^TLA)^{-1}(A^TL(y-b) + "
                r"\Lambda\mu)").status is Status.PROVED
    assert link("lemma.posterior_mean", r"\Sigma(A^TL(y-b) + \Lambda\mu) = \Sigma A^TLy + \Sigma\Lambda\mu"
                ).status is Status.REFUTED
    assert link("lemma.posterior_cov", r"\Sigma \le \Lambda^{-1}").status is Status.UNCHECKED


def test_density_links_factorise_as_the_slots_model():
    # the seed's HVAE step: E_{q(z2|z1)}[KL(q(z1|x) || p(z1|z2))] is not the middle term
    seed_step = (r"\mathbb{E}_{q(z_1|x)q(z_2|z_1)}\left[\log\frac{q(z_1|x)}{p(z_1|z_2)}\right] = "
                 r"\mathbb{E}_{q(z_2|z_1)}\left[D_{\mathrm{KL}}\left(q(z_1\mid x)\parallel p(z_1\mid z_2)\right)\right]")
    ev = link("hvae.decomp", seed_step)
    assert ev.status is Status.REFUTED and ev.counterexample
    ev = link("hvae.decomp", r"\mathbb{E}_{q(z_1|x)q(z_2|z_1)}\left[\log\frac{p(x|z_1)p(z_1|z_2)}{q(z_1|x)}\right] = "
                             r"\mathbb{E}_{q(z_1|x)}[\log p(x|z_1)] - \mathbb{E}_{q(z_1|x)q(z_2|z_1)}\left[\log"
                             r"\frac{q(z_1|x)}{p(z_1|z_2)}\right]")
    assert ev.status is Status.PROVED
    # Jensen as a link: true one way, refuted the other
    assert link("vae.jensen", r"\log p(X) \ge \mathbb{E}_{q(Z)}[\log p(X, Z) - \log q(Z)]").status is Status.PROVED
    ev = link("vae.jensen", r"\log p(X) \le \mathbb{E}_{q(Z)}[\log p(X, Z) - \log q(Z)]")
    assert ev.status is Status.REFUTED


def test_links_without_a_slot_and_bad_relations():
    from derivations.latex import build
    from derivations.latex.scope import density_mode
    chain = parse(r"\mathrm{KL}(q(Z)\|p(Z)) \ge 0", density_mode(build()))
    assert check_link(None, chain.members[0], ">=", chain.members[1]).status is Status.PROVED
    assert check_link(None, chain.members[0], "<", chain.members[1]).status is Status.REFUTED
    (a, b), _ = members("ddim.objective", r"\gamma_t = \gamma_t")
    assert check_link("ddim.objective", a, "~", b).status is Status.ERROR
    assert check_link("ddim.objective", a, "=", "not an expression").status is Status.UNCHECKED


def test_grade_relation_takes_parsed_members():
    (lhs, rhs), (rel,) = members("vae.jensen", r"\log p(X) \ge \mathbb{E}_{q(Z)}[\log p(X,Z) - \log q(Z)]")
    assert grade_relation("vae.jensen", lhs, rel, rhs).verdict == "correct"
    assert grade_relation("vae.jensen", rhs, "<=", lhs).verdict == "correct"          # written the other way
    r = grade_relation("vae.jensen", lhs, "<=", rhs)
    assert r.verdict == "wrong" and "wrong way" in r.message
    with pytest.raises(KeyError):
        grade_relation("vae.jensn", lhs, rel, rhs)


def _double(x):
    return 2 * x


def _sleep(seconds):
    import time
    time.sleep(seconds)


def test_grader_submit_runs_in_a_worker_with_the_graders_limits():
    with Grader(jobs=1, timeout=60) as grader:
        assert grader.submit(_double, 21).result() == 42
        with pytest.raises(FutureTimeout):
            grader.submit(_sleep, 120, timeout=1).result()
        assert grader.submit(_double, 4).result() == 8          # the stopped worker was replaced
