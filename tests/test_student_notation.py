"""Student notation found by a hostile QA pass over every slot with a reference: each case was a
misgrade (a right answer refused or unread, a wrong one not refuted, a crash or a slow check)
before the mechanism named in the test was fixed. Verdicts are checked in-process (trusted
text); the power-tower limit is also checked through the sandbox."""
from __future__ import annotations

import time

import pytest
import sympy as sp

from derivations.grading import grade_answer
from derivations.latex import LatexError, LimitError, parse_expression
from derivations.latex.lexer import tokenize
from derivations.latex.reader import tower


def verdict(slot, latex):
    return grade_answer(slot, latex, sandbox=False).verdict


# --- what follows the formula: punctuation, spacing, remarks --------------------------------
@pytest.mark.parametrize("latex", [
    r"-\frac{4t}{t+1},",
    r"f(t) = -\frac{4t}{t+1}\,,",
    r"-\frac{4t}{t+1}.\;",
    r"-\frac{4t}{t+1} \text{.}",
    r"\frac{-4t}{t+1}\quad\text{for } t>0",
    r"-\frac{4t}{t+1}, \quad t>0",
    r"f(t) = -\frac{4t}{t+1},\ \text{where } t = p_d/p_g",
    r"-\frac{4t}{1+t} \qquad \text{(for all } t > 0)",
])
def test_a_remark_or_punctuation_after_the_formula_is_not_graded(latex):
    assert verdict("gan.square.f", latex) == "correct"


@pytest.mark.parametrize("latex, expected", [
    (r"\mu + \sigma \epsilon,\ \epsilon\sim\mathcal{N}(0,I)", "correct"),
    (r"\mu + \sigma\epsilon \quad \text{where } \epsilon \sim \mathcal{N}(0, I)", "correct"),
    (r"\mu - \sigma\epsilon \quad \text{where } \epsilon \sim \mathcal{N}(0, I)", "wrong"),
])
def test_a_stated_law_after_the_answer_is_a_remark(latex, expected):
    assert verdict("vae.reparam", latex) == expected


@pytest.mark.parametrize("latex", [
    r"\frac{-4t}{t+1} \text{ and } \frac{4t}{t+1}",    # "and" starts a second claim, not a remark
    r"(t \text{ for } t) ",                             # a remark word inside brackets is prose
    r"\text{for } t > 0",                               # nothing before the remark
    r"-4t, 4t",                                         # a tuple, no condition after the comma
])
def test_what_is_not_a_remark_is_still_refused(latex):
    with pytest.raises(LatexError):
        tokenize(latex) and parse_expression(latex, symbols=(sp.Symbol("t", positive=True),))


def test_a_comma_inside_brackets_is_not_a_remark():
    assert verdict("gan.zero_one.f", r"-\min(t, 1)") == "correct"
    assert verdict("gan.zero_one.f", r"-\min\left(t, 1\right), \; t>0") == "correct"


# --- bold vectors and transposes -----------------------------------------------------------
@pytest.mark.parametrize("slot, latex", [
    ("lemma.marginal_mean", r"\vec{b} + A\vec{\mu}"),
    ("lemma.marginal_mean", r"\overrightarrow{b} + \mathbf{A}\vec\mu"),
    ("ddim.marginal_mean", r"\sqrt{\bar\alpha_{t-1}}\,\vec{x}_0"),
    ("lemma.marginal_cov", r"L^{-1}+A\Lambda^{-1}A'"),
])
def test_vec_is_a_bold_vector_and_a_prime_on_a_matrix_is_its_transpose(slot, latex):
    assert verdict(slot, latex) == "correct"


def test_a_prime_transpose_in_the_wrong_place_is_wrong():
    assert verdict("lemma.marginal_cov", r"L^{-1}+A'\Lambda^{-1}A") == "wrong"


