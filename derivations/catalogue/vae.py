"""Q1: a VAE, step by step (slots ``vae.*``).

Source: the seed's Q1 (steps 1-6 and their reference solution); the outline's Q1 table.

Notation key (code name -> symbol):
    X, Z                 data point, latent variable (one coordinate in the scalar family)
    mu_z, sigma_z        prior p_theta(Z) = N(mu_z, sigma_z^2 I)
    mu_q, sigma_q        variational q_lambda(Z) = N(mu, sigma^2 I), lambda = {mu, sigma^2}
    W, b_x, psi          linear-Gaussian decoder p_theta(X|Z) = N(W Z + b, Psi), Psi = diag(psi)
    lik, prior, q_Z, p_X density values p_theta(X|Z), p_theta(Z), q(Z), p_theta(X) at one Z

Three kinds of steps:

* identities of densities: density values are positive symbols and Bayes defines
  p(Z|X) = p(X|Z) p(Z) / p(X). An identity between integrands that holds at every Z holds
  between their expectations under any q, so these steps carry the general argument.
* the linear-Gaussian family (``LinearGaussianVAE``): every expectation is computed by
  ``expectation.E_exp`` (moments, completing the square), log p(X) and p(Z|X) come from the
  Gaussian lemma and are checked by Bayes' rule pointwise; claims are then equalities of
  closed forms (symbolic-family evidence).
* inequalities (Jensen, KL >= 0) in the family: checked at random admissible points
  (exact-numeric evidence, never called a proof).
"""
from __future__ import annotations

import functools

import sympy as sp

from ..symbols import as_expr

from .. import symbols as symtab
from ..nonneg import ExpAboveTangent, GaussianKL
from ..expectation import E_exp, Normal, diagonal, log_normal, log_normal_diag, log_normal_mv
from ..evidence import Evidence, Kind, Status
from ..printing import latex
from ..prove import SYMBOLIC_SECONDS, check_relation, exp_form
from ..registry import derivation, slot
from ..step import Step
from . import lemma
from .common import expect, worked, worked_sides

oo = sp.oo
declare = symtab.declare
SOURCE = "seed Q1 (steps 1-6); outline Q1"

# ---------------------------------------------------------------------------------------------
# symbols
X = declare("X", "X", aliases=("x", "X^{(i)}", "x^{(i)}"), meaning="a data point")
Z = declare("Z", "Z", aliases=("z",), meaning="latent variable")
mu_z = declare("mu_z", r"\mu_z", aliases=(r"\mu_{z}", r"\mu_Z"), meaning="prior mean")
sigma_z = declare("sigma_z", r"\sigma_z", 0, oo, aliases=(r"\sigma_{z}", r"\sigma_Z"),
                  meaning="prior standard deviation")
mu = declare("mu_q", r"\mu", aliases=(r"\mu_\lambda", r"\mu_{\lambda}", r"\mu_\phi", r"\mu_{\phi}"),
             meaning="mean of q_lambda(Z)")
sigma = declare("sigma_q", r"\sigma", 0, oo, aliases=(r"\sigma_\lambda", r"\sigma_\phi", r"\sigma_{\phi}"),
                meaning="standard deviation of q_lambda(Z)")
W = declare("W", "W", aliases=("w",), meaning="decoder weight (linear-Gaussian family)")
b = declare("b_x", "b", aliases=("b_x",), meaning="decoder offset (linear-Gaussian family)")
psi = declare("psi", r"\Psi", 0, oo, aliases=(r"\psi", r"\sigma_x^2"), meaning="decoder noise variance")
eps = declare("epsilon", r"\epsilon", aliases=(r"\varepsilon", "eps"), meaning="standard normal noise")

# density values at one Z (positive numbers), for identities of densities
lik = declare("p_lik", r"p_\theta(X\mid Z)", 0, oo, aliases=(r"p(X\mid Z)", r"p_{\theta}(X|Z)"),
              meaning="likelihood p_theta(X|Z)")
prior = declare("p_prior", r"p_\theta(Z)", 0, oo, aliases=("p(Z)",), meaning="prior density p_theta(Z)")
q_Z = declare("q_Z", "q(Z)", 0, oo, aliases=(r"q_\lambda(Z)", r"q_\phi(Z\mid X)"), meaning="proposal q(Z)")
p_X = declare("p_X", r"p_\theta(X)", 0, oo, aliases=("p(X)",), meaning="evidence p_theta(X)")
posterior = lik * prior / p_X           # Bayes: p(Z|X)
DENSITIES = (lik, prior, q_Z, p_X)

# indexed forms for the m- and n-dimensional statements
i, j = (sp.Symbol(s, integer=True, positive=True) for s in "ij")
m_dim = declare("m", "m", 1, 64, integer=True, meaning="latent dimension")
n_dim = declare("n", "n", 1, 64, integer=True, meaning="data dimension")
mu_i, mu_zi = sp.IndexedBase("mu", real=True), sp.IndexedBase("mu_z", real=True)
sigma_i, sigma_zi = sp.IndexedBase("sigma", positive=True), sp.IndexedBase("sigma_z", positive=True)
X_i, v_i = sp.IndexedBase("X", real=True), sp.IndexedBase("v", positive=True)


# ---------------------------------------------------------------------------------------------
# references (the only place these formulas are written)
def gauss_kl_1d(m1, s1, m2, s2):
    """KL(N(m1, s1^2) || N(m2, s2^2)): the reference of ``vae.gauss_kl_1d``."""
    return sp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)


