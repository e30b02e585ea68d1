"""Notation gaps a reviewer of step chains found in the reader: each is read by a general rule
(or refused with a message that names the construct), never by special-casing one answer."""
from __future__ import annotations

import pytest
import sympy as sp

from derivations.latex import LatexError, parse
from derivations.latex.objects import ArgMin, Density, Expectation, Infimum, Supremum
from derivations.latex.scope import for_slot
from derivations.symbols import declare


def last(slot, latex, densities=False):
    return parse(latex, for_slot(slot, densities)).members[-1]


# 1. \inf, \sup, \min, \max, \arg\min bind the variable under them, as an integral does
@pytest.mark.parametrize("latex", [r"-\inf_\alpha[(1-\alpha)^2 t + (1+\alpha)^2]",
                                   r"-\min_{\alpha}\left[(1-\alpha)^2 t + (1+\alpha)^2\right]",
                                   r"-\inf_{\alpha \in \mathbb{R}}[(1-\alpha)^2 t + (1+\alpha)^2]"])
def test_extremum_binds_its_variable_to_the_registry_alpha(latex):
    value = last("gan.square.f", latex)
    inner = -value
    assert isinstance(inner, Infimum)
    alpha = declare("alpha", r"\alpha")            # the margin loss's argument, as gan.general.f has it
    assert inner.args[1] == alpha and inner.args[0].has(alpha)


def test_sup_and_max_over_a_variable_are_suprema():
    assert isinstance(last("gan.square.f", r"\sup_{\alpha}[-(1-\alpha)^2 t - (1+\alpha)^2]"), Supremum)
    assert isinstance(last("gan.square.f", r"\max_\alpha [-(1-\alpha)^2 t]"), Supremum)
    assert last("gan.square.f", r"\min(1, t)") == sp.Min(1, sp.Symbol("t", positive=True))


@pytest.mark.parametrize("latex", [r"\arg\min_D [p_d (1-D)^2 + p_g (1+D)^2]",
                                   r"\operatorname*{arg\,min}_{D} \left(p_d (1-D)^2 + p_g (1+D)^2\right)",
                                   r"D^* = \mathrm{argmin}_D [p_d (1-D)^2 + p_g (1+D)^2]"])
def test_argmin_is_read_with_its_variable_bound(latex):
    value = last("gan.square.dstar", latex)
    assert isinstance(value, ArgMin) and value.args[1].name == "D"


def test_extremum_over_a_restricted_set_and_a_lone_arg_are_refused():
    with pytest.raises(LatexError, match="whole real line"):
        last("gan.square.f", r"-\inf_{\alpha \in (0,1)}[(1-\alpha)^2 t]")
    with pytest.raises(LatexError, match=r"\\arg"):
        last("gan.square.f", r"\arg t")
    with pytest.raises(LatexError, match=r"\\in"):
        last("gan.square.f", r"(t \in 1)")


# 2. a name the slot's own LaTeX uses, defined by the question, is known
def test_tilde_x_in_sm_dsm_reads_as_the_question_definition():
    scope = for_slot("sm.dsm")
    for latex in (r"s_\theta(\tilde x)", r"s_\theta(\tilde{x})"):
        value = last("sm.dsm", latex)
        sym = next(iter(value.free_symbols))
        assert sym.name == "x_tilde"
        names = {s.name: s for s in scope.expansions[sym].free_symbols}
        assert scope.expansions[sym] == names["x"] + names["sigma"] * names["epsilon"]


def test_own_names_without_a_definition_stay_unknown():
    with pytest.raises(LatexError, match="unknown"):
        last("sm.esm", r"\tilde x")


# 3. D^* is a decoration, never a power
def test_star_superscript_is_refused_by_name_where_the_slot_defines_no_dstar():
    for slot, latex in (("gan.square.risk", r"\frac12\int p_d\,\ell(D^*) + p_g\,\ell(-D^*)\,dx"),
                        ("gan.risk_integral", r"\frac12[\ell(D^*) p_d + \ell(-D^*) p_g]")):
        with pytest.raises(LatexError, match=r"D\^\* \(the optimal D\) is not a name this slot defines"):
            last(slot, latex)
    assert last("gan.square.dstar", r"D^{*}(x) = \frac{p_d - p_g}{p_d + p_g}") is not None


