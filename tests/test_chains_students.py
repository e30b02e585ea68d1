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


JENSEN = [r"\log p_\theta(X) = \log \mathbb{E}_{q(Z)}\left[\frac{p_\theta(X,Z)}{q(Z)}\right]",
          r"\ge \mathbb{E}_{q(Z)}\left[\log \frac{p_\theta(X,Z)}{q(Z)}\right]",
          r"= \mathbb{E}_{q(Z)}[\log p_\theta(X,Z)] - \mathbb{E}_{q(Z)}[\log q(Z)]"]


def test_what_a_student_says_about_a_step_is_set_aside_not_read_as_mathematics():
    said = [JENSEN[0] + r" \text{by IS}",
            r"\stackrel{\text{Jensen}}{\geq}" + JENSEN[1][3:] + r" \quad (\text{Jensen})",
            r"\overset{(b)}{=}" + JENSEN[2][1:] + r" \quad\text{by linearity} \tag{3}"]
    r = check_chain("vae.jensen", said)
    assert r["verdict"] == "correct" and statuses(r) == ["proved"] * 3
    assert "Jensen" in r["chain"]["links"][1]["remark"]
    # the same remarks around a reversed Jensen step: still step 2, still refuted
    bad = check_chain("vae.jensen", [said[0], said[1].replace(r"\geq", r"\leq"), said[2]])
    assert bad["verdict"] == "wrong" and bad["chain"]["first_invalid_step"] == 2
    # a leading connective and a trailing row break
    r = check_chain("gan.square.f", [r"f(t) = -\frac{4t}{t+1}", r"\implies f(t) = -4 + \frac{4}{t+1} \\"])
    assert r["verdict"] == "correct"


def test_an_aligned_block_in_one_step_is_one_step_per_row():
    block = r"\begin{align*} " + JENSEN[0].replace(" = ", " &= ", 1) + r" \\ &" + JENSEN[1] + r" \\ &" \
        + JENSEN[2] + r" \end{align*}"
    r = check_chain("vae.jensen", [block])
    assert r["verdict"] == "correct" and r["chain"]["steps"] == 3


def test_approximate_and_up_to_a_constant_links_are_left_for_a_person():
    # log E[w] "approx" E[log w]: not an equality (Jensen's gap), never passed, never refuted
    r = check_chain("vae.jensen", [JENSEN[0], JENSEN[1].replace(r"\ge", r"\approx")])
    assert r["verdict"] == "unchecked" and r["chain"]["unchecked_steps"] == [2]
    assert r["chain"]["links"][1]["relation"] == "~"
    # an approximation that holds exactly is proved, and the chain is an equality again
    r = check_chain("gan.square.f", [r"-\frac{4t}{t+1} = -\frac{4t + 4 - 4}{t+1} \approx -4 + \frac{4}{t+1}"])
    assert r["verdict"] == "correct"
    # "+ const" (sm.ism: the dropped C_1 does not depend on theta): unchecked, not unreadable
    r = check_chain("sm.ism", [
        r"l_1(\theta) = \mathbb{E}_{q(x)}\left[\frac12 (s_\theta(x) - \nabla_x \log q(x))^2\right]",
        r"= \mathbb{E}_{q(x)}\left[\frac12 s_\theta(x)^2 - s_\theta(x)\nabla_x \log q(x)\right] + \text{const}"])
    assert r["verdict"] == "unchecked" and r["chain"]["unchecked_steps"] == [2]
    # dropping the constant with a plain "=" is a wrong step
    r = check_chain("sm.ism", [
        r"l_1(\theta) = \mathbb{E}_{q(x)}\left[\frac12 (s_\theta(x) - \nabla_x \log q(x))^2\right]",
        r"= \mathbb{E}_{q(x)}\left[\frac12 s_\theta(x)^2 - s_\theta(x)\nabla_x \log q(x)\right]"])
    assert r["verdict"] == "wrong" and r["chain"]["first_invalid_step"] == 2


def test_a_bound_after_the_value_is_a_remark_about_it():
    # log p(X) - ELBO = KL(q || p(Z|X)) >= 0: the equality answers the slot, ">= 0" says more
    r = check_chain("vae.elbo_gap", [r"\log p(X) - \mathrm{ELBO} = \mathrm{KL}(q(Z)\|p(Z|X))", r"\ge 0"])
    assert r["verdict"] == "correct" and r["chain"]["relation"] == ">="
    # a bound with no equality before it still does not answer a value slot
    r = check_chain("ddim.marginal_var", [r"1 - \bar\alpha_{t-1} \le 1"])
    assert r["verdict"] == "unchecked"


def test_a_class_of_student_chains_in_every_sheet_format():
    from pathlib import Path

    import yaml

    from derivations import registry
    from derivations.classroom.sheets import read_class
    folder = Path(__file__).parent / "data" / "chains"
    labels = yaml.safe_load((folder / "labels.yaml").read_text())
    sheets, problems = read_class([folder / "class"], registry.slots())
    assert not problems
    seen = set()
    for sheet in sheets:
        for slot, steps in sheet.chains.items():
            want = labels[sheet.student][slot]
            r = check_chain(slot, steps)
            assert (r["verdict"], r["chain"]["first_invalid_step"]) == (want["verdict"], want["first_invalid_step"]), \
                (sheet.student, slot, r["message"])
            if want["verdict"] == "unchecked":
                assert r["chain"]["unchecked_steps"]
            seen.add((sheet.student, slot))
    assert seen == {(s, k) for s, slots in labels.items() for k in slots}


def test_an_expectation_under_a_bare_q_is_over_every_latent():
    # E_q[...] (no arguments) = E_{q(z1|x)}[E_{q(z2|z1)}[...]]: the same number, z1 and z2 bound
    body = r"\log p(x|z_1) + \log p(z_1|z_2) + \log p(z_2) - \log q(z_1|x) - \log q(z_2|z_1)"
    nested = (r"\mathbb{E}_{q(z_1|x)}[\log p(x|z_1)] - \mathbb{E}_{q(z_1|x)}\left[\mathbb{E}_{q(z_2|z_1)}[\log q(z_1|x)"
              r" - \log p(z_1|z_2)]\right] - \mathbb{E}_{q(z_1|x)}[\mathrm{KL}(q(z_2|z_1)\|p(z_2))]")
    r = check_chain("hvae.decomp", [rf"L(x) = \mathbb{{E}}_{{q}}\left[{body}\right]", "= " + nested])
    assert r["verdict"] == "correct" and statuses(r) == ["proved", "proved"]
    bad = check_chain("hvae.decomp", [rf"L(x) = \mathbb{{E}}_{{q}}\left[{body}\right]",
                                      "= " + nested.replace(r"- \log p(z_1|z_2)", r"+ \log p(z_1|z_2)")])
    assert bad["verdict"] == "wrong" and bad["chain"]["first_invalid_step"] == 2