# --- derivatives: primes and Leibniz fractions ---------------------------------------------
@pytest.mark.parametrize("latex, expected", [
    (r"\mathbb{E}_{q(x)}\left[\frac12\|s_\theta(x)\|^2+\frac{\partial s_\theta(x)}{\partial x}\right]+C_1", "correct"),
    (r"\mathbb{E}_{q(x)}\left[\frac12\|s_\theta(x)\|^2+\frac{d s_\theta(x)}{dx}\right]+C_1", "correct"),
    (r"\mathbb{E}_{q(x)}\left[\frac12\|s_\theta(x)\|^2+s_\theta'(x)\right]+C_1", "correct"),
    (r"\mathbb{E}_{q(x)}\left[\frac12\|s_\theta(x)\|^2-s_\theta'(x)\right]+C_1", "wrong"),
    (r"\mathbb{E}_{q(x)}\left[\frac12\|s_\theta(x)\|^2+\frac{\partial s_\theta(x)}{\partial x}\right]-C_1", "wrong"),
])
def test_derivatives_written_with_a_prime_or_as_a_fraction(latex, expected):
    assert verdict("sm.ism", latex) == expected


def test_a_leibniz_fraction_reads_as_the_derivative():
    x = sp.Symbol("x", real=True)
    assert parse_expression(r"\frac{\partial x^3}{\partial x}", symbols=(x,)) == 3 * x ** 2
    assert parse_expression(r"\frac{d}{dx} x^3", symbols=(x,)) == 3 * x ** 2
    assert parse_expression(r"\frac{d x^3}{d x}", symbols=(x,)) == 3 * x ** 2


def test_a_prime_derivative_needs_a_variable():
    with pytest.raises(LatexError):
        parse_expression(r"s'(2)", symbols=(), functions=(sp.Function("s"),))


# --- integrals and expectations over random variables ---------------------------------------
@pytest.mark.parametrize("slot, latex, expected", [
    ("vae.marginal", r"\int p_\theta(X|Z)p_\theta(Z)\,dZ", "correct"),
    ("vae.marginal", r"\int p(X\mid Z)\,p(Z)\,\mathrm{d}Z", "correct"),
    ("vae.marginal", r"\int p(X|Z)q(Z)\,dZ", "wrong"),
    ("vae.marginal", r"\int p(Z|X)p(Z)\,dZ", "wrong"),
    ("vae.is_identity", r"p(X)=\int q(Z)\frac{p(X|Z)p(Z)}{q(Z)}\,dZ", "correct"),
    ("vae.is_identity", r"p(X) = \mathbb{E}_{Z\sim q}\left[\frac{p(X\mid Z)p(Z)}{q(Z)}\right]", "correct"),
    ("vae.jensen", r"\ln p(X) \geqslant \mathbb{E}_{Z\sim q}\left[\ln\frac{p(X,Z)}{q(Z)}\right]", "correct"),
    ("vae.jensen", r"\ln p(X) \geqslant \mathbb{E}_{Z\sim q}\left[\ln\frac{q(Z)}{p(X,Z)}\right]", "wrong"),
])
def test_an_integral_over_a_latent_is_a_sum_over_its_support(slot, latex, expected):
    assert verdict(slot, latex) == expected


@pytest.mark.parametrize("latex", [
    r"1-\frac{1}{2}\int_{\mathcal{X}}\frac{(p_d(x)-p_g(x))^2}{p_d(x)+p_g(x)}\mathrm{d}x",
    r"1-\frac{1}{2}\int_{\mathbb{R}^d}\frac{(p_d(x)-p_g(x))^2}{p_d(x)+p_g(x)}\,dx",
])
def test_an_integral_over_the_whole_space_named_by_its_set(latex):
    assert verdict("gan.square.risk", latex) == "correct"


# --- divergences and their many names -------------------------------------------------------
@pytest.mark.parametrize("slot, latex, expected", [
    ("gan.logistic.risk", r"\log 2-\mathrm{JSD}(P_d\|P_g)", "correct"),
    ("gan.logistic.risk", r"\log 2-D_{JSD}(P_d\|P_g)", "correct"),
    ("gan.logistic.risk", r"\log 2-2\,\mathrm{JSD}(P_d\|P_g)", "wrong"),
    ("gan.hinge.risk", r"1-d_{TV}(P_d, P_g)", "correct"),
    ("gan.hinge.risk", r"1-\delta_{TV}", "correct"),
    ("gan.hinge.risk", r"1+d_{TV}(P_d, P_g)", "wrong"),
])
def test_divergence_abbreviations(slot, latex, expected):
    assert verdict(slot, latex) == expected