# 4. ddim: functions of the question, conditional moments
def test_epsilon_theta_is_known_in_every_ddim_slot():
    a = last("ddim.objective", r"\|\epsilon - \epsilon_\theta(x_t)\|^2")
    b = last("ddim.objective", r"\|\epsilon - \epsilon_\theta(x_t, t)\|^2")
    assert a == b and any(f.func.__name__ == "epsilon_theta" for f in a.atoms(sp.Function)
                          if hasattr(f.func, "__name__"))


def test_conditional_moments_are_labels_and_refused_alone_with_a_message():
    assert last("ddim.marginal_mean", r"\mathbb{E}[x_{t-1}|x_0] = \sqrt{\bar\alpha_{t-1}} x_0") is not None
    assert last("ddim.marginal_var", r"\mathrm{Var}(x_{t-1}|x_0) = 1 - \bar\alpha_{t-1}") is not None
    with pytest.raises(LatexError, match="conditional expectation"):
        last("ddim.marginal_mean", r"\mathbb{E}[x_{t-1}\mid x_0]")
    with pytest.raises(LatexError, match=r"Var\}\(\.\.\.\) is read only as the name"):
        last("ddim.marginal_var", r"\mathrm{Var}(x_{t-1}|x_0)")


# 5. bare q and \sum_Z in density slots
def test_bare_q_inside_an_expectation_is_the_measure_density():
    value = last("vae.jensen", r"\log p(X) \ge \mathbb{E}_{q(Z)}\left[\log \frac{p(X,Z)}{q}\right]", True)
    assert value is not None
    chain = parse(r"\mathbb{E}_q[\log q - \log p(Z|X)]", for_slot("vae.elbo_gap", True))
    e = chain.members[-1]
    assert isinstance(e, Expectation)
    qs = [d for d in e.atoms(Density) if d.family == "q"]
    assert len(set(qs)) == 1 and [v.name for v in qs[0].variables] == ["Z"]


def test_bare_q_outside_an_expectation_or_bare_p_is_refused():
    with pytest.raises(LatexError, match="bare q outside an expectation"):
        last("vae.elbo_gap", r"\log q - \log p(Z|X)", True)
    with pytest.raises(LatexError, match="bare p"):
        last("vae.jensen", r"\mathbb{E}_{q(Z)}[\log p]", True)


def test_sum_over_a_latent_is_the_sum_over_its_support():
    value = last("vae.marginal", r"\sum_Z p(X|Z)\,p(Z)", True)
    assert isinstance(value, sp.Integral) and value.limits[0][0].name == "Z"
    with pytest.raises(LatexError, match="needs its range"):
        last("ddim.objective", r"\sum_t \sigma_t")


# 6. remarks, labelled relations, connectives
@pytest.mark.parametrize("latex", [r"-\frac{4t}{t+1} \quad \text{by pointwise minimisation}",
                                   r"-\frac{4t}{t+1} \text{ using } \alpha^* = \frac{t-1}{t+1}",
                                   r"-\frac{4t}{t+1} \text{ via calculus}",
                                   r"-\frac{4t}{t+1} \quad (\text{Jensen})",
                                   r"-\frac{4t}{t+1}~(\text{Jensen}).",
                                   r"-\frac{4t}{t+1} \quad \text{(Jensen)}",
                                   r"f(t) \overset{\text{opt}}{=} -\frac{4t}{t+1}",
                                   r"f(t) \stackrel{(a)}{=} -\frac{4t}{t+1}",
                                   r"f(t) \equiv -\frac{4t}{t+1}",
                                   r"\implies f(t) = -\frac{4t}{t+1}",
                                   r"\Rightarrow -\frac{4t}{t+1}",
                                   r"\therefore -\frac{4t}{t+1}"])
