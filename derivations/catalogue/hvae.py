"""Q2: a two-level hierarchical VAE (slots ``hvae.*``).

Source: the seed's Q2 (a)-(c) and its reference solution; the outline's Q2 table.

    p(x, z1, z2) = p(x|z1) p(z1|z2) p(z2),      q(z1, z2|x) = q(z1|x) q(z2|z1)

Concrete family (scalar linear-Gaussian HVAE; code name -> symbol):
    p(z2) = N(0, 1)
    p(z1|z2) = N(w z2 + c, tau^2)        w_p, c_p, tau
    p(x|z1)  = N(u z1 + e, r^2)          u_p, e_p, r_p
    q(z1|x)  = N(m1, s1^2)               m_1, s_1   (the encoder's output at this x)
    q(z2|z1) = N(a z1 + g, s2^2)         a_q, g_q, s_2
Expectations are computed by ``expectation.E_exp`` with the nested measure q(z1|x) q(z2|z1)
(the mean of z2 depends on z1); log p(x) and the joint posterior p(z1, z2|x) come from the
Gaussian lemma applied to the prior of (z1, z2) and checked by Bayes' rule pointwise.

The seed's solution replaces the middle term E_{q(z1|x) q(z2|z1)}[log q(z1|x) - log p(z1|z2)]
by E_{q(z2|z1)}[KL(q(z1|x) || p(z1|z2))] and its own text flags the step. derivcheck quotes that
equality (``audit="seed"``), computes both sides and lets the random-point check decide.
"""
from __future__ import annotations

import sympy as sp

from .. import symbols as symtab
from ..expectation import E_exp, Normal, log_normal, log_normal_mv
from ..registry import derivation, slot
from ..step import Step
from ..nonneg import GaussianKL
from .common import expect
from .vae import gauss_kl_1d, moment_step

oo = sp.oo
declare = symtab.declare
SOURCE = "seed Q2 (a)-(c); outline Q2"

# ---------------------------------------------------------------------------------------------
# symbols
x = declare("x_h", "x", aliases=("x",), meaning="a data point (HVAE)")
z1 = declare("z_1", "z_1", aliases=("z1",), meaning="lower latent")
z2 = declare("z_2", "z_2", aliases=("z2",), meaning="top latent")
w = declare("w_p", "w", meaning="weight of z2 in the mean of p(z1|z2)")
c = declare("c_p", "c", meaning="offset of p(z1|z2)")
tau = declare("tau", r"\tau", 0, oo, meaning="standard deviation of p(z1|z2)")
u = declare("u_p", "u", meaning="weight of z1 in the mean of p(x|z1)")
e = declare("e_p", "e", meaning="offset of p(x|z1)")
r = declare("r_p", "r", 0, oo, meaning="standard deviation of p(x|z1)")
m1 = declare("m_1", "m_1", meaning="mean of q(z1|x)")
s1 = declare("s_1", "s_1", 0, oo, meaning="standard deviation of q(z1|x)")
a = declare("a_q", "a", meaning="weight of z1 in the mean of q(z2|z1)")
g = declare("g_q", "g", meaning="offset of q(z2|z1)")
s2 = declare("s_2", "s_2", 0, oo, meaning="standard deviation of q(z2|z1)")
z1_fresh = declare("z_1_fresh", "z_1'", meaning="an independent draw from q(z1|x)")
k, d, v_x = declare("k_q", "k"), declare("d_q", "d"), declare("v_x", "v_x", 0, oo)
x_data = declare("x_data", "x", meaning="a data point drawn from N(0, v_x) (active-units statistic)")

# density values at one (z1, z2) (positive numbers), for identities of densities
p_x_z1 = declare("p_x_given_z1", r"p(x\mid z_1)", 0, oo)
p_z1_z2 = declare("p_z1_given_z2", r"p(z_1\mid z_2)", 0, oo)
p_z2 = declare("p_z2", r"p(z_2)", 0, oo)
q_z1 = declare("q_z1_given_x", r"q(z_1\mid x)", 0, oo)
q_z2 = declare("q_z2_given_z1", r"q(z_2\mid z_1)", 0, oo)
DENSITIES = (p_x_z1, p_z1_z2, p_z2, q_z1, q_z2)

