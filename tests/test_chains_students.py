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