GAUSS_KL_1D = gauss_kl_1d(mu, sigma, mu_z, sigma_z)
GAUSS_KL_DIAG = sp.Sum(gauss_kl_1d(mu_i[j], sigma_i[j], mu_zi[j], sigma_zi[j]), (j, 1, m_dim))
GAUSS_LOGLIK = -sp.Sum(sp.log(2 * sp.pi * v_i[i]) + (X_i[i] - mu_i[i]) ** 2 / v_i[i], (i, 1, n_dim)) / 2


# ---------------------------------------------------------------------------------------------
# the linear-Gaussian family
class LinearGaussianVAE:
    """p(Z) = N(mu_z, sigma_z^2 I_m), p(X|Z) = N(W Z + b, diag(psi)), q(Z) = N(mu, diag(sigma^2)).

    Explicit dimensions n (data) and m (latent) with symbolic entries; n = m = 1 uses the
    module's scalar symbols. log p(X) and p(Z|X) are the Gaussian lemma's formulas
    (``lemma.MARGINAL_*``, ``lemma.POSTERIOR_*``) with A = W, Lambda = I / sigma_z^2, L = Psi^{-1}.
    """

    def __init__(self, n: int = 1, m: int = 1):
        self.n, self.m = n, m
        self.name = f"linear-Gaussian VAE, n = {n}, m = {m}"
        # a side of dimension 1 uses the module's scalar symbols (never redeclared)
        if n == 1:
            self.X, self.b, self.psi = [X], [b], [psi]
        else:
            self.X = [declare(f"X_{k + 1}", f"X_{k + 1}") for k in range(n)]
            self.b = [declare(f"b_x_{k + 1}", f"b_{k + 1}") for k in range(n)]
            self.psi = [declare(f"psi_{k + 1}", rf"\psi_{k + 1}", 0, oo) for k in range(n)]
        if m == 1:
            self.Z, self.mu_z, self.mu, self.sigma = [Z], [mu_z], [mu], [sigma]
        else:
            self.Z = [declare(f"Z_{k + 1}", f"Z_{k + 1}") for k in range(m)]
            self.mu_z = [declare(f"mu_z_{k + 1}", rf"\mu_{{z,{k + 1}}}") for k in range(m)]
            self.mu = [declare(f"mu_q_{k + 1}", rf"\mu_{k + 1}") for k in range(m)]
            self.sigma = [declare(f"sigma_q_{k + 1}", rf"\sigma_{k + 1}", 0, oo) for k in range(m)]
        self.W = sp.Matrix([[W]]) if n == m == 1 else sp.Matrix(
            n, m, lambda r, c: declare(f"W_{r + 1}{c + 1}", f"W_{{{r + 1}{c + 1}}}"))
        self.sigma_z = sigma_z
        self.Psi = sp.diag(*self.psi)
        Zv = sp.Matrix(self.Z)
        self.decoder_mean = list(self.W * Zv + sp.Matrix(self.b))
        self.loglik = log_normal_diag(self.X, self.decoder_mean, self.psi)
        self.logprior = log_normal_diag(self.Z, self.mu_z, [sigma_z**2] * m)
        self.logq = log_normal_diag(self.Z, self.mu, [s**2 for s in self.sigma])
        self.q = diagonal(self.Z, self.mu, [s**2 for s in self.sigma])
        self.p_z = diagonal(self.Z, self.mu_z, [sigma_z**2] * m)
        self.log_weight = self.loglik + self.logprior - self.logq   # log p(X, Z) - log q(Z)
        # the Gaussian lemma, with A = W, Lambda = I / sigma_z^2, L = Psi^{-1}, y = X
        lam = sp.eye(m) / sigma_z**2
        self.marginal_mean = self.W * sp.Matrix(self.mu_z) + sp.Matrix(self.b)
        self.marginal_cov = self.Psi + self.W * lam.inv() * self.W.T
        self.post_cov = (lam + self.W.T * self.Psi.inv() * self.W).inv()
        self.post_mean = self.post_cov * (self.W.T * self.Psi.inv() * (sp.Matrix(self.X) - sp.Matrix(self.b))
                                          + lam * sp.Matrix(self.mu_z))
        if n == m:   # same formulas, read from the lemma's references
            fam = {lemma.A: self.W, lemma.Lam: lam, lemma.L: self.Psi.inv(), lemma.mu: sp.Matrix(self.mu_z),
                   lemma.b: sp.Matrix(self.b), lemma.y: sp.Matrix(self.X), lemma.n: n}
            self.post_mean = lemma.explicit(lemma.POSTERIOR_MEAN, fam)
            self.post_cov = lemma.explicit(lemma.POSTERIOR_COV, fam)
            self.marginal_mean = lemma.explicit(lemma.MARGINAL_MEAN, fam)
            self.marginal_cov = lemma.explicit(lemma.MARGINAL_COV, fam)
        self.log_evidence = log_normal_mv(self.X, self.marginal_mean, self.marginal_cov)
        self.logpost = log_normal_mv(self.Z, self.post_mean, self.post_cov)

    def posterior_measure(self) -> tuple[Normal, ...]:
        """p(Z|X) as a measure for ``E`` (one latent dimension)."""
        if self.m != 1:
            raise ValueError("posterior_measure is written for m = 1")
        return (Normal(self.Z[0], self.post_mean[0], self.post_cov[0, 0]),)

    @functools.cached_property
    def elbo(self) -> sp.Expr:
        """Closed-form ELBO for any diagonal Gaussian q: E_q[log p(X, Z) - log q(Z)] by moments."""
        return E_exp(self.log_weight, *self.q)

    @functools.cached_property
    def kl_to_posterior(self) -> sp.Expr:
        """KL(q || p(Z|X)) = E_q[log q - log p(Z|X)] by moments."""
        return E_exp(self.logq - self.logpost, *self.q)


