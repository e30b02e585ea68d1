"""Unit tests of the score-matching mechanism (derivations/catalogue/sm.py).

The derivations themselves run as pytest items through the plugin; here the checkers are shown
able to fail: the usual wrong variants (1/2 inside the norm, the DSM constant with the wrong
sign, the kernel score with the wrong sign, integration by parts without its minus sign or
without its boundary condition) must be refuted, with a counterexample where one exists.
"""
import sympy as sp

from derivations.catalogue import sm
from derivations.evidence import Status
from derivations.prove import check_relation
from derivations.step import Step, eq
from derivations.verify import check_step


def refuted_with_counterexample(ev):
    assert ev.status is Status.REFUTED, ev
    assert ev.counterexample, ev


# --- the kernel score --------------------------------------------------------------------
def test_kernel_score_is_derived_and_its_sign_matters():
    assert check_relation(sm.kernel_1d, "=", sm.KERNEL_REF).ok
    refuted_with_counterexample(check_relation(sm.kernel_1d, "=", (sm.x_t - sm.x) / sm.sigma ** 2))
    refuted_with_counterexample(check_relation(sm.KERNEL_REF.subs(sm.x_t, sm.x + sm.sigma * sm.eps), "=",
                                               sm.eps / sm.sigma))


def test_dsm_integrand_with_the_wrong_kernel_sign_is_refuted():
    s_rep = sm.s_theta(sm.x + sm.sigma * sm.eps)
    wrong_kernel = ((sm.x_t - sm.x) / sm.sigma ** 2).subs(sm.x_t, sm.x + sm.sigma * sm.eps)
    reparameterised = (s_rep + sm.eps / sm.sigma) ** 2 / 2
    refuted_with_counterexample(check_relation((s_rep - wrong_kernel) ** 2 / 2, "=", reparameterised))


# --- 1/2 inside the norm -----------------------------------------------------------------
def test_esm_with_half_inside_the_norm_is_not_ism_plus_a_constant():
    families = (sm.GAUSS_1D,)
    right = check_step(eq(sm.l_1, sm.Q_q + sm.T_q + sm.C_1, "ISM", check=sm.in_families(*families)))
    assert right.status is Status.PROVED and right.kind.value == "symbolic-family"
    refuted_with_counterexample(check_step(eq(sm.l_1_half, sm.Q_q + sm.T_q + sm.C_1, "wrong",
                                              check=sm.in_families(*families))))
    # not even up to another constant: the difference depends on theta
    assert check_step(eq(sp.Derivative(sm.l_1 - sm.Q_q - sm.T_q, sm.theta), 0, "",
                         check=sm.theta_free(*families))).ok
    refuted_with_counterexample(check_step(eq(sp.Derivative(sm.l_1_half - sm.Q_q - sm.T_q, sm.theta), 0, "",
                                              check=sm.theta_free(*families))))


def test_dsm_with_half_inside_both_norms_keeps_theta_free_but_doubles_the_constant():
    """A subtle case the checks must get right: the cross terms still cancel, the constant does not."""
    families = (sm.GAUSS_1D,)
    assert check_step(eq(sp.Derivative(sm.l_3_half - sm.l_half, sm.theta), 0, "",
                         check=sm.theta_free(*families))).ok
    refuted_with_counterexample(check_step(eq(sm.l_3_half - sm.l_half, sm.C_3 - sm.C_2, "",
                                              check=sm.in_families(*families))))
    assert check_step(eq(sm.l_3_half - sm.l_half, 2 * (sm.C_3 - sm.C_2), "", check=sm.in_families(*families))).ok


def test_the_seeds_claims_are_audited_and_refuted():
    # the claims as printed are refuted; where the notation has a second reading, that reading
    # is audited too and the checks name it as the one under which the printed line holds
    audited = [st for d in (sm.ISM, sm.DSM_EQUIV) for st in d.steps if st.audit]
    as_printed = [st for st in audited if "outside the norm" not in st.cite and "reading B" not in st.cite]
    other_readings = [st for st in audited if st not in as_printed]
    assert len(as_printed) == 4 and len(other_readings) == 3
    for st in as_printed:
        refuted_with_counterexample(check_step(st))
    for st in other_readings:
        assert check_step(st).ok


