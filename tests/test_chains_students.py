"""Chains written the way students write them: correct ones through other intermediate forms,
one wrong step in the middle (the first invalid step must be that one), every link right but the
wrong end, justifications and notation changes. Labels come from the mathematics (checked by
hand), never from the tool."""
from __future__ import annotations

from derivations.classroom.chains import check_chain

HQ = r"\mathbb{E}_{q(z_1|x)q(z_2|z_1)}"
HW = r"\frac{p(x|z_1)p(z_1|z_2)p(z_2)}{q(z_1|x)q(z_2|z_1)}"


def statuses(r):
    return [l["status"] for l in r["chain"]["links"]]


def test_a_measure_whose_factors_condition_on_each_other_binds_both_variables():
    # E_{q(z1|x) q(z2|z1)}: z1 is drawn by the first factor, not a free variable of the second.
    # log p(x) = log E_q[w] holds (importance sampling) and log E_q[w] >= E_q[log w] (Jensen).
    r = check_chain("hvae.elbo", [
        rf"\log p(x) = \log {HQ}\left[{HW}\right]",
        rf"\ge {HQ}\left[\log {HW}\right]",
        rf"= {HQ}\left[\log p(x|z_1) + \log p(z_1|z_2) + \log p(z_2) - \log q(z_1|x) - \log q(z_2|z_1)\right]"])
    assert statuses(r) == ["proved", "proved", "proved"]
    # the same chain with q(z2|x) in the last step: that step (and only it) is invalid
    bad = check_chain("hvae.elbo", [
        rf"\log p(x) = \log {HQ}\left[{HW}\right]",
        rf"\ge {HQ}\left[\log {HW}\right]",
        rf"= {HQ}\left[\log p(x|z_1) + \log p(z_1|z_2) + \log p(z_2) - \log q(z_1|x) - \log q(z_2|x)\right]"])
    assert bad["verdict"] == "wrong" and bad["chain"]["first_invalid_step"] == 3
    assert statuses(bad)[:2] == ["proved", "proved"]


def test_the_slots_own_name_for_its_quantity_is_a_label_not_a_free_symbol():
    # sm.dsm_equiv states l_3(theta) = l(theta) + C_3 - C_2; "l_3(theta) = ..." names the quantity
    r = check_chain("sm.dsm_equiv", [r"l_3(\theta) = l(\theta) + C", r"= l(\theta) + C_3 - C_2"])
    assert r["verdict"] == "correct" and statuses(r) == ["proved", "proved"]
    bad = check_chain("sm.dsm_equiv", [r"l_3(\theta) = l(\theta) + C_2 - C_3"])       # the seed's sign
    assert bad["verdict"] == "wrong" and bad["chain"]["first_invalid_step"] == 1


def test_a_value_slot_stated_as_a_bound_is_answered_by_a_chain_down_to_it():
    # hvae.elbo: L(x) = E_q[...] <= log p(x); the Jensen chain from log p(x) ends at L(x)
    steps = [rf"\log p(x) = \log \int\int p(x, z_1, z_2)\, dz_1\, dz_2",
             rf"= \log {HQ}\left[{HW}\right]",
             rf"\ge {HQ}\left[\log {HW}\right]"]
    r = check_chain("hvae.elbo", steps)
    assert r["verdict"] == "correct" and statuses(r) == ["proved"] * 3
    # every link right, but the end is a weaker bound than the ELBO: wrong, with no invalid step
    weaker = check_chain("hvae.elbo", steps + [rf"\ge {HQ}\left[\log {HW}\right] - 1"])
    assert weaker["verdict"] == "wrong" and weaker["chain"]["first_invalid_step"] is None
    # a bound on something other than log p(x) is not the statement: left for a person
    other = check_chain("hvae.elbo", [rf"\log p(x) + 1 \ge {HQ}\left[\log {HW}\right]"])
    assert other["verdict"] != "correct"