def _is_zero(expr) -> bool:
    return sp.cancel(sp.together(sp.expand(expr))) == 0


def positive_forms_equal(lhs, rhs) -> bool:
    """Sufficient test of a = b for positive a = c exp(A), b = d exp(B) (densities, Gaussian
    integrals): A - B = 0 and (c/d)^2 = 1 as rational functions. Squaring clears the square
    roots that normalising constants carry; c, d > 0 then gives c = d."""
    (c, a), (d, b) = exp_form(lhs), exp_form(rhs)
    if not (c.is_positive and d.is_positive):
        return False
    return _is_zero(a - b) and _is_zero(sp.expand(c**2) - sp.expand(d**2))


def _check_closed_forms(step: Step, symbolic_seconds: float) -> Evidence:
    """The step's own sides, their unevaluated expectations and derivatives carried out (by
    moments); an inequality needs its gap certificate."""
    lhs, rhs = worked_sides(step)
    if step.rel == "=" and as_expr(lhs).has(sp.exp) and positive_forms_equal(lhs, rhs):
        return Evidence(Status.PROVED, Kind.SYMBOLIC_FAMILY if step.family else Kind.SYMBOLIC,
                        "exponents agree and squared prefactors agree as rational functions"
                        + (f" in the family {step.family}" if step.family else ""))
    return check_relation(lhs, step.rel, rhs, step.assume, step.family, symbolic_seconds=symbolic_seconds,
                          gap=step.certificate())


def moment_step(lhs, rel, rhs, why, symbolic_seconds: float | None = None, **kw) -> Step:
    """A step between closed forms from ``E_exp``; sides may be zero-argument callables (built
    when checked). Equalities of positive Gaussian forms are first compared as exponent and
    prefactor; an inequality is proved from its gap certificate (``gap=``), never by numbers."""
    if symbolic_seconds is None:
        symbolic_seconds = SYMBOLIC_SECONDS
    return Step(lhs, rel, rhs, why, check=lambda step: _check_closed_forms(step, symbolic_seconds), **kw)


SCALAR = LinearGaussianVAE(1, 1)
LATENT2 = LinearGaussianVAE(1, 2)


# the names the seed's Q1 uses in its method statements (sample and data-set sizes, the parameters a
# gradient is taken in, the ELBO as a function): read, so that those answers are not refused
N_data = declare("N_data", "N", 1, oo, integer=True, meaning="number of data points")
L_samples = declare("L_samples", "L", 1, oo, integer=True, meaning="number of Monte Carlo samples")
lam = declare("lambda_q", r"\lambda", meaning="the parameters of q_lambda(Z)")
theta = declare("theta", r"\theta", meaning="the decoder's parameters")
ELBO_F = sp.Function(r"\mathcal{L}")

# ---------------------------------------------------------------------------------------------
# slots
_LG = (X, W, b, psi, mu_z, sigma_z)
slot("vae.marginal", "p(X) = int p(X|Z) p(Z) dZ = E_{p(Z)}[p(X|Z)]",
     reference=p_X, symbols=DENSITIES, kind="expression",
     latex=r"p_\theta(X) = \int p_\theta(X\mid Z)\,p_\theta(Z)\,dZ = \mathbb{E}_{p_\theta(Z)}[p_\theta(X\mid Z)]")
slot("vae.lg_log_evidence", "log p(X) of the linear-Gaussian VAE (scalar family): "
     "log N(X | W mu_z + b, W^2 sigma_z^2 + psi)",
     reference=SCALAR.log_evidence, symbols=_LG, kind="expression")
slot("vae.prior_mc", "p(X) ~ (1/L) sum_l p(X|Z_l), Z_l ~ p(Z): unbiased, relative variance >= exp(KL(p(Z|X)||p(Z))) "
                     "- 1",
     symbols=(X, Z, L_samples), kind="structural",
     latex=r"p_\theta(X) \approx \frac1L\sum_{l=1}^L p_\theta(X\mid Z^{(l)}),\ Z^{(l)}\sim p_\theta(Z)")
slot("vae.is_identity", "p(X) = E_q[p(X|Z) p(Z) / q(Z)] for q covering the support of p(Z|X)",
     reference=sp.Eq(p_X, q_Z * (lik * prior / q_Z), evaluate=False), symbols=DENSITIES, kind="relation",
     latex=r"p_\theta(X) = \mathbb{E}_{q(Z)}\left[\frac{p_\theta(X\mid Z)\,p_\theta(Z)}{q(Z)}\right]")
slot("vae.optimal_proposal", "q(Z) = p(Z|X) makes the importance weight constant (= p(X)): zero variance",
     reference=p_X, symbols=DENSITIES, definitions={"q(Z)": posterior}, kind="expression",
     latex=r"\frac{p_\theta(X\mid Z)\,p_\theta(Z)}{q(Z)} = p_\theta(X)")     # with q(Z) = p_theta(Z | X)
slot("vae.jensen", "log p(X) >= E_q[log p(X, Z) - log q(Z)] =: ELBO",
     reference=sp.Ge(sp.log(p_X), sp.log(lik) + sp.log(prior) - sp.log(q_Z), evaluate=False),
     symbols=DENSITIES, kind="relation",
     latex=r"\log p_\theta(X) \ge \mathbb{E}_{q(Z)}[\log p_\theta(X, Z) - \log q(Z)] =: \mathrm{ELBO}")
slot("vae.elbo_gap", "log p(X) - ELBO = KL(q(Z) || p(Z|X))",
     reference=sp.log(q_Z) - sp.log(posterior), symbols=DENSITIES, kind="expression",
     latex=r"\log p_\theta(X) - \mathrm{ELBO} = \mathrm{KL}(q(Z)\,\|\,p_\theta(Z\mid X))")