FAMILY = "scalar linear-Gaussian HVAE"

# the family's log-densities and measures
log_p_x = log_normal(x, u * z1 + e, r**2)
log_p_z1 = log_normal(z1, w * z2 + c, tau**2)
log_p_z2 = log_normal(z2, 0, 1)
log_q_z1 = log_normal(z1, m1, s1**2)
log_q_z2 = log_normal(z2, a * z1 + g, s2**2)
Q = (Normal(z1, m1, s1**2), Normal(z2, a * z1 + g, s2**2))      # q(z1|x) q(z2|z1), outermost first
P_LATENT = (Normal(z2, 0, 1), Normal(z1, w * z2 + c, tau**2))   # p(z2) p(z1|z2)

# the lemma, twice: z1 ~ N(c, w^2 + tau^2); x ~ N(u c + e, u^2 (w^2 + tau^2) + r^2)
LOG_EVIDENCE = log_normal(x, u * c + e, u**2 * (w**2 + tau**2) + r**2)
# joint prior of (z1, z2) and the posterior given x (A = [u, 0], L = 1/r^2)
_prior_mean = sp.Matrix([c, 0])
_prior_cov = sp.Matrix([[w**2 + tau**2, w], [w, 1]])
_A = sp.Matrix([[u, 0]])
_post_cov = (_prior_cov.inv() + _A.T * _A / r**2).inv()
_post_mean = _post_cov * (_A.T * (sp.Matrix([x]) - sp.Matrix([e])) / r**2 + _prior_cov.inv() * _prior_mean)
LOG_POSTERIOR = log_normal_mv([z1, z2], _post_mean.applyfunc(sp.simplify), _post_cov.applyfunc(sp.simplify))

def elbo_gap_certificate() -> sp.Expr:
    """log p(x) - L(x) = KL(q(z1, z2|x) || p(z1, z2|x)) by the chain rule, as atoms >= 0.

    p(z1|x) = N(pm1, pv1) (z1 ~ N(c, w^2 + tau^2), x|z1 ~ N(u z1 + e, r^2)); p(z2|z1, x) =
    p(z2|z1) = N(k z1 + h, v2) with v2 = tau^2/(tau^2 + w^2), k = w/(tau^2 + w^2), h = -c k.
    E_{z1 ~ q(z1|x)} KL(N(a z1 + g, s2^2) || N(k z1 + h, v2)) = KL at z1 = m1 plus
    (a - k)^2 s1^2 / (2 v2), the spread of the mean difference."""
    prior_var = w**2 + tau**2
    pv1 = prior_var * r**2 / (r**2 + u**2 * prior_var)
    pm1 = pv1 * (u * (x - e) / r**2 + c / prior_var)
    v2, k_ = tau**2 / (tau**2 + w**2), w / (tau**2 + w**2)
    return (GaussianKL(m1, s1, pm1, sp.sqrt(pv1)) + GaussianKL(a * m1 + g, s2, k_ * (m1 - c), sp.sqrt(v2))
            + (a - k_)**2 * s1**2 / (2 * v2))


INTEGRAND = log_p_x + log_p_z1 + log_p_z2 - log_q_z1 - log_q_z2
MIDDLE = log_q_z1 - log_p_z1     # the middle term's integrand, log q(z1|x) - log p(z1|z2)


def elbo() -> sp.Expr:
    return E_exp(INTEGRAND, *Q)


def middle_term() -> sp.Expr:
    """E_{q(z1|x) q(z2|z1)}[log q(z1|x) - log p(z1|z2)]: z2 is drawn from, and after, z1."""
    return E_exp(MIDDLE, *Q)


def kl_q_z1_to_p_z1_given(z2_value) -> sp.Expr:
    """KL(q(z1|x) || p(z1|z2)) for a fixed z2, by moments: z1 is integrated, z2 stays free."""
    return E_exp(MIDDLE.xreplace({z2: z2_value}), Normal(z1, m1, s1**2))


