"""Wrong answers built to agree with the reference on most of the domain are never `correct`
(issue 14's classes), and their right counterparts still are."""
import pytest

from derivations.grading import grade_answer

GAMMA = (r"\left(\sqrt{\bar\alpha_{t-1}} - \sqrt{\bar\alpha_t} \sqrt{\frac{1-\bar\alpha_{t-1} - \sigma_t^{2}}"
         r"{1 - \bar\alpha_t}}\right)^{2}")


@pytest.mark.parametrize("slot, latex", [
    ("ddim.gamma", GAMMA + r" + \max(0, \sigma_t^2 - 0.999(1-\bar\alpha_{t-1}))"),
    ("ddim.gamma", GAMMA + r" + \min(0, 0.999(1-\bar\alpha_{t-1}) - \sigma_t^2)"),
    ("ddim.marginal_mean", r"\sqrt{\bar\alpha_{t-1}}\max(x_0, -100)"),
    ("ddim.marginal_mean", r"\sqrt{\bar\alpha_{t-1}}(|x_0 + 100| - 100)"),
    ("sm.ism_constant_gauss", r"\frac{\min(d, 64)}{2s^2}"),
    ("gan.exponential.f", r"-2\sqrt t + (t-1)e^{-1000t}"),
    ("gan.zero_one.dstar", r"p_d - 1.001 p_g"),
    ("gan.zero_one.dstar", r"\operatorname{sign}(p_d - 1.001 p_g)"),
    ("gan.zero_one.risk", r"1 - \mathrm{TV} + \max(0, 10^{-3} - \mathrm{TV})"),
    ("gan.zero_one.risk", r"\frac{1 - \mathrm{TV}}{2} + \max(0, 10^{-3} - \mathrm{TV})"),
    ("gan.zero_one.risk", r"\frac{1 - \mathrm{TV}}{2} + \max(0, \mathrm{TV} - 0.999)"),
])
def test_a_near_miss_is_never_correct(slot, latex):
    result = grade_answer(slot, latex)
    assert result.verdict != "correct", result.message


@pytest.mark.parametrize("slot, latex", [
    ("ddim.gamma", GAMMA),
    ("ddim.marginal_mean", r"\sqrt{\bar\alpha_{t-1}}\,x_0"),
    ("sm.ism_constant_gauss", r"\frac{d}{2s^2}"),
    ("gan.exponential.f", r"-2\sqrt t"),
    ("gan.zero_one.dstar", r"\operatorname{sign}(p_d - p_g)"),
    ("gan.zero_one.risk", r"\frac12 - \frac12\mathrm{TV}"),
    ("vae.gauss_loglik", r"\log\prod_{i=1}^{n}\frac{1}{\sqrt{2\pi v_i}}\exp\left(-\frac{(X_i-\mu_i)^2}{2v_i}\right)"),
])
def test_the_right_answer_is_still_correct(slot, latex):
    result = grade_answer(slot, latex)
    assert result.verdict == "correct", result.message


def test_a_counterexample_lies_inside_the_domain():
    # v_i is declared positive: a counterexample for a wrong log-likelihood never has v_i <= 0
    result = grade_answer("vae.gauss_loglik", r"-\frac12\sum_{i=1}^{n}\left(\log(2\pi v_i) + (X_i-\mu_i)^2 v_i\right)")
    assert result.verdict == "wrong"
    for key, value in (result.counterexample or {}).items():
        if key.startswith("v"):
            assert value > 0, result.counterexample


@pytest.mark.parametrize("slot, latex, verdict", [
    # sup_a[-g] is -inf_a[g]: the same objective, written the other way
    ("gan.general.f", r"\sup_\alpha[-\ell(\alpha)t-\ell(-\alpha)]", "correct"),
    ("gan.general.f", r"\sup_\alpha[\ell(\alpha)t+\ell(-\alpha)]", "wrong"),
    # the slot's statement rearranged (Vincent's order of Q4(b)'s last line): solved for l_3
    ("sm.dsm_equiv", r"J_1(\theta) = J_2(\theta) + C_2 - C_3", "correct"),
    ("sm.dsm_equiv", r"J_1(\theta) = J_2(\theta) + C_3 - C_2", "wrong"),
    ("sm.dsm_equiv", r"J_1(\theta) = 2J_2(\theta) + C_2 - C_3", "wrong"),
])
def test_equivalent_forms_of_the_statement(slot, latex, verdict):
    result = grade_answer(slot, latex)
    assert result.verdict == verdict, result.message