slot("vae.grad_lambda", "grad_lambda ELBO = - grad_lambda KL(q_lambda || p(Z|X))",
     symbols=(mu, sigma, lam, theta), functions=(ELBO_F,), kind="structural",
     latex=r"\nabla_\lambda \mathcal{L}(X) = -\nabla_\lambda \mathrm{KL}(q_\lambda(Z)\,\|\,p_\theta(Z\mid X))")
slot("vae.grad_theta", "grad_theta ELBO = E_q[grad_theta log p_theta(X, Z)] ~ (1/L) sum_l grad_theta log p_theta(X, "
                       "Z_l)",
     symbols=(X, Z, theta, L_samples), functions=(ELBO_F,), kind="structural",
     latex=r"\nabla_\theta\mathcal{L}(X) = \mathbb{E}_{q_\lambda(Z)}[\nabla_\theta \log p_\theta(X, Z)]"
           r"\approx \frac1L\sum_{l}\nabla_\theta\log p_\theta(X, Z^{(l)})")
slot("vae.reparam", "Z = mu + sigma * eps, eps ~ N(0, I): the gradient passes through mu and sigma",
     reference=mu + sigma * eps, symbols=(mu, sigma, eps), kind="expression",
     latex=r"Z = \mu + \sigma\odot\epsilon,\ \epsilon\sim\mathcal{N}(0, I)")
slot("vae.dataset", "sum_i log p(X_i) >= sum_i ELBO(X_i); amortised q_phi(Z|X) = N(mu_phi(X), sigma_phi^2(X) I)",
     symbols=(X, Z, N_data), functions=(ELBO_F,), definitions={"I": 1}, kind="structural",
     latex=r"\sum_i \log p_\theta(X^{(i)}) \ge \sum_i \mathcal{L}(X^{(i)})")    # q_phi: in the statement
slot("vae.elbo_decomp", "ELBO = E_q[log p(X|Z)] - KL(q(Z|X) || p(Z))",
     reference=sp.log(lik) - (sp.log(q_Z) - sp.log(prior)), symbols=DENSITIES, kind="expression",
     latex=r"\mathcal{L}(X) = \mathbb{E}_{q_\phi(Z\mid X)}[\log p_\theta(X\mid Z)] - "
           r"\mathrm{KL}(q_\phi(Z\mid X)\,\|\,p_\theta(Z))")
slot("vae.gauss_kl_1d", "KL(N(mu, sigma^2) || N(mu_z, sigma_z^2)) = log(sigma_z/sigma) + (sigma^2 + (mu - "
                        "mu_z)^2)/(2 sigma_z^2) - 1/2",
     reference=GAUSS_KL_1D, symbols=(mu, sigma, mu_z, sigma_z), kind="expression")
slot("vae.gauss_kl_diag", "the 1-D KL summed over the m latent dimensions",
     reference=GAUSS_KL_DIAG, symbols=(mu_i, sigma_i, mu_zi, sigma_zi, m_dim), kind="expression")
slot("vae.gauss_loglik", "log N(X | mu, diag(v)) = -1/2 sum_i [log(2 pi v_i) + (X_i - mu_i)^2 / v_i]",
     reference=GAUSS_LOGLIK, symbols=(X_i, mu_i, v_i, n_dim), kind="expression")


# ---------------------------------------------------------------------------------------------
# derivations
def _marginal_step(fam: LinearGaussianVAE) -> Step:
    return moment_step(lambda: E_exp(sp.exp(fam.loglik), *fam.p_z), "=", sp.exp(fam.log_evidence),
                       "E_{p(Z)}[p(X|Z)] by completing the square equals the lemma's marginal "
                       "N(X | W mu_z + b, sigma_z^2 W W^T + Psi)", family=fam.name, establishes=("vae.marginal", "vae.lg_log_evidence"),
                       cite="seed Q1 step 1(a),(c); lemma.marginal_mean/cov",
                       claim_latex=r"\mathbb{E}_{p_\theta(Z)}[p_\theta(X\mid Z)] = \mathcal{N}(X\mid W\mu_z + b,\ "
                                   r"\sigma_z^2 WW^\top + \Psi)\quad(\text{" + fam.name + "})")


derivation("vae.marginal", "marginal likelihood as an expectation under the prior",
           [_marginal_step(SCALAR), _marginal_step(LATENT2), _marginal_step(LinearGaussianVAE(2, 1))],
           source=SOURCE)

# prior Monte Carlo: unbiased for any L (here L = 2), and its relative variance
_Z1, _Z2 = declare("Z_l1", "Z^{(1)}"), declare("Z_l2", "Z^{(2)}")
_p_X = sp.exp(SCALAR.log_evidence)


def _lik_at(z):
    return sp.exp(SCALAR.loglik.xreplace({Z: z}))