def seed_rhs_aggregate() -> sp.Expr:
    """Reading (A) of the seed's E_{q(z2|z1)}[KL(q(z1|x) || p(z1|z2))]: z2 ~ q(z2|x) =
    int q(z1'|x) q(z2|z1') dz1', the KL integrating its own, independent z1."""
    return E_exp(kl_q_z1_to_p_z1_given(z2), Normal(z1_fresh, m1, s1**2), Normal(z2, a * z1_fresh + g, s2**2))


def seed_rhs_literal() -> sp.Expr:
    """Reading (B), literal: z2 ~ q(z2|z1) at a given z1, which is then free on the right-hand side."""
    return E_exp(kl_q_z1_to_p_z1_given(z2), Normal(z2, a * z1 + g, s2**2))


def top_kl_term() -> sp.Expr:
    """E_{q(z1|x)}[KL(q(z2|z1) || p(z2))] with the KL from vae.gauss_kl_1d."""
    return E_exp(gauss_kl_1d(a * z1 + g, s2, 0, 1), Q[0])


def reconstruction_term() -> sp.Expr:
    return E_exp(log_p_x, Q[0])


# ---------------------------------------------------------------------------------------------
# slots
slot("hvae.elbo", "L(x) = E_{q(z1|x) q(z2|z1)}[log p(x|z1) + log p(z1|z2) + log p(z2) - log q(z1|x) - log q(z2|z1)] "
                  "<= log p(x)",
     reference=sp.log(p_x_z1) + sp.log(p_z1_z2) + sp.log(p_z2) - sp.log(q_z1) - sp.log(q_z2),
     symbols=DENSITIES, kind="expression",
     latex=r"\mathcal{L}(x) = \mathbb{E}_{q(z_1\mid x)q(z_2\mid z_1)}\left[\log p(x\mid z_1) + \log p(z_1\mid z_2)"
           r" + \log p(z_2) - \log q(z_1\mid x) - \log q(z_2\mid z_1)\right] \le \log p(x)")
slot("hvae.decomp", "L = E_{q(z1|x)}[log p(x|z1)] - E_{q(z1|x) q(z2|z1)}[log q(z1|x) - log p(z1|z2)] - "
                    "E_{q(z1|x)}[KL(q(z2|z1) || p(z2))]",
     reference=sp.log(p_x_z1) - (sp.log(q_z1) - sp.log(p_z1_z2)) - (sp.log(q_z2) - sp.log(p_z2)),
     symbols=DENSITIES, kind="expression",
     latex=r"\mathcal{L}(x) = \mathbb{E}_{q(z_1\mid x)}[\log p(x\mid z_1)] - \mathbb{E}_{q(z_1\mid x)q(z_2\mid z_1)}"
           r"[\log q(z_1\mid x) - \log p(z_1\mid z_2)] - \mathbb{E}_{q(z_1\mid x)}[\mathrm{KL}(q(z_2\mid "
           r"z_1)\,\|\,p(z_2))]")
slot("hvae.invalid_kl_step", "the middle term is NOT in general E_{q(z2|z1)}[KL(q(z1|x) || p(z1|z2))]: z2 is drawn "
                             "after, and from, z1",
     kind="structural",
     latex=r"\mathbb{E}_{q(z_1\mid x)q(z_2\mid z_1)}[\log q(z_1\mid x) - \log p(z_1\mid z_2)] \ne "
           r"\mathbb{E}_{q(z_2\mid z_1)}[\mathrm{KL}(q(z_1\mid x)\,\|\,p(z_1\mid z_2))]\ \text{in general}")
slot("hvae.collapse", "posterior collapse: KL(q(z2|z1) || p(z2)) -> 0 when the decoder does not need z2; remedies: "
     "KL annealing, free bits, skip connections, richer priors; measured by active units Cov_x(E_q[u]) > 0.01",
     kind="structural")