# --- the DSM constant --------------------------------------------------------------------
def test_constant_with_the_wrong_sign_is_refuted_in_each_family():
    for family in (sm.GAUSS_1D, sm.LINEAR_2D):
        check = sm.in_families(family)
        assert check_step(eq(sm.l_3, sm.l_ + sm.C_3 - sm.C_2, "", check=check)).ok
        ev = check_step(eq(sm.l_3, sm.l_ + sm.C_2 - sm.C_3, "", check=check))
        refuted_with_counterexample(ev)
        assert "sigma" in ev.counterexample and "s" in ev.counterexample


def test_gaussian_constants_come_from_the_moments():
    assert check_relation(sm.C1_gauss, "=", sm.C1_REF).ok
    assert check_relation(sm.C3_kernel - sm.C2_gauss, "=", sm.C_REF).ok
    refuted_with_counterexample(check_relation(sm.C1_gauss, "=", 1 / (2 * sm.s ** 2)))          # d dropped
    refuted_with_counterexample(check_relation(sm.C3_kernel - sm.C2_gauss, "=", -sm.C_REF))      # C2 - C3
    swapped = sm.d * sm.sigma ** 2 / (2 * sm.s ** 2 * (sm.s ** 2 + sm.sigma ** 2))
    refuted_with_counterexample(check_relation(sm.C3_kernel - sm.C2_gauss, "=", swapped))


# --- integration by parts ----------------------------------------------------------------
def test_integration_by_parts_needs_its_minus_sign():
    check = sm.integration_by_parts(sm.GAUSS_1D, sm.MIXTURE_1D)
    assert check_step(eq(sm.X_q, -sm.T_q, "", assume=sm.BOUNDARY, check=check)).ok
    refuted_with_counterexample(check_step(eq(sm.X_q, sm.T_q, "", assume=sm.BOUNDARY, check=check)))


def test_boundary_assumption_is_checked_not_assumed():
    x = sm.x
    gauss = sm.gauss_density([x], [0], [1])
    assert sm.gaussian_decay(gauss * (1 + x ** 3), x)
    assert not sm.gaussian_decay(gauss * sp.exp(x ** 2 / 2), x)
    assert sm.boundary_limits(gauss * sp.exp(x ** 2 / 2), x) == (1 / sp.sqrt(2 * sp.pi),) * 2
    growing = sm.Family("q = N(0, 1), s_theta = exp(x^2 / 2)", (), lambda: {},
                        lambda: [(gauss * sp.exp(x ** 2 / 2), x)])
    ev = check_step(Step(sm.X_q, "=", -sm.T_q, "", assume=sm.BOUNDARY, check=sm.integration_by_parts(growing)))
    assert ev.status is Status.REFUTED and "boundary assumption fails" in ev.detail


# --- the mechanism ----------------------------------------------------------------------
def test_a_family_without_a_closed_form_is_an_error_not_a_pass():
    ev = check_step(eq(sm.l_, sm.Q_sig - sm.S_ + sm.C_2, "", check=sm.in_families(sm.MIXTURE_1D)))
    assert ev.status is Status.ERROR and "no closed form" in ev.detail


def test_mixture_cross_term_identity_is_not_vacuous():
    """S = S_cond in the mixture holds, and a 10% error in it is caught."""
    check = sm.in_families(sm.MIXTURE_1D)
    assert check_step(eq(sm.S_, sm.S_cond, "", check=check)).ok
    refuted_with_counterexample(check_step(eq(sm.S_, sp.Rational(11, 10) * sm.S_cond, "", check=check)))


def test_every_sm_slot_is_established_by_a_step():
    derivations = (sm.ISM, sm.ISM_CONSTANT_GAUSS, sm.KERNEL_SCORE, sm.DSM, sm.DSM_EQUIV, sm.DSM_CONSTANT_GAUSS)
    established = {slot for d in derivations for slot in d.slots}
    assert established == {"sm.esm", "sm.ism", "sm.ism_constant_gauss", "sm.kernel_score", "sm.dsm",
                           "sm.dsm_equiv", "sm.dsm_constant_gauss"}
