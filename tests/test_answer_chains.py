"""Issue 15, "grade everything the student wrote": one reading of an answer, all of it.

Every member and every link of a chain is checked; a left member is skipped only where it names
the slot's quantity; several statements in one answer are each graded; a condition after the
answer is checked against the slot's domain; a relation slot's chain composes its links. And a
control character that a YAML double-quoted string made from \\f, \\b, ... is named as such."""
from __future__ import annotations

import pytest

from derivations.evidence import Evidence, Kind, Status
from derivations.grading import grade_answer
from derivations.grading.core import compose, is_label
from derivations import registry
from derivations.latex import LatexError, for_slot, parse_answer
from derivations.latex.lexer import tokenize_parts, show_tokens


def grade(slot, latex):
    return grade_answer(slot, latex, sandbox=False)


# the seed solution's Jensen chain (seed text, step 3 (b)), written out in full
SEED_JENSEN = (r"\log p_{\theta}(X) = \log \int p_{\theta}(X \mid Z) p_{\theta}(Z) dZ = "
               r"\log \mathbb{E}_{q(Z)} \left[\frac{p_{\theta}(X \mid Z) p_{\theta}(Z)}{q(Z)} \right] "
               r"\geq \mathbb{E}_{q(Z)} \left[\log \frac{p_{\theta}(X \mid Z) p_{\theta}(Z)}{q(Z)} \right] "
               r"= \mathbb{E}_{q(Z)} \left[\log \frac{p_{\theta}(X, Z)}{q(Z)} \right] "
               r"= \mathbb{E}_{q(Z)} \left[\log p_{\theta}(X, Z) - \log q(Z) \right]")


# --- the examples ------------------------------------------------------------------------

def test_a_left_member_in_the_references_names_is_checked():
    # (a) the left member says l, not l_3: the line claims C_3 = C_2
    r = grade("sm.dsm_equiv", r"l(\theta)=l(\theta)+C_3-C_2")
    assert r.verdict == "wrong" and "left member" in r.message
    assert grade("sm.dsm_equiv", r"l_3(\theta)=l(\theta)+C_3-C_2").verdict == "correct"


def test_a_false_last_link_of_a_relation_chain_is_named():
    # (b) the bound holds, but the last link (a sign) does not
    r = grade("vae.jensen", r"\log p_\theta(X)\ge\mathbb{E}_{q}\Big[\log\frac{p_\theta(X,Z)}{q(Z)}\Big]"
                            r"=\mathbb{E}_q[\log p_\theta(X,Z)+\log q(Z)]")
    assert r.verdict == "wrong" and "link 2 of the chain" in r.message and r.counterexample


@pytest.mark.parametrize("slot, latex", [
    ("gan.zero_one.risk", r"1-\mathrm{TV} = \frac12(1-\mathrm{TV})"),
    ("gan.zero_one.risk", r"1-\mathrm{TV} = \frac12(1-\mathrm{TV}) = \frac12 - \frac12\mathrm{TV}"),
    ("sm.esm", r"l_1(\theta) = \mathbb{E}_{q(x)}\left[\|s_\theta(x) - \nabla_x\log q(x)\|^2\right] = "
               r"\mathbb{E}_{q(x)}\left[\tfrac12\|s_\theta(x) - \nabla_x\log q(x)\|^2\right]"),
])
def test_a_first_member_without_the_half_is_wrong(slot, latex):
    # (c) the first member lacks the 1/2 that the later members have
    assert grade(slot, latex).verdict == "wrong"


def test_a_second_statement_after_a_comma_is_graded():
    # (d) "R = 7" after ",\quad" is a second result, not a side condition to drop
    r = grade("gan.zero_one.risk", r"R(\mathcal D)=\tfrac12(1-\mathbb I_{TV}(\mathbb P_d,\mathbb P_g)),\quad R(\mathcal D)=7")
    assert r.verdict == "wrong" and "statement 2 of 2" in r.message
    both = grade("gan.zero_one.risk", r"R(\mathcal D)=\tfrac12(1-\mathrm{TV}),\quad R(\mathcal D)=\frac{1-\mathrm{TV}}{2}")
    assert both.verdict == "correct" and "all 2 statements" in both.message