# ---------------------------------------------------------------------------------------------
# derivations
_log_product = Step(sp.log(p_x_z1 * p_z1_z2 * p_z2 / (q_z1 * q_z2)), "=",
                    sp.log(p_x_z1) + sp.log(p_z1_z2) + sp.log(p_z2) - sp.log(q_z1) - sp.log(q_z2),
                    "the log of a product of positive densities is the sum of their logs",
                    establishes=("hvae.elbo",), cite="seed Q2 (a)",
                    claim_latex=r"\log\frac{p(x\mid z_1)p(z_1\mid z_2)p(z_2)}{q(z_1\mid x)q(z_2\mid z_1)} = "
                                r"\log p(x\mid z_1) + \log p(z_1\mid z_2) + \log p(z_2) - \log q(z_1\mid x) "
                                r"- \log q(z_2\mid z_1)")

derivation("hvae.elbo", "the two-level ELBO is a lower bound on log p(x)", [
    _log_product,
    moment_step(lambda: E_exp(sp.exp(log_p_x), *P_LATENT), "=", sp.exp(LOG_EVIDENCE),
                "p(x) = E_{p(z2) p(z1|z2)}[p(x|z1)] by completing the square, twice: the lemma's marginal",
                family=FAMILY, establishes=("hvae.elbo",),
                claim_latex=r"\mathbb{E}_{p(z_2)p(z_1\mid z_2)}[p(x\mid z_1)] = "
                            r"\mathcal{N}(x\mid uc + e,\ u^2(w^2+\tau^2) + r^2)"),
    Step(log_p_x + log_p_z1 + log_p_z2 - LOG_POSTERIOR, "=", LOG_EVIDENCE,
         "Bayes in the family: log p(x, z1, z2) - log p(z1, z2|x) is log p(x) at every (z1, z2)",
         family=FAMILY, establishes=("hvae.elbo",),
         claim_latex=r"\log p(x, z_1, z_2) - \log p(z_1, z_2\mid x) = \log p(x)"),
    moment_step(lambda: LOG_EVIDENCE - elbo(), "=", lambda: E_exp(log_q_z1 + log_q_z2 - LOG_POSTERIOR, *Q),
                "the gap is KL(q(z1, z2|x) || p(z1, z2|x)), both sides by moments under q(z1|x) q(z2|z1)",
                family=FAMILY, establishes=("hvae.elbo",),
                claim_latex=r"\log p(x) - \mathcal{L}(x) = \mathrm{KL}(q(z_1\mid x)q(z_2\mid "
                            r"z_1)\,\|\,p(z_1, z_2\mid x))"),
    moment_step(elbo, "<=", LOG_EVIDENCE, "the gap is KL(q(z1, z2|x) || p(z1, z2|x)) >= 0; the certificate is "
                "its chain rule: KL(q(z1|x) || p(z1|x)) + E_q(z1|x)[KL(q(z2|z1) || p(z2|z1))] (x depends on z2 only "
                "through z1, so p(z2|z1, x) = p(z2|z1)), each a KL of Gaussians in closed form",
                family=FAMILY, establishes=("hvae.elbo",), gap=lambda: elbo_gap_certificate(),
                claim_latex=r"\mathcal{L}(x) \le \log p(x)"),
], source=SOURCE)