def test_remarks_and_connectives_around_one_formula(latex):
    t = sp.Symbol("t", positive=True)
    assert sp.simplify(last("gan.square.f", latex) + 4 * t / (t + 1)) == 0


def test_overset_keeps_its_relation():
    chain = parse(r"t \stackrel{\text{AM-GM}}{\ge} 2", for_slot("gan.square.f"))
    assert chain.relations == [">="]


@pytest.mark.parametrize("latex", [r"f(t) \stackrel{(a)}{\approx} -\frac{4t}{t+1}",
                                   r"f(t) \overset{a}{t} -\frac{4t}{t+1}",
                                   r"f(t) = 1 \implies f(t) = -\frac{4t}{t+1}",
                                   r"-\frac{4t}{t+1}\ (\text{minimising over } \alpha)"])
def test_what_is_not_one_formula_is_still_refused(latex):
    with pytest.raises(LatexError):
        last("gan.square.f", latex)


def test_a_sum_over_a_latent_already_summed_over_is_refused():
    with pytest.raises(LatexError, match="already"):
        last("vae.marginal", r"\sum_Z \sum_Z p(X, Z)", True)


def test_an_infimum_answer_is_evaluated_by_the_pointwise_analysis():
    """-inf_a[t l(a) + l(-a)] is f(t) itself: evaluated region by region, not graded as its body."""
    from derivations.grading import grade_answer
    right = grade_answer("gan.square.f", r"-\inf_\alpha[(1-\alpha)^2 t + (1+\alpha)^2]", sandbox=False)
    assert right.verdict == "correct", right.message
    scaled = grade_answer("gan.square.f", r"-\inf_\alpha[2(1-\alpha)^2 t + 2(1+\alpha)^2]", sandbox=False)
    assert scaled.verdict == "wrong", scaled.message
    other = grade_answer("gan.square.f", r"-\inf_\alpha[(1-\alpha)^2 t + (1-\alpha)^2]", sandbox=False)
    assert other.verdict == "unchecked"                  # not a margin loss's problem: not guessed


def test_elementary_functions_are_read_in_answers():
    from derivations.grading import grade_answer
    r = grade_answer("gan.exponential.dstar", r"\frac12\log\frac{p_d}{p_g}", sandbox=False)
    assert r.verdict == "correct"
    # tanh and artanh are functions of their argument, not products of names
    r = grade_answer("gan.exponential.dstar", r"\operatorname{artanh}\left(\tanh\left(\frac12\log\frac{p_d}{p_g}\right)\right)",
                     sandbox=False)
    assert r.verdict == "correct", r.message
    r = grade_answer("gan.exponential.dstar", r"\tanh\left(\frac12\log\frac{p_d}{p_g}\right)", sandbox=False)
    assert r.verdict == "wrong", r.message


@pytest.mark.parametrize("slot, latex, expected", [
    ("ddim.x0_error_to_eps", r"\frac{1-\bar\alpha_t}{\bar\alpha_t}\|\epsilon-\epsilon_\theta\|^2", "correct"),
    ("ddim.x0_error_to_eps", r"\frac{1-\bar\alpha_t}{\bar\alpha_t}\|\epsilon+\epsilon_\theta\|^2", "wrong"),
    ("ddim.deterministic", r"\sqrt{\bar\alpha_{t-1}}f_\theta+\sqrt{1-\bar\alpha_{t-1}}\epsilon_\theta", "correct"),
    ("ddim.x0_pred", r"\frac{x_t-\sqrt{1-\bar\alpha_t}\epsilon_\theta(x_t)}{\sqrt{\bar\alpha_t}}", "correct"),
])
def test_a_network_written_without_its_argument_is_the_references_one_application(slot, latex, expected):
    from derivations.grading import grade_answer
    assert grade_answer(slot, latex, sandbox=False).verdict == expected