derivation("vae.prior_mc", "prior Monte Carlo estimate of p(X): unbiased, high variance", [
    moment_step(lambda: E_exp((_lik_at(_Z1) + _lik_at(_Z2)) / 2, Normal(_Z1, mu_z, sigma_z**2),
                              Normal(_Z2, mu_z, sigma_z**2)), "=", _p_X,
                "each term has mean E_{p(Z)}[p(X|Z)] = p(X) (vae.marginal): the estimate is unbiased",
                family=SCALAR.name + ", L = 2", establishes=("vae.prior_mc",), cite="seed Q1 step 1(c)",
                claim_latex=r"\mathbb{E}_{Z^{(l)}\sim p(Z)}\Big[\tfrac12\sum_{l=1}^2 p_\theta(X\mid "
                            r"Z^{(l)})\Big] = p_\theta(X)"),
    moment_step(lambda: E_exp(sp.exp(2 * SCALAR.loglik), *SCALAR.p_z) / _p_X**2 - 1, ">=",
                lambda: sp.exp(E_exp(SCALAR.logpost - SCALAR.logprior, *SCALAR.posterior_measure())) - 1,
                "Var_{p(Z)}[p(X|Z)] / p(X)^2 = E_{p(Z|X)}[p(Z|X)/p(Z)] - 1 >= exp(KL(p(Z|X)||p(Z))) - 1 (Jensen): "
                "the relative variance grows exponentially with what X tells about Z. Certificate: the gap is "
                "e^KL (e^G - 1) = e^KL (ExpAboveTangent(G) + G) with G = log of the ratio of the two sides' "
                "first terms = 1/2 ExpAboveTangent(log(2 - v/sigma_z^2)) + (m - mu_z)^2 v / (2 sigma_z^2 "
                "(2 sigma_z^2 - v)) >= 0, (m, v) the posterior's mean and variance",
                family=SCALAR.name, establishes=("vae.prior_mc",), gap=lambda: _prior_mc_gap(SCALAR),
                claim_latex=r"\frac{\mathrm{Var}_{p(Z)}[p_\theta(X\mid Z)]}{p_\theta(X)^2} \ge "
                            r"e^{\mathrm{KL}(p_\theta(Z\mid X)\,\|\,p_\theta(Z))} - 1"),
], source=SOURCE)


def _prior_mc_gap(f: LinearGaussianVAE) -> sp.Expr:
    """The certificate of Var/p(X)^2 >= e^KL - 1 in the scalar family, written so that every
    sign is visible: v = sigma_z^2 psi / (psi + W^2 sigma_z^2) is the posterior variance, so
    2 sigma_z^2 - v = sigma_z^2 (psi + 2 W^2 sigma_z^2) / (psi + W^2 sigma_z^2) > 0."""
    s2, v = sigma_z**2, sigma_z**2 * psi / (psi + W**2 * sigma_z**2)
    shift = s2 * W * (X - b - W * mu_z) / (psi + W**2 * s2)                  # m - mu_z, m the posterior mean
    room = s2 * (psi + 2 * W**2 * s2) / (psi + W**2 * s2)                     # 2 sigma_z^2 - v
    G = ExpAboveTangent(sp.log((psi + 2 * W**2 * s2) / (psi + W**2 * s2))) / 2 + shift**2 * v / (2 * s2 * room)
    kl = GaussianKL.formula(mu_z + shift, sp.sqrt(v), mu_z, sigma_z)           # KL(p(Z|X) || p(Z))
    return sp.exp(kl) * (ExpAboveTangent(G) + G)


def _kl_to_posterior(f: LinearGaussianVAE, mean, std) -> GaussianKL:
    """KL(N(mean, std^2) || p(Z|X)) as a certificate atom (one latent dimension)."""
    return GaussianKL(mean, std, f.post_mean[0], sp.sqrt(f.post_cov[0, 0]))


def _is_identity_step(f: LinearGaussianVAE) -> Step:
    return moment_step(lambda: E_exp(sp.exp(f.log_weight), *f.q), "=", sp.exp(f.log_evidence),
                       "E_q[w] by completing the square, for every Gaussian q", family=f.name,
                       establishes=("vae.is_identity",),
                       claim_latex=r"\mathbb{E}_{q(Z)}\left[\frac{p_\theta(X\mid Z)p_\theta(Z)}{q(Z)}\right] "
                                   r"= p_\theta(X)"
                                   r"\quad(q = \mathcal{N}(\mu, \mathrm{diag}\,\sigma^2))")


derivation("vae.is_identity", "importance-sampling identity", [
    Step(sp.Mul(q_Z, lik * prior / q_Z, evaluate=False), "=", lik * prior,
         "integrand identity wherever q(Z) > 0; q must cover the support of p(Z|X) so nothing is lost",
         establishes=("vae.is_identity",), cite="seed Q1 step 2(a)",
         claim_latex=r"q(Z)\,\frac{p_\theta(X\mid Z)p_\theta(Z)}{q(Z)} = p_\theta(X\mid Z)p_\theta(Z)"),
    _is_identity_step(SCALAR), _is_identity_step(LATENT2),
], source=SOURCE)


def _weight_under_posterior(fam: LinearGaussianVAE) -> list[Step]:
    log_w = fam.loglik + fam.logprior - fam.logpost
    steps = [Step(log_w, "=", fam.log_evidence,
                  "Bayes in the family: log p(X|Z) + log p(Z) - log p(Z|X) does not depend on Z "
                  "(so the lemma's p(Z|X) is the exact posterior)", family=fam.name,
                  establishes=("vae.optimal_proposal",),
                  claim_latex=r"\log p_\theta(X\mid Z) + \log p_\theta(Z) - \log p_\theta(Z\mid X) = \log p_\theta(X)")]
    if fam.m > 1:   # the variance by moments is written out in one dimension only (expression swell)
        return steps
    w = sp.exp(log_w)
    return steps + [
        moment_step(lambda: E_exp(w**2, *fam.posterior_measure()), "=", lambda: E_exp(w, *fam.posterior_measure()) ** 2,
                    "variance of the importance weight under q = p(Z|X), by completing the square", family=fam.name,
                    establishes=("vae.optimal_proposal",),
                    claim_latex=r"\mathbb{E}_{p_\theta(Z\mid X)}[w^2] = \mathbb{E}_{p_\theta(Z\mid X)}[w]^2,\ "
                                r"w = \frac{p_\theta(X\mid Z)p_\theta(Z)}{p_\theta(Z\mid X)}:\ \mathrm{Var}[w] = 0")]