def test_a_divergence_against_another_distribution_says_so():
    r = grade_answer("gan.logistic.risk", r"\log 2-\frac{1}{2}\mathrm{KL}(P_d\|M)-\frac{1}{2}\mathrm{KL}(P_g\|M)",
                     sandbox=False)
    assert r.verdict == "invalid" and "compares P_d and P_g" in r.message


# --- cases that leave out only a boundary ---------------------------------------------------
@pytest.mark.parametrize("slot, latex, expected", [
    ("gan.zero_one.dstar", r"D^*(x) = \begin{cases} 1 & p_d(x) > p_g(x) \\ -1 & p_d(x) < p_g(x) \end{cases}", "correct"),
    ("gan.hinge.dstar", r"\begin{cases} +1 & p_d(x) > p_g(x) \\ -1 & p_d(x) < p_g(x)\end{cases}", "correct"),
    ("gan.hinge.dstar", r"\begin{cases} -1 & p_d(x) > p_g(x) \\ 1 & p_d(x) < p_g(x)\end{cases}", "wrong"),
    ("gan.zero_one.f", r"\begin{cases} -t & t<1 \\ -1 & t>1\end{cases}", "correct"),
])
def test_cases_that_miss_only_the_tie_are_read_with_the_last_case_there(slot, latex, expected):
    assert verdict(slot, latex) == expected


def test_cases_that_leave_a_region_out_stay_undefined_there():
    t = sp.Symbol("t", positive=True)
    got = parse_expression(r"\begin{cases} -t & t<1 \\ -1 & t>2\end{cases}", symbols=(t,))
    assert not any(c == sp.true for _, c in got.args)


# --- the question's own notation ------------------------------------------------------------
@pytest.mark.parametrize("slot, latex, expected", [
    ("gan.square.dstar", r"\frac{t-1}{t+1}", "correct"),            # t = p_d/p_g, the question's ratio
    ("gan.square.dstar", r"\frac{1-t}{1+t}", "wrong"),
    ("gan.logistic.dstar", r"\log t", "correct"),
    ("ddim.posterior_mean", r"\sqrt{\bar\alpha_{t-1}}x_0+\sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\,\epsilon", "correct"),
    ("ddim.posterior_mean", r"\sqrt{\bar\alpha_{t-1}}x_0+\sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\,\epsilon/\sqrt{1-\bar\alpha_t}", "wrong"),
    ("ddim.marginal_var", r"(1-\bar\alpha_{t-1})\mathbf{I}", "correct"),
    ("ddim.marginal_var", r"(1-\bar\alpha_{t})\mathbf{I}", "wrong"),
    ("ddim.x0_pred", r"\frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}}", "correct"),
    ("ddim.x0_pred", r"\frac{x_t + \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}}", "wrong"),
])
def test_notation_of_the_question(slot, latex, expected):
    assert verdict(slot, latex) == expected


def test_a_second_argument_is_dropped_only_when_it_repeats_the_step_index():
    r = grade_answer("ddim.x0_pred", r"\frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t, s)}{\sqrt{\bar\alpha_t}}",
                     sandbox=False)
    assert r.verdict == "invalid"


# --- power towers ---------------------------------------------------------------------------
def test_tower_depth():
    t = sp.Symbol("t", positive=True)
    assert tower(sp.sqrt(t)) == 0
    assert tower(t ** t) == 1 and tower(sp.exp(-t ** 2)) == 1
    assert tower(t ** (t ** t)) == 2 and tower(sp.exp(sp.exp(t))) == 2


@pytest.mark.parametrize("latex", [
    r"t^{t^{t^{t}}}", r"t^{t^{t^{t^{t^{t^{t^{t}}}}}}}", r"e^{e^{e^{t}}}", r"\exp(\exp(\exp(t)))",
    r"2^{2^{2^{t}}}", r"(t+1)^{(t+1)^{(t+1)^{(t+1)}}}",
])
def test_a_power_tower_is_refused_before_any_check(latex):
    with pytest.raises(LimitError, match="power tower"):
        parse_expression(latex, symbols=(sp.Symbol("t", positive=True),))


def test_a_power_tower_is_unchecked_quickly_in_the_sandbox():
    started = time.perf_counter()
    r = grade_answer("sm.ism_constant_gauss", r"d^{d^{d^{d^{d}}}}", timeout=20)
    assert r.verdict == "unchecked" and "power tower" in r.message
    assert time.perf_counter() - started < 15         # was the whole 20 s worker timeout


