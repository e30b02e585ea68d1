"""Chains: each link checked by the single-answer machinery, the first invalid step named with a
counterexample, undecidable links left for review, and partial credit from the rubric."""
from __future__ import annotations

import pytest

from derivations import registry
from derivations.classroom.chains import check_chain, compose
from derivations.classroom.rubric import RubricError, parse_rubric
from derivations.latex import parse
from derivations.latex.objects import Density
from derivations.latex.scope import build, density_mode

KNOWN = registry.slots()

HVAE_MODEL = r"p(x|z_1)\,p(z_1|z_2)\,p(z_2)\,q(z_1|x)\,q(z_2|z_1)"
# The seed's Q2 (a), as printed: the third step uses E_{q(z2|z1)}[KL(q(z1|x) || p(z1|z2))] for the
# middle term, which the seed's own text says is not an equality.
HVAE_SEED = [
    r"L(x) = \mathbb{E}_{q(z_1|x) q(z_2|z_1)}\left[\log \frac{p(x|z_1)p(z_1|z_2)p(z_2)}{q(z_1|x)q(z_2|z_1)}\right]",
    r"= \mathbb{E}_{q(z_1|x) q(z_2|z_1)}\left[\log p(x|z_1) + \log p(z_1|z_2) + \log p(z_2) - \log q(z_1|x)"
    r" - \log q(z_2|z_1)\right]",
    r"= \mathbb{E}_{q(z_1\mid x)}\left[\log p(x\mid z_1)\right] - \mathbb{E}_{q(z_2\mid z_1)}\left[\mathrm{KL}"
    r"\left(q(z_1\mid x)\| p(z_1\mid z_2)\right)\right] - \mathbb{E}_{q(z_1\mid x)}\left[\mathrm{KL}\left("
    r"q(z_2\mid z_1) \| p(z_2)\right)\right]",
]
HVAE_RIGHT_MIDDLE = (r"= \mathbb{E}_{q(z_1\mid x)}\left[\log p(x\mid z_1)\right] - \mathbb{E}_{q(z_1|x) q(z_2|z_1)}"
                     r"\left[\log q(z_1|x) - \log p(z_1|z_2)\right] - \mathbb{E}_{q(z_1\mid x)}\left[\mathrm{KL}"
                     r"\left(q(z_2\mid z_1) \| p(z_2)\right)\right]")


def hvae_factors():
    return sorted(parse(HVAE_MODEL, density_mode(build())).members[0].atoms(Density), key=str)


def test_step_syntax():
    r = check_chain("gan.square.f", [r"-\frac{4t}{t+1} = -\frac{4t+4-4}{t+1}", r"&= -4 + \frac{4}{t+1}",
                                     r"\le 0"])
    assert [l["relation"] for l in r["chain"]["links"]] == ["=", "=", "<="]
    assert compose("=", "<=") == "<=" and compose("<=", "<") == "<" and compose("<=", ">=") is None


def test_a_valid_chain_is_correct_and_every_link_is_proved():
    r = check_chain("gan.square.f", [r"-\frac{4t}{t+1} = -\frac{4t + 4 - 4}{t+1}", r"= -4 + \frac{4}{t+1}"])
    assert r["verdict"] == "correct"
    assert [l["status"] for l in r["chain"]["links"]] == ["proved", "proved"]
    assert r["chain"]["first_invalid_step"] is None and r["chain"]["final"]["verdict"] == "correct"


def test_the_first_invalid_step_comes_with_a_counterexample_point():
    r = check_chain("ddim.marginal_var", [
        r"\sigma_t^2 + \frac{1 - \bar\alpha_{t-1} - \sigma_t^2}{1 - \bar\alpha_t}(1 - \bar\alpha_t)",
        r"= \sigma_t^2 + 1 - \bar\alpha_{t-1}",            # forgot - sigma_t^2
        r"= 1 - \bar\alpha_{t-1}",
    ])
    assert r["verdict"] == "wrong" and r["mistake"] == "invalid-step"
    chain = r["chain"]
    assert chain["first_invalid_step"] == 2 and chain["valid_prefix_steps"] == 0
    ce = r["counterexample"]
    assert {"lhs", "rhs"} <= set(ce) and ce["lhs"] != ce["rhs"]
    assert any("sigma" in k for k in ce)                 # the values of the symbols where it fails
    assert "step 2" in r["message"]


def test_a_right_result_reached_by_an_invalid_step_is_still_wrong():
    r = check_chain("gan.square.f", [r"-\frac{4t}{t+1} = -\frac{4t+4}{t+1}", r"= -\frac{4t}{t+1}"])
    assert r["verdict"] == "wrong" and r["chain"]["first_invalid_step"] == 1
    assert r["chain"]["final"]["verdict"] == "correct"


def test_inequalities_on_densities_jensen_and_its_reversal():
    steps = [r"\log p(X) = \log \mathbb{E}_{q(Z)}\left[\frac{p(X|Z)p(Z)}{q(Z)}\right]",
             r"\ge \mathbb{E}_{q(Z)}\left[\log\frac{p(X|Z)p(Z)}{q(Z)}\right]",
             r"= \mathbb{E}_{q(Z)}[\log p(X,Z) - \log q(Z)]"]
    good = check_chain("vae.jensen", steps)
    assert good["verdict"] == "correct" and good["chain"]["relation"] == ">="
    bad = check_chain("vae.jensen", [steps[0], steps[1].replace(r"\ge", r"\le"), steps[2]])
    assert bad["verdict"] == "wrong" and bad["chain"]["first_invalid_step"] == 2
    assert bad["counterexample"]["lhs"] > bad["counterexample"]["rhs"]    # log E > E log in that model