@pytest.mark.parametrize("sep", [r",\quad ", r"; ", r" \quad ", r" \\ ", "\n"])
def test_every_separator_between_statements(sep):
    assert grade("gan.square.f", r"f(t) = -\frac{4t}{t+1}" + sep + r"f(t) = 0").verdict == "wrong"
    assert grade("gan.square.f", r"f(t) = -\frac{4t}{t+1}" + sep + r"f(t) = -4 + \frac{4}{t+1}").verdict == "correct"


def test_the_seed_jensen_chain_is_correct():
    r = grade("vae.jensen", SEED_JENSEN)
    assert r.verdict == "correct", r.message
    assert "all 5 links" in r.message


def test_a_chain_mixing_ge_and_le_is_no_chain():
    r = grade("vae.jensen", r"\log p(X) \ge \mathbb{E}_{q(Z)}\left[\log\frac{p(X,Z)}{q(Z)}\right] \le "
                            r"\mathbb{E}_{q(Z)}[\log p(X,Z) - \log q(Z)]")
    assert r.verdict == "invalid" and "no valid chain" in r.message


def test_a_chain_whose_composition_is_an_equality_is_not_the_bound():
    r = grade("vae.jensen", r"\log p(X) = \log\mathbb{E}_{q(Z)}\left[\frac{p(X,Z)}{q(Z)}\right] = "
                            r"\mathbb{E}_{q(Z)}\left[\log\frac{p(X,Z)}{q(Z)}\right]")
    assert r.verdict == "wrong"


def test_an_undecided_link_is_unchecked_never_correct(monkeypatch):
    from derivations.grading import link
    real = link.check_link

    def undecided(slot, lhs, rel, rhs, *a, **kw):
        if rel == ">=":
            return Evidence(Status.UNCHECKED, Kind.NONE, "no checker for this step")
        return real(slot, lhs, rel, rhs, *a, **kw)

    monkeypatch.setattr(link, "check_link", undecided)
    r = grade("vae.jensen", SEED_JENSEN)
    assert r.verdict == "unchecked" and "link 3 of the chain" in r.message


def test_links_after_the_value_must_hold():
    assert grade("gan.square.f", r"f(t) = -\frac{4t}{t+1} \le 0").verdict == "correct"
    r = grade("gan.square.f", r"f(t) = -\frac{4t}{t+1} \ge 0")
    assert r.verdict == "wrong" and "does not hold" in r.message and r.counterexample


def test_compose():
    assert compose(["=", ">=", "="]) == ">=" and compose(["=", ">", ">="]) == ">"
    assert compose(["<=", "="]) == "<=" and compose(["=", "="]) == "="
    assert compose([">=", "<="]) is None


def test_labels_and_values():
    slot = registry.get_slot("sm.dsm_equiv")
    chain = parse_answer(r"l_3(\theta) = l(\theta) + C", for_slot(slot.id)).statements[0]
    assert is_label(slot, chain.members[0])
    chain = parse_answer(r"l(\theta) = l(\theta) + C", for_slot(slot.id)).statements[0]
    assert not is_label(slot, chain.members[0])
    # sigma_t(eta) reads as a product with eta, the reference's symbol; sigma_t is the quantity's name
    assert grade("ddim.eta", r"\sigma_t(\eta)=\eta\sqrt{\frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}}"
                             r"\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{t-1}}}").verdict == "correct"


# --- conditions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("latex", [r"-\frac{4t}{t+1}, \quad t>0", r"-\frac{4t}{t+1}\quad\text{for } t>0",
                                   r"-\frac{4t}{1+t} \qquad \text{(for all } t > 0)"])