derivation("vae.optimal_proposal", "the posterior is the zero-variance proposal", [
    Step(sp.Mul(lik * prior, sp.Pow(posterior, -1, evaluate=False), evaluate=False), "=", p_X, "Bayes: p(Z|X) = p(X|Z) p(Z) / p(X); the weight is p(X) at every Z",
         establishes=("vae.optimal_proposal",), cite="seed Q1 step 2(b)",
         claim_latex=r"\frac{p_\theta(X\mid Z)p_\theta(Z)}{p_\theta(Z\mid X)} = p_\theta(X)"),
    *_weight_under_posterior(SCALAR), *_weight_under_posterior(LATENT2),
], source=SOURCE)


def _gap_step(f: LinearGaussianVAE) -> Step:
    return moment_step(lambda: f.log_evidence - f.elbo, "=", lambda: f.kl_to_posterior,
                       "closed-form ELBO and KL(q || p(Z|X)) by moments, for every diagonal Gaussian q", family=f.name,
                       establishes=("vae.elbo_gap",),
                       claim_latex=r"\log p_\theta(X) - \mathbb{E}_q[\log p_\theta(X,Z) - \log q(Z)] = "
                                   r"\mathbb{E}_q[\log q(Z) - \log p_\theta(Z\mid X)]")


derivation("vae.elbo_gap", "the gap log p(X) - ELBO is KL(q || p(Z|X))", [
    Step(sp.log(p_X) - (sp.log(lik) + sp.log(prior) - sp.log(q_Z)), "=", sp.log(q_Z) - sp.log(posterior),
         "integrand identity (Bayes); log p(X) = E_q[log p(X)] since q integrates to 1",
         establishes=("vae.elbo_gap",), cite="seed Q1 step 3(d)",
         claim_latex=r"\log p_\theta(X) - \log\frac{p_\theta(X\mid Z)p_\theta(Z)}{q(Z)} = "
                     r"\log\frac{q(Z)}{p_\theta(Z\mid X)}"),
    _gap_step(SCALAR), _gap_step(LATENT2),
], source=SOURCE)

derivation("vae.jensen", "Jensen's inequality: the ELBO is a lower bound", [
    moment_step(lambda: sp.log(E_exp(sp.exp(SCALAR.log_weight), *SCALAR.q)), ">=", lambda: SCALAR.elbo,
                "log is concave: log E_q[w] >= E_q[log w]; both sides in closed form by moments, and the gap "
                "is KL(q || p(Z|X)) >= 0 (the certificate)",
                family=SCALAR.name, establishes=("vae.jensen",), cite="seed Q1 step 3(b)",
                gap=lambda: _kl_to_posterior(SCALAR, mu, sigma),
                claim_latex=r"\log\mathbb{E}_q\left[\frac{p_\theta(X,Z)}{q(Z)}\right] \ge "
                            r"\mathbb{E}_q\left[\log\frac{p_\theta(X,Z)}{q(Z)}\right]"),
    moment_step(lambda: SCALAR.kl_to_posterior, ">=", 0, "KL >= 0 (Gibbs), so log p(X) - ELBO >= 0 (vae.elbo_gap); "
                "the certificate is the KL between the two Gaussians in closed form",
                family=SCALAR.name, establishes=("vae.jensen",), gap=lambda: _kl_to_posterior(SCALAR, mu, sigma),
                claim_latex=r"\mathrm{KL}(q(Z)\,\|\,p_\theta(Z\mid X)) \ge 0"),
], source=SOURCE)

# gradients in the scalar family: lambda = (mu, sigma), theta = (W, b, psi, mu_z, sigma_z)
_lam, _theta = (mu, sigma), (W, b, psi, mu_z, sigma_z)
_logjoint = SCALAR.loglik + SCALAR.logprior


def _grad(f, params) -> sp.Matrix:
    return sp.Matrix([sp.diff(f, p) for p in params])


def _grad_of(f, params) -> sp.Matrix:
    """The gradient unevaluated: the checker differentiates."""
    return sp.Matrix([sp.Derivative(f, p) for p in params])


def _elbo_of(f: LinearGaussianVAE):
    """E_q[log p(X, Z) - log q(Z)] unevaluated."""
    return expect(f.log_weight, *f.q)


derivation("vae.grad_lambda", "maximising the ELBO over lambda minimises KL(q || p(Z|X))", [
    Step(_grad_of(SCALAR.log_evidence, _lam), "=", sp.zeros(2, 1), "log p(X) does not depend on lambda",
         family=SCALAR.name, establishes=("vae.grad_lambda",), cite="seed Q1 step 4(a)", check=worked,
         claim_latex=r"\nabla_\lambda \log p_\theta(X) = 0"),
    moment_step(lambda: _grad(SCALAR.elbo, _lam), "=", lambda: -_grad(SCALAR.kl_to_posterior, _lam),
                "differentiate log p(X) = ELBO + KL (vae.elbo_gap) in closed form", family=SCALAR.name,
                establishes=("vae.grad_lambda",),
                claim_latex=r"\nabla_{(\mu,\sigma)}\mathcal{L} = -\nabla_{(\mu,\sigma)}\mathrm{KL}(q_\lambda\,\|\,"
                            r"p_\theta(Z\mid X))"),
], source=SOURCE)