derivation("hvae.decomp", "the two-level ELBO in three terms", [
    Step(sp.log(p_x_z1 * p_z1_z2 * p_z2 / (q_z1 * q_z2)), "=",
         sp.log(p_x_z1) - sp.log(q_z1 / p_z1_z2) - sp.log(q_z2 / p_z2),
         "regroup the five log-densities (no expectation is touched)", establishes=("hvae.decomp",),
         cite="seed Q2 (a)",
         claim_latex=r"\log\frac{p(x,z_1,z_2)}{q(z_1,z_2\mid x)} = \log p(x\mid z_1) - \log\frac{q(z_1\mid x)}"
                     r"{p(z_1\mid z_2)} - \log\frac{q(z_2\mid z_1)}{p(z_2)}"),
    moment_step(lambda: expect(log_p_x, *Q), "=", lambda: expect(log_p_x, Q[0]),
                "log p(x|z1) does not involve z2, so q(z2|z1) integrates to 1", family=FAMILY,
                establishes=("hvae.decomp",),
                claim_latex=r"\mathbb{E}_{q(z_1\mid x)q(z_2\mid z_1)}[\log p(x\mid z_1)] = \mathbb{E}_{q(z_1\mid x)}"
                            r"[\log p(x\mid z_1)]"),
    moment_step(lambda: E_exp(log_q_z2 - log_p_z2, *Q), "=", top_kl_term,
                "the inner expectation over z2 is KL(q(z2|z1) || p(z2)) (vae.gauss_kl_1d at the mean a z1 + g)",
                family=FAMILY, establishes=("hvae.decomp",),
                claim_latex=r"\mathbb{E}_{q(z_1\mid x)q(z_2\mid z_1)}[\log q(z_2\mid z_1) - \log p(z_2)] = "
                            r"\mathbb{E}_{q(z_1\mid x)}[\mathrm{KL}(q(z_2\mid z_1)\,\|\,p(z_2))]"),
    moment_step(elbo, "=", lambda: reconstruction_term() - middle_term() - top_kl_term(),
                "so L(x) is the sum of the three terms; the middle one keeps its joint expectation",
                family=FAMILY, establishes=("hvae.decomp",),
                claim_latex=r"\mathcal{L}(x) = \mathbb{E}_{q(z_1\mid x)}[\log p(x\mid z_1)] - "
                            r"\mathbb{E}_{q(z_1\mid x)q(z_2\mid z_1)}[\log q(z_1\mid x) - \log p(z_1\mid z_2)] - "
                            r"\mathbb{E}_{q(z_1\mid x)}[\mathrm{KL}(q(z_2\mid z_1)\,\|\,p(z_2))]"),
], source=SOURCE)


def _covariance_q() -> sp.Expr:
    return E_exp(z1 * z2, *Q) - E_exp(z1, *Q) * E_exp(z2, *Q)


_SEED_CLAIM = (r"\mathbb{E}_{q(z_1\mid x)q(z_2\mid z_1)}\left[\log q(z_1\mid x) - \log p(z_1\mid z_2)\right] = "
               r"\mathbb{E}_{q(z_2\mid z_1)}\left[\mathrm{KL}(q(z_1\mid x)\,\|\,p(z_1\mid z_2))\right]")
derivation("hvae.invalid_kl_step", "the seed's KL rewrite of the middle term, tested", [
    moment_step(middle_term, "=", seed_rhs_aggregate,
                "seed's claim, reading (A): z2 on the right is drawn as in q, z2 ~ q(z2|x) = "
                "int q(z1'|x) q(z2|z1') dz1', while the KL integrates its own z1 ~ q(z1|x), independent of z2. "
                "On the left z2 is drawn from the same z1 that log p(z1|z2) is evaluated at",
                family=FAMILY, establishes=("hvae.invalid_kl_step",), audit="seed", cite="seed Q2 (a), solution",
                claim_latex=_SEED_CLAIM + r"\quad\text{(A: } z_2\sim q(z_2\mid x))"),
    moment_step(middle_term, "=", seed_rhs_literal,
                "seed's claim, reading (B), literal: E_{q(z2|z1)} at a given z1; the right-hand side is then a "
                "function of that z1, the left-hand side a number",
                family=FAMILY, establishes=("hvae.invalid_kl_step",), audit="seed", cite="seed Q2 (a), solution",
                claim_latex=_SEED_CLAIM + r"\quad\text{(B: } z_1 \text{ given)}"),
    moment_step(elbo, "=", lambda: reconstruction_term() - seed_rhs_aggregate() - top_kl_term(),
                "the seed's final L(x), with the rewritten middle term (reading A)",
                family=FAMILY, establishes=("hvae.invalid_kl_step",), audit="seed", cite="seed Q2 (a), solution",
                claim_latex=r"\mathcal{L}(x) = \mathbb{E}_{q(z_1\mid x)}[\log p(x\mid z_1)] - "
                            r"\mathbb{E}_{q(z_2\mid z_1)}"
                            r"[\mathrm{KL}(q(z_1\mid x)\,\|\,p(z_1\mid z_2))] - \mathbb{E}_{q(z_1\mid x)}"
                            r"[\mathrm{KL}(q(z_2\mid z_1)\,\|\,p(z_2))]"),
    moment_step(lambda: middle_term() - seed_rhs_aggregate(), "=", lambda: -w * _covariance_q() / tau**2,
                "why (A) fails: log p(z1|z2) has the cross term w z1 z2 / tau^2, whose mean sees Cov_q(z1, z2) on "
                "the left and 0 on the right; equal only when w Cov_q(z1, z2) = 0 (p(z1|z2) ignores z2, or q(z2|z1) "
                "ignores z1)", family=FAMILY,
                claim_latex=r"\text{middle term} - \text{(A)} = -\frac{w}{\tau^2}\,\mathrm{Cov}_q(z_1, z_2)"),
], source=SOURCE)