def test_a_condition_that_holds_on_the_domain(latex):
    r = grade("gan.square.f", latex)
    assert r.verdict == "correct" and "holds on the slot's domain" in r.message


@pytest.mark.parametrize("latex", [r"-\frac{4t}{t+1}, \quad t>1", r"-\frac{4t}{t+1}\quad\text{for } t>1"])
def test_a_condition_narrower_than_the_domain_is_not_correct(latex):
    r = grade("gan.square.f", latex)
    assert r.verdict == "wrong" and "condition" in r.message and r.mistake == "condition"


def test_conditions_that_cannot_be_checked_are_named():
    r = grade("vae.reparam", r"\mu + \sigma \epsilon \quad \text{where } \epsilon \sim \mathcal{N}(0, I)")
    assert r.verdict == "correct" and "a distribution: read, not checked" in r.message
    r = grade("gan.square.f", r"-\frac{4t}{t+1} \text{ using } \alpha^* = \frac{t-1}{t+1}")
    assert r.verdict == "correct" and "definition" in r.message


def test_an_unreadable_part_is_invalid_and_quoted():
    r = grade("gan.square.f", r"-\frac{4t}{t+1}, \quad f(t) = \zeta")
    assert r.verdict == "invalid" and "\\zeta" in r.message and "in the part" in r.message
    r = grade("gan.square.f", r"-\frac{4t}{t+1}, \quad \zeta > 2")
    assert r.verdict == "invalid" and "\\zeta" in r.message


# --- the lexer's split ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, parts", [
    (r"t\!\;\,\quad + 1", ["t+1"]),                            # \quad as spacing
    ("a = b\n = c", ["a=b=c"]),                                # a chain over two lines
    ("a\n+ b = c", ["a+b=c"]),
    (r"a = b, \quad c = d", ["a=b", "c=d"]),
    (r"a, b, t > 0", ["a,b", "t>0"]),                           # "a, b" stays one (refused) formula
])
def test_split_statements(text, parts):
    segments, _ = tokenize_parts(text)
    assert [show_tokens(s).replace(" ", "") for s in segments] == parts


# --- YAML double-quoted strings (issue 15, item 6) -----------------------------------------------

@pytest.mark.parametrize("mangled, escape", [("\x0crac{-4t}{1+t}", "\\f"), ("-4\x08eta", "\\b"),
                                             ("-\\frac{4t}{1+t}\theta", "\\t")])
def test_a_yaml_escape_is_named(mangled, escape):
    r = grade("gan.square.f", mangled)
    assert r.verdict == "invalid"
    assert escape in r.message and "single quotes" in r.message and "block scalar" in r.message


def test_the_lexer_names_a_form_feed():
    with pytest.raises(LatexError, match="form feed.*single quotes"):
        tokenize_parts("\x0crac{1}{2}")


def test_a_class_run_reports_it_per_answer(tmp_path):
    from derivations.classroom.sheets import read_class
    (tmp_path / "s1.yaml").write_text('student: s1\nanswers:\n  gan.square.f: "\\frac{-4t}{1+t}"\n'
                                      "  ddim.marginal_var: '1 - \\bar\\alpha_{t-1}'\n")
    sheets, problems = read_class([tmp_path], registry.slots())
    assert not problems
    answers = sheets[0].answers
    r = grade("gan.square.f", answers["gan.square.f"])
    assert r.verdict == "invalid" and "single quotes" in r.message
    assert grade("ddim.marginal_var", answers["ddim.marginal_var"]).verdict == "correct"


def test_an_unknown_yaml_escape_is_explained(tmp_path):
    from derivations.classroom.sheets import read_class
    (tmp_path / "s1.yaml").write_text('student: s1\nanswers:\n  gan.square.f: "\\sigma(t)"\n'
                                      "  ddim.marginal_var: '1 - \\bar\\alpha_{t-1}'\n")
    sheets, problems = read_class([tmp_path], registry.slots())
    assert any("single quotes" in p.reason for p in problems), [p.reason for p in problems]