_two_draws = (Normal(_Z1, mu, sigma**2), Normal(_Z2, mu, sigma**2))
derivation("vae.grad_theta", "the theta-gradient moves inside the expectation", [
    moment_step(lambda: _grad_of(_elbo_of(SCALAR), _theta), "=",
                lambda: sp.Matrix([expect(sp.Derivative(_logjoint, t), *SCALAR.q) for t in _theta]),
                "q does not depend on theta, so differentiation and E_q commute", family=SCALAR.name,
                establishes=("vae.grad_theta",), cite="seed Q1 step 4(b)",
                claim_latex=r"\nabla_\theta \mathbb{E}_q[\log p_\theta(X,Z) - \log q(Z)] = "
                            r"\mathbb{E}_q[\nabla_\theta\log p_\theta(X,Z)]"),
    moment_step(lambda: sp.Matrix([E_exp(sum(sp.diff(_logjoint, t).xreplace({Z: z}) for z in (_Z1, _Z2)) / 2,
                                         *_two_draws) for t in _theta]), "=", lambda: _grad_of(_elbo_of(SCALAR), _theta),
                "the L-sample average of grad_theta log p(X, Z_l), Z_l ~ q, is unbiased (L = 2)",
                family=SCALAR.name + ", L = 2", establishes=("vae.grad_theta",),
                claim_latex=r"\mathbb{E}\Big[\tfrac1L\sum_{l=1}^{L}\nabla_\theta\log p_\theta(X, Z^{(l)})\Big] = "
                            r"\nabla_\theta\mathcal{L}(X)\quad(L=2)"),
], source=SOURCE)

_pathwise = SCALAR.log_weight.xreplace({Z: mu + sigma * eps})
_std = Normal(eps, 0, 1)
derivation("vae.reparam", "reparameterisation: Z = mu + sigma eps", [
    moment_step(lambda: expect(_pathwise, _std), "=", lambda: _elbo_of(SCALAR),
                "Z = mu + sigma eps has law q when eps ~ N(0, 1)",
                family=SCALAR.name, establishes=("vae.reparam",), cite="seed Q1 step 4(c)",
                claim_latex=r"\mathbb{E}_{\epsilon}[f(\mu + \sigma\epsilon)] = \mathbb{E}_{q}[f(Z)]"),
    moment_step(lambda: sp.Matrix([expect(sp.Derivative(_pathwise, p), _std) for p in _lam]), "=",
                lambda: _grad_of(_elbo_of(SCALAR), _lam),
                "pathwise gradient: eps does not depend on lambda, so grad_lambda moves inside E_eps",
                family=SCALAR.name, establishes=("vae.reparam",),
                claim_latex=r"\nabla_\lambda \mathcal{L} = \mathbb{E}_\epsilon[\nabla_\lambda "
                            r"(\log p_\theta(X, \mu + \sigma\epsilon) - \log q_\lambda(\mu+\sigma\epsilon))]"),
    moment_step(lambda: sp.Matrix([expect(sp.Derivative(SCALAR.logq, p), *SCALAR.q) for p in _lam]), "=",
                sp.zeros(2, 1),
                "the score has mean zero", family=SCALAR.name, establishes=("vae.reparam",),
                claim_latex=r"\mathbb{E}_q[\nabla_\lambda \log q_\lambda(Z)] = 0"),
    moment_step(lambda: sp.Matrix([expect(SCALAR.log_weight * sp.Derivative(SCALAR.logq, p), *SCALAR.q)
                                   for p in _lam]),
                "=", lambda: _grad_of(_elbo_of(SCALAR), _lam),
                "score-function (REINFORCE) estimator: unbiased too, without reparameterising",
                family=SCALAR.name, establishes=("vae.reparam",),
                claim_latex=r"\nabla_\lambda \mathcal{L} = \mathbb{E}_q[(\log p_\theta(X,Z) - \log q_\lambda(Z))"
                            r"\nabla_\lambda\log q_\lambda(Z)]"),
], source=SOURCE)

# amortised encoder over a data set of two points: q_phi(Z|X) = N(a X + c, exp(2 (d X + e)))
_a, _c, _d, _e = (declare(f"{s}_phi", rf"{s}_\phi") for s in "acde")
_Xs = (declare("X_i1", "X^{(1)}"), declare("X_i2", "X^{(2)}"))


def _amortised(what: str) -> sp.Expr:
    """Sum over the data set of log p(X_i), ELBO_phi(X_i) or KL(q_phi(Z|X_i) || p(Z|X_i))."""
    value = {"log_evidence": SCALAR.log_evidence, "elbo": SCALAR.elbo, "kl": SCALAR.kl_to_posterior}[what]
    return sum(value.xreplace({X: x, mu: _a * x + _c, sigma: sp.exp(_d * x + _e)}) for x in _Xs)


def _amortised_gap() -> sp.Expr:
    """Sum over the data set of KL(q_phi(Z|X_i) || p(Z|X_i)), as certificate atoms."""
    return sum(GaussianKL(_a * x + _c, sp.exp(_d * x + _e), SCALAR.post_mean[0].xreplace({X: x}),
                          sp.sqrt(SCALAR.post_cov[0, 0]).xreplace({X: x})) for x in _Xs)


_DATASET = SCALAR.name + ", N = 2, linear encoder"
derivation("vae.dataset", "the bound for a data set, with an amortised encoder", [
    moment_step(lambda: _amortised("log_evidence") - _amortised("elbo"), "=", lambda: _amortised("kl"),
                "sum the per-point gap identity; the encoder mu_phi(X) = a X + c, sigma_phi(X) = exp(d X + "
                "e) is shared",
                family=_DATASET, establishes=("vae.dataset",), cite="seed Q1 step 5",
                claim_latex=r"\sum_i \log p_\theta(X^{(i)}) - \sum_i\mathcal{L}_\phi(X^{(i)}) = "
                            r"\sum_i \mathrm{KL}(q_\phi(Z\mid X^{(i)})\,\|\,p_\theta(Z\mid X^{(i)}))"),
    moment_step(lambda: _amortised("log_evidence"), ">=", lambda: _amortised("elbo"),
                "each KL >= 0: the gap is the sum of KL(q_phi(Z|X_i) || p(Z|X_i)), the certificate",
                family=_DATASET, establishes=("vae.dataset",), gap=lambda: _amortised_gap(),
                claim_latex=r"\sum_i \log p_\theta(X^{(i)}) \ge \sum_i \mathcal{L}_\phi(X^{(i)})"),
], source=SOURCE)