# posterior collapse in the family: with w = 0, p(z1|z2) ignores z2 and the top level only costs
_no_top = {w: 0}
_one_level = E_exp(log_p_x + log_p_z1.xreplace(_no_top) - log_q_z1, Q[0])
_at_prior = {a: 0, g: 0, s2: 1}
_amortised_m1 = {m1: k * x_data + d}
_x_data = Normal(x_data, 0, v_x)
derivation("hvae.collapse", "posterior collapse when the decoder does not need z2", [
    moment_step(lambda: elbo().xreplace(_no_top), "=", lambda: _one_level - top_kl_term(),
                "w = 0: L(x) is a one-level ELBO minus E_q[KL(q(z2|z1) || p(z2))]; q(z2|z1) enters nowhere else",
                family=FAMILY + ", w = 0", establishes=("hvae.collapse",),
                claim_latex=r"w = 0:\ \mathcal{L}(x) = \mathcal{L}_1(x) - \mathbb{E}_{q(z_1\mid x)}"
                            r"[\mathrm{KL}(q(z_2\mid z_1)\,\|\,p(z_2))]"),
    moment_step(lambda: sp.Subs(expect(gauss_kl_1d(a * z1 + g, s2, 0, 1), Q[0]), tuple(_at_prior), tuple(_at_prior.values())),
                "=", 0,
                "the KL term vanishes at q(z2|z1) = p(z2) (a = g = 0, s2 = 1): the collapsed encoder maximises L",
                family=FAMILY, establishes=("hvae.collapse",),
                claim_latex=r"\mathrm{KL}(q(z_2\mid z_1)\,\|\,p(z_2))\big|_{a=g=0,\,s_2=1} = 0"),
    moment_step(lambda: sp.Matrix([sp.Subs(sp.Derivative(expect(INTEGRAND.xreplace(_no_top), *Q), p),
                                           tuple(_at_prior), tuple(_at_prior.values())) for p in (a, g, s2)]),
                "=", sp.zeros(3, 1), "and it is a stationary point of L in (a, g, s2) when w = 0",
                family=FAMILY + ", w = 0", establishes=("hvae.collapse",),
                claim_latex=r"\nabla_{(a, g, s_2)}\mathcal{L}\big|_{a=g=0,\,s_2=1,\,w=0} = 0"),
    moment_step(lambda: sp.diff(elbo(), a).xreplace(_at_prior), "=", w * (s1**2 + m1 * (m1 - c)) / tau**2,
                "with w != 0 the collapsed point is not stationary: the slope in a is w (s1^2 + m1 (m1 - c)) / tau^2",
                family=FAMILY, establishes=("hvae.collapse",),
                claim_latex=r"\partial_a\mathcal{L}\big|_{a=g=0,\,s_2=1} = \frac{w\,(s_1^2 + m_1(m_1 - c))}{\tau^2}"),
    moment_step(lambda: E_exp(E_exp(z2, *Q).xreplace(_amortised_m1) ** 2, _x_data)
                - E_exp(E_exp(z2, *Q).xreplace(_amortised_m1), _x_data) ** 2, "=",
                a**2 * k**2 * v_x,
                "active-units statistic of z2 with an amortised encoder m1(x) = k x + d, x ~ N(0, v_x): "
                "Cov_x(E_q[z2|x]) = a^2 k^2 v_x, zero exactly when q(z2|z1) ignores z1 (a = 0)",
                family=FAMILY + ", m1(x) = k x + d", establishes=("hvae.collapse",),
                claim_latex=r"\mathrm{Cov}_x\big(\mathbb{E}_{q(z_2\mid x)}[z_2]\big) = a^2k^2v_x"),
], source=SOURCE)