# --- issue 15, item 4: the course's notation (the seed's names, the standard sources') -------
from derivations.grading import grade_answer  # noqa: E402


def verdict(slot, latex):
    return grade_answer(slot, latex, sandbox=False).verdict


@pytest.mark.parametrize("slot, latex, expected", [
    # Q3: the question's own divergence of the loss's f, with its distributions written out
    ("gan.square.risk", r"-\frac12 \mathbb I_f(\mathbb P_d\Vert\mathbb P_g)", "correct"),
    ("gan.square.risk", r"1 - \mathbb I_f(\mathbb P_d\Vert\mathbb P_g)", "wrong"),       # the seed's line
    ("gan.zero_one.risk", r"\frac{1}{2}\left(1 - \mathbb{I}_{TV}(\mathbb{P}_d \| \mathbb{P}_g)\right)", "correct"),
    # Q4: objectives written as functions of theta, in the seed's J names
    ("sm.dsm_equiv", r"J_{2,q_\sigma}(\theta) = J_{1,q_\sigma}(\theta) + C_3 - C_2", "correct"),
    ("sm.dsm_equiv", r"J_{2,q_\sigma}(\theta) = J_{1,q_\sigma}(\theta) + C_2 - C_3", "wrong"),
    # Q5: eps_t is the noise in x_t; mu_q, mu_p the KL's two means; the final loss as printed
    ("ddim.kl_term", r"\frac{1}{2\sigma_t^2}(\mu_q - \mu_p)^2", "correct"),
    ("ddim.kl_term", r"\frac{1}{2\sigma_t^2}\gamma_t\frac{\left\|\epsilon_t - \epsilon_\theta^{(t)}(x_t)\right\|^2}"
                     r"{\bar\alpha_t}", "wrong"),
    ("ddim.x0_error_to_eps", r"\frac{1-\bar\alpha_t}{\bar\alpha_t}\|\epsilon_t - \epsilon_\theta^{(t)}(x_t)\|^2",
     "correct"),
    # the lemma: A^{-T} is the inverse of the transpose
    ("lemma.marginal_cov", r"L^{-T} + A \Lambda^{-T} A^{T}", "correct"),
    ("lemma.posterior_cov", r"A^{-1} L^{-1} A^{-T}", "wrong"),
    # Q1: the method statements' names are read (the slots have no reference: unchecked, not invalid)
    ("vae.dataset", r"\sum_{i=1}^{N} \log p_\theta(X^{(i)}) \ge \sum_{i=1}^{N} \mathcal{L}(X^{(i)})", "unchecked"),
    ("vae.prior_mc", r"\frac{1}{L} \sum_{l=1}^{L} p_\theta(X \mid Z^{(l)})", "unchecked"),
])
def test_the_course_notation_is_read(slot, latex, expected):
    assert verdict(slot, latex) == expected


def test_an_alias_of_an_objective_of_theta_reads_with_its_argument():
    scope = for_slot("sm.dsm_equiv")
    l3 = declare("l_3", r"l_3(\theta)")
    for form in (r"J_{2,q_\sigma}(\theta)", r"J_{2q_\sigma}(\theta)", r"l_3(\theta)", r"J_2"):
        assert parse(form, scope).members[-1] == l3


SEED = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_6c0f4e7c080e200c.txt"


@pytest.mark.skipif(not SEED.exists(), reason="the seed is not next to this checkout")
def test_the_seeds_final_ddim_loss_verbatim_is_read_and_refuted():
    """Q5's final loss, cut verbatim from the seed (its last display), graded as the KL term."""
    text = SEED.read_text(encoding="utf-8")
    blocks = [b.strip() for b in text.split("$$")[1::2]]
    final = [b for b in blocks if b.startswith(r"\frac{1}{2\sigma_t^2} \gamma_t \frac{\left\| \epsilon_t")]
    assert len(final) == 1
    result = grade_answer("ddim.kl_term", final[0], sandbox=False)
    assert result.verdict == "wrong"