derivation("vae.elbo_decomp", "ELBO = reconstruction - KL to the prior", [
    Step(sp.log(lik * prior / q_Z), "=", sp.log(lik) - (sp.log(q_Z) - sp.log(prior)),
         "log of a product is the sum of logs; E_q[log q - log p(Z)] is KL(q || p(Z))",
         establishes=("vae.elbo_decomp",), cite="seed Q1 step 6(a)",
         claim_latex=r"\log\frac{p_\theta(X\mid Z)p_\theta(Z)}{q(Z)} = \log p_\theta(X\mid Z) - "
                     r"\log\frac{q(Z)}{p_\theta(Z)}"),
    moment_step(lambda: SCALAR.elbo, "=", lambda: E_exp(SCALAR.loglik, *SCALAR.q) - GAUSS_KL_1D,
                "closed forms: the KL term is vae.gauss_kl_1d", family=SCALAR.name, establishes=("vae.elbo_decomp",),
                claim_latex=r"\mathcal{L} = \mathbb{E}_q[\log p_\theta(X\mid Z)] - "
                            r"\mathrm{KL}(\mathcal{N}(\mu,\sigma^2)"
                            r"\,\|\,\mathcal{N}(\mu_z,\sigma_z^2))"),
    moment_step(lambda: LATENT2.elbo, "=", lambda: E_exp(LATENT2.loglik, *LATENT2.q) - sum(
                    gauss_kl_1d(m_, s_, mz, sigma_z) for m_, s_, mz in zip(LATENT2.mu, LATENT2.sigma, LATENT2.mu_z)),
                "closed forms: the KL term is vae.gauss_kl_diag", family=LATENT2.name, establishes=("vae.elbo_decomp",),
                claim_latex=r"\mathcal{L} = \mathbb{E}_q[\log p_\theta(X\mid Z)] - \sum_{j=1}^{2}\mathrm{KL}_j"),
], source=SOURCE)

derivation("vae.gauss_kl_1d", "KL between 1-D Gaussians, by moments", [
    moment_step(lambda: E_exp(log_normal(Z, mu, sigma**2) - log_normal(Z, mu_z, sigma_z**2), Normal(Z, mu, sigma**2)),
                "=", GAUSS_KL_1D, "E_q[log q - log p]: only E[Z] and E[Z^2] under q are needed",
                establishes=("vae.gauss_kl_1d",), cite="seed Q1 step 6(a)",
                claim_latex=r"\mathbb{E}_{\mathcal{N}(\mu,\sigma^2)}[\log\mathcal{N}(Z\mid\mu,\sigma^2) - "
                            r"\log\mathcal{N}(Z\mid\mu_z,\sigma_z^2)] = " + latex(GAUSS_KL_1D)),
], source=SOURCE)

_Zs = [declare(f"Z_{k}", f"Z_{k}") for k in (1, 2, 3)]


def _diag_kl_by_moments() -> sp.Expr:
    means, variances = [mu_i[k] for k in (1, 2, 3)], [sigma_i[k] ** 2 for k in (1, 2, 3)]
    prior_means, prior_vars = [mu_zi[k] for k in (1, 2, 3)], [sigma_zi[k] ** 2 for k in (1, 2, 3)]
    integrand = log_normal_diag(_Zs, means, variances) - log_normal_diag(_Zs, prior_means, prior_vars)
    return E_exp(integrand, *diagonal(_Zs, means, variances))


derivation("vae.gauss_kl_diag", "KL between diagonal Gaussians is a sum over coordinates", [
    moment_step(_diag_kl_by_moments, "=", GAUSS_KL_DIAG.subs(m_dim, 3).doit(),
                "log q - log p is a sum over coordinates and each term depends on one coordinate only",
                family="m = 3", establishes=("vae.gauss_kl_diag",),
                claim_latex=r"\mathbb{E}_q[\log q(Z) - \log p(Z)] = "
                            r"\sum_{j=1}^{3}\mathrm{KL}(\mathcal{N}(\mu_j,\sigma_j^2)"
                            r"\,\|\,\mathcal{N}(\mu_{z,j},\sigma_{z,j}^2))"),
], source=SOURCE)

_r = sp.Matrix([X_i[k] - mu_i[k] for k in (1, 2, 3)])
_V = sp.Matrix(3, 3, lambda r, c: v_i[r + 1] if r == c else 0)
_density = (2 * sp.pi) ** sp.Rational(-3, 2) / sp.sqrt(_V.det()) * sp.exp(-(_r.T * _V.inv() * _r)[0, 0] / 2)
derivation("vae.gauss_loglik", "log-density of a diagonal Gaussian", [
    Step(sp.log(_density), "=", GAUSS_LOGLIK.subs(n_dim, 3).doit(),
         "log of (2 pi)^{-n/2} det(V)^{-1/2} exp(-r^T V^{-1} r / 2) with V = diag(v)",
         family="n = 3", establishes=("vae.gauss_loglik",),
         claim_latex=r"\log\mathcal{N}(X\mid\mu,\mathrm{diag}(v)) = -\tfrac12\sum_{i=1}^{3}"
                     r"\left[\log(2\pi v_i) + \frac{(X_i-\mu_i)^2}{v_i}\right]"),
], source=SOURCE)