def test_scalar_inequality_under_the_slots_assumptions():
    # 1 - abar_{t-1} <= 1 holds because abar_{t-1} is in (0, 1); >= 1 is refuted
    ok = check_chain("ddim.marginal_var", [r"1 - \bar\alpha_{t-1} \le 1"])
    assert ok["chain"]["links"][0]["status"] == "proved"
    bad = check_chain("ddim.marginal_var", [r"1 - \bar\alpha_{t-1} \ge 1"])
    assert bad["chain"]["first_invalid_step"] == 1 and bad["counterexample"]


def test_the_seed_hvae_step_is_refuted_on_finite_models():
    r = check_chain(None, HVAE_SEED, factors=hvae_factors())
    links = r["chain"]["links"]
    assert links[0]["status"] == "unchecked"             # "L(x) =": no slot says what L is
    assert links[1]["status"] == "proved"                # log of a product
    assert links[2]["status"] == "refuted"               # the seed's KL step
    assert r["verdict"] == "wrong" and r["chain"]["first_invalid_step"] == 3
    ce = r["counterexample"]
    assert ce["lhs"] != ce["rhs"] and "model" in ce
    # the same step written correctly holds in every model: the checker can also say yes
    right = check_chain(None, HVAE_SEED[:2] + [HVAE_RIGHT_MIDDLE], factors=hvae_factors())
    assert [l["status"] for l in right["chain"]["links"]][1:] == ["proved", "proved"]


def test_undecidable_links_are_unchecked_never_valid():
    r = check_chain("gan.square.f", [r"-\frac{4t}{t+1} = -4t \cdot \frac{1}{1+t}",
                                     r"= \sum_{n=0}^{\infty} (-1)^{n+1} 4 t^{n+1}"])
    assert r["verdict"] == "unchecked"
    assert r["chain"]["unchecked_steps"] == [2] and r["chain"]["valid_prefix_steps"] == 1


def test_unreadable_steps_make_the_chain_invalid():
    r = check_chain("gan.square.f", [r"-\frac{4t}{t+1} = -\frac{4u}{u+1}"])
    assert r["verdict"] == "invalid" and "unknown symbol u" in r["message"]
    r = check_chain("gan.square.f", [r"= -\frac{4t}{t+1}"])
    assert r["verdict"] == "invalid" and "continues from nothing" in r["message"]


def test_a_chain_ending_in_a_bound_does_not_answer_a_value_slot():
    r = check_chain("ddim.marginal_var", [r"1 - \bar\alpha_{t-1} \le 1"])
    assert r["verdict"] == "unchecked" and "bound" in r["message"]


def test_partial_credit_for_the_valid_prefix_and_full_credit_only_when_right():
    rubric = parse_rubric({"slots": {"vae.jensen": 4}, "chains": {"final_share": 0.5}}, KNOWN)
    steps = [r"\log p(X) = \log \mathbb{E}_{q(Z)}\left[\frac{p(X|Z)p(Z)}{q(Z)}\right]",
             r"\le \mathbb{E}_{q(Z)}\left[\log\frac{p(X|Z)p(Z)}{q(Z)}\right]",
             r"= \mathbb{E}_{q(Z)}[\log p(X,Z) - \log q(Z)]"]
    bad = check_chain("vae.jensen", steps)
    assert rubric.score("vae.jensen", bad) == pytest.approx(4 * 0.5 * 1 / 3, abs=1e-3)
    good = check_chain("vae.jensen", [steps[0], r"\ge" + steps[1][3:], steps[2]])
    assert rubric.score("vae.jensen", good) == 4
    none = parse_rubric({"chains": {"partial_credit": "none"}}, KNOWN)
    assert none.score("vae.jensen", bad) == 0


@pytest.mark.parametrize("data, needle", [
    ({"slots": {"gan.sqare.f": 2}}, "did you mean gan.square.f"),
    ({"slots": {"gan.square.f": -1}}, ">= 0"),
    ({"slots": {"gan.square.f": "two"}}, "must be a number"),
    ({"default_point": 2}, "did you mean 'default_points'"),
    ({"chains": {"final_share": 1.5}}, "between 0 and 1"),
    ({"chains": {"partial_credit": "half"}}, "valid-prefix, none"),
    (["not", "a", "mapping"], "must be a mapping"),
])
def test_rubric_errors_are_clear(data, needle):
    with pytest.raises(RubricError) as info:
        parse_rubric(data, KNOWN, "r.yaml")
    assert needle in str(info.value) and "r.yaml" in str(info.value)


def test_every_rubric_problem_is_reported_at_once():
    with pytest.raises(RubricError) as info:
        parse_rubric({"slots": {"gan.sqare.f": 1, "sm.kernel_score": -2}, "extra": 1}, KNOWN)
    assert len(str(info.value).splitlines()) == 3