def test_two_levels_of_exponents_are_still_graded():
    assert verdict("sm.ism_constant_gauss", r"d^{d^{d}}") == "wrong"     # 6^(6^6) is probed, not built
    assert verdict("gan.square.f", r"e^{e^{t}}") == "wrong"
    assert verdict("gan.exponential.f", r"-2e^{\frac12\ln t}") == "correct"


# --- second pass: densities, nested expectations, remarks that are not LaTeX we read --------
@pytest.mark.parametrize("slot, latex, expected", [
    ("vae.elbo_decomp", r"\mathbb{E}_{z\sim q_\phi(z|x)}\left[\log p_\theta(x|z)\right]-D_{KL}(q_\phi(z|x)\|p(z))", "correct"),
    ("vae.elbo_decomp", r"\mathbb{E}_{z\sim q_\phi(z|x)}\left[\log p_\theta(x|z)\right]+D_{KL}(q_\phi(z|x)\|p(z))", "wrong"),
    ("vae.elbo_decomp", r"\mathbb{E}_{q}\left[\log p(X|Z)\right]-\mathrm{KL}(q\|p(Z))", "correct"),
    ("vae.elbo_decomp", r"\mathbb{E}_{q}\left[\log p(X|Z)\right]+\mathrm{KL}(q\|p(Z))", "wrong"),
    ("vae.elbo_gap", r"\mathrm{KL}(q\|p(Z|X))", "correct"),
    ("vae.elbo_gap", r"\mathcal{D}_{KL}\left[q(Z) \,\|\, p(Z|X)\right]", "correct"),
    ("vae.elbo_gap", r"\mathcal{D}_{KL}\left[p(Z|X) \,\|\, q(Z)\right]", "wrong"),
])
def test_densities_in_lower_case_bare_q_and_divergence_fonts(slot, latex, expected):
    assert verdict(slot, latex) == expected


@pytest.mark.parametrize("latex, expected", [
    (r"\mathbb{E}_{x\sim q(x)}\mathbb{E}_{\epsilon\sim\mathcal{N}(0,I)}\left[\frac{1}{2}\left\|s_\theta(x+\sigma\epsilon)+\frac{\epsilon}{\sigma}\right\|^2\right]", "correct"),
    (r"\mathbb{E}_{x\sim q(x)}\mathbb{E}_{\epsilon\sim\mathcal{N}(0,I)}\left[\frac{1}{2}\left\|s_\theta(x+\sigma\epsilon)-\frac{\epsilon}{\sigma}\right\|^2\right]", "wrong"),
])
def test_nested_expectations_are_one_integral(latex, expected):
    assert verdict("sm.dsm", latex) == expected


@pytest.mark.parametrize("latex, expected", [
    (r"\mathbb{E}_{q(x)}\left[\tfrac12\|s_\theta(x)\|^2+\partial_x s_\theta(x)\right]+C_1", "correct"),
    (r"\mathbb{E}_{q(x)}\left[\tfrac12\|s_\theta(x)\|^2+\partial_x s_\theta(x)\right]", "wrong"),
])
def test_partial_with_a_subscript_is_the_derivative(latex, expected):
    assert verdict("sm.ism", latex) == expected


def test_a_remark_ends_the_formula_even_with_notation_the_reader_does_not_know():
    assert verdict("gan.square.f", r"-\frac{4t}{t+1}\text{ for } t \in (0, \infty)") == "correct"
    assert verdict("gan.square.f", r"\frac{4t}{t+1}\text{ for } t \in (0, \infty)") == "wrong"


@pytest.mark.parametrize("latex", [
    r"-t \text{ if } t<1 \text{ and } -1 \text{ otherwise}",
    r"-t \text{ for } t<1,\ -1 \text{ for } t \ge 1",
])
def test_cases_written_in_words_are_not_cut_to_their_first_piece(latex):
    # cutting at the first word would grade -t alone: a right answer marked wrong
    assert verdict("gan.zero_one.f", latex) == "invalid"


def test_a_full_stop_after_a_remark_is_not_more_prose():
    assert verdict("gan.zero_one.f", r"-\min(t,1) \quad \text{for all } t>0 \text{.}") == "correct"
