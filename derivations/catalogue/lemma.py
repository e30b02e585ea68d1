"""Q5's Gaussian lemma: the marginal and posterior of a linear-Gaussian model.

Source: Bishop, PRML, eqs. (2.113)-(2.117); the seed's Q5 (``../shared/seed``).

    p(x) = N(x | mu, Lambda^{-1}),   p(y | x) = N(y | A x + b, L^{-1})
    p(y) = N(y | A mu + b, L^{-1} + A Lambda^{-1} A^T)                       (2.115)
    p(x | y) = N(x | Sigma {A^T L (y - b) + Lambda mu}, Sigma),
    Sigma = (Lambda + A^T L A)^{-1}                                          (2.116)-(2.117)

Notation key: ``Lam`` is Lambda (prior precision), ``L`` the noise precision, ``Sigma`` the
posterior covariance. The references are stated once, in matrix symbols of any size n; the
proofs complete the square in the joint quadratic form in the concrete families n = 1 and
n = 2 with symbolic entries (SymPy cannot manipulate the quadratic form of a general
``MatrixSymbol``), and an exact rational check with random 3 x 3 matrices backs n = 3.
"""
from __future__ import annotations

import functools
import random

import sympy as sp

from ..symbols import as_expr

from ..evidence import Evidence, Kind, Status
from ..registry import derivation, slot
from ..step import Step

n = sp.Symbol("n", integer=True, positive=True)
A = sp.MatrixSymbol("A", n, n)
Lam = sp.MatrixSymbol("Lambda", n, n)
L = sp.MatrixSymbol("L", n, n)
mu = sp.MatrixSymbol("mu", n, 1)
b = sp.MatrixSymbol("b", n, 1)
y = sp.MatrixSymbol("y", n, 1)

# The references (the only place these formulas are written).
Sigma = (Lam + A.T * L * A).I
MARGINAL_MEAN = A * mu + b
MARGINAL_COV = L.I + A * Lam.I * A.T
POSTERIOR_COV = Sigma
POSTERIOR_MEAN = Sigma * (A.T * L * (y - b) + Lam * mu)

MATRICES = dict(A="any", Lambda="spd", L="spd", mu="vector", b="vector", y="vector")
_COMMON = dict(symbols=(A, Lam, L, mu, b, y), kind="matrix", question="q5", matrix_kinds=MATRICES,
               conditions=("Lambda and L symmetric positive definite",), definitions={"Sigma": Sigma})

slot("lemma.marginal_mean", "mean of p(y): A mu + b", reference=MARGINAL_MEAN, **_COMMON)
slot("lemma.marginal_cov", "covariance of p(y): L^{-1} + A Lambda^{-1} A^T", reference=MARGINAL_COV, **_COMMON)
slot("lemma.posterior_cov", "covariance of p(x|y): (Lambda + A^T L A)^{-1}", reference=POSTERIOR_COV, **_COMMON)
slot("lemma.posterior_mean", "mean of p(x|y): Sigma (A^T L (y - b) + Lambda mu)",
     reference=POSTERIOR_MEAN, **_COMMON)


def family(d: int) -> dict:
    """Explicit d x d matrices with symbolic entries; Lambda and L symmetric."""
    def sym_matrix(name):
        entries = {}
        for i in range(d):
            for j in range(i, d):
                entries[i, j] = entries[j, i] = sp.Symbol(f"{name}{i + 1}{j + 1}", real=True)
        return sp.Matrix(d, d, lambda i, j: entries[i, j])

    return {A: sp.Matrix(d, d, lambda i, j: sp.Symbol(f"a{i + 1}{j + 1}", real=True)),
            Lam: sym_matrix("lam"), L: sym_matrix("l"),
            mu: sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"mu{i + 1}", real=True)),
            b: sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"b{i + 1}", real=True)),
            y: sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"y{i + 1}", real=True)), n: d}


def explicit(expr, fam: dict) -> sp.Matrix:
    """The matrix expression ``expr`` in the family ``fam``; inverses as adj(M)/det(M), which
    keeps every entry a ratio of polynomials that ``cancel`` handles quickly."""
    if isinstance(expr, sp.MatrixSymbol):
        return fam[expr]
    if isinstance(expr, sp.Inverse):
        M = explicit(expr.arg, fam)
        return M.adjugate() / M.det()
    if isinstance(expr, sp.Transpose):
        return explicit(expr.arg, fam).T
    if isinstance(expr, sp.MatMul):
        out = sp.eye(fam[n]) if not expr.args else None
        for arg in expr.args:
            term = explicit(arg, fam) if isinstance(arg, sp.MatrixExpr) else arg
            out = term if out is None else out * term
        return out
    if isinstance(expr, sp.MatAdd):
        return sum((explicit(arg, fam) for arg in expr.args[1:]), explicit(expr.args[0], fam))
    raise TypeError(f"cannot make {type(expr).__name__} explicit")


def _quad(v, M, w=None):
    w = v if w is None else w
    return (v.T * M * w)[0, 0]


def _cancelled(M: sp.Matrix) -> sp.Matrix:
    return M.applyfunc(lambda e: sp.cancel(sp.together(e)))


def _product(M: sp.Matrix, N: sp.Matrix) -> sp.MatMul:
    """M N, not multiplied out (for 1 x 1 matrices SymPy would cancel it on the spot)."""
    return sp.MatMul(sp.ImmutableMatrix(M), sp.ImmutableMatrix(N), evaluate=False)


def _completing_the_square(d: int) -> list[Step]:
    """-2 log p(x, y) + const = Q(x, y) = (x - mu)^T Lambda (x - mu) + (y - Ax - b)^T L (y - Ax - b).

    Q is quadratic in x; completing the square gives the posterior (2.116)-(2.117), and the
    minimum over x, R(y) = Q(m(y), y), is the marginal's quadratic form (2.115).
    """
    fam = family(d)
    x = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"x{i + 1}", real=True))
    Af, Lamf, Lf, muf, bf, yf = (fam[k] for k in (A, Lam, L, mu, b, y))
    Q = _quad(x - muf, Lamf) + _quad(yf - Af * x - bf, Lf)

    # Each side below is built as the raw product or substitution (adjugates over determinants,
    # not cancelled): the checker, not the catalogue, shows that it reduces to I or 0.
    def grad_x_at_posterior_mean():
        m = explicit(POSTERIOR_MEAN, fam)
        return sp.Matrix([sp.diff(Q, xi) for xi in x]).subs(dict(zip(x, m)))

    def half_hessian_x_times_cov():
        return _product(sp.hessian(Q, list(x)) / 2, explicit(POSTERIOR_COV, fam))

    @functools.cache
    def grad_y_remainder():
        """grad_y R(y) = (dQ/dy)(m(y), y): the envelope theorem, since dQ/dx = 0 at x = m(y) (the step above)."""
        dQ_dy = sp.Matrix([sp.diff(Q, yi) for yi in yf])
        return dQ_dy.subs(dict(zip(x, explicit(POSTERIOR_MEAN, fam))))

    def grad_y_remainder_at_marginal_mean():
        return grad_y_remainder().subs(dict(zip(yf, explicit(MARGINAL_MEAN, fam))))

    def half_hessian_y_remainder_times_cov():
        hess = grad_y_remainder().jacobian(list(yf)) / 2
        return _product(_cancelled(hess), explicit(MARGINAL_COV, fam))

    fam_name = f"n = {d}, symbolic entries"
    return [
        Step(half_hessian_x_times_cov, "=", sp.eye(d),
             "the x-quadratic part of Q is x^T (Lambda + A^T L A) x, so the posterior precision is "
             "Lambda + A^T L A and its inverse Sigma the posterior covariance",
             establishes=("lemma.posterior_cov",), family=fam_name, cite="PRML (2.116)",
             claim_latex=r"\tfrac12 \nabla_x^2 Q \cdot (\Lambda + A^\top L A)^{-1} = I"),
        Step(grad_x_at_posterior_mean, "=", sp.zeros(d, 1),
             "Q is stationary in x at m = Sigma (A^T L (y - b) + Lambda mu): completing the square, "
             "m is the posterior mean",
             establishes=("lemma.posterior_mean",), family=fam_name, cite="PRML (2.117)",
             claim_latex=r"\nabla_x Q\big|_{x = \Sigma\{A^\top L (y - b) + \Lambda\mu\}} = 0"),
        Step(grad_y_remainder_at_marginal_mean, "=", sp.zeros(d, 1),
             "the remainder R(y) = min_x Q is stationary at y = A mu + b: the marginal mean "
             "(grad_y R = dQ/dy at x = m(y), by the envelope theorem)",
             establishes=("lemma.marginal_mean",), family=fam_name, cite="PRML (2.115)",
             claim_latex=r"\nabla_y R(y)\big|_{y = A\mu + b} = 0,\quad R(y) = \min_x Q(x, y)"),
        Step(half_hessian_y_remainder_times_cov, "=", sp.eye(d),
             "R's y-quadratic part is the Schur complement L - L A Sigma A^T L, the inverse of "
             "L^{-1} + A Lambda^{-1} A^T (Woodbury): the marginal covariance",
             establishes=("lemma.marginal_cov",), family=fam_name, cite="PRML (2.115)",
             claim_latex=r"\tfrac12 \nabla_y^2 R \cdot (L^{-1} + A\Lambda^{-1}A^\top) = I"),
    ]


def _random_spd(d: int, rng: random.Random) -> sp.Matrix:
    M = sp.Matrix(d, d, lambda i, j: sp.Rational(rng.randint(-9, 9), 4))
    return M * M.T + sp.eye(d)


x_vec = sp.MatrixSymbol("x", n, 1)
JOINT_FORM = (x_vec - mu).T * Lam * (x_vec - mu) + (y - A * x_vec - b).T * L * (y - A * x_vec - b)


def bayes_form(marginal_mean=MARGINAL_MEAN, marginal_cov=MARGINAL_COV, posterior_mean=POSTERIOR_MEAN,
               posterior_cov=POSTERIOR_COV):
    """(x - m)^T Sigma^{-1} (x - m) + (y - mean)^T C^{-1} (y - mean): the posterior's quadratic form
    plus the marginal's, from the lemma's references (or others, to test the check)."""
    return ((x_vec - posterior_mean).T * posterior_cov.I * (x_vec - posterior_mean)
            + (y - marginal_mean).T * marginal_cov.I * (y - marginal_mean))


def _value(side, vals: dict):
    """A side (a 1 x 1 matrix expression or a number) at explicit matrices, exactly."""
    if isinstance(side, sp.MatrixExpr):
        return explicit(side, vals)[0, 0]
    return as_expr(side).xreplace({k: v for k, v in vals.items() if not isinstance(k, sp.MatrixSymbol)})


def _exact_rational_check(d: int = 3, trials: int = 20, seed: int = 3):
    """Checker: the step's two sides (quadratic forms in x and y) are equal, exactly, at random
    rational d x d models and random x and y. Bayes' rule p(x) p(y|x) = p(x|y) p(y) makes
    -2 log of both sides equal; their quadratic forms agree with no constant (both vanish at
    x = mu, y = A mu + b), and a wrong covariance or mean anywhere shows at some (x, y)."""
    def check(step: Step) -> Evidence:
        lhs, rhs = step.sides()
        rng = random.Random(seed)
        for trial in range(trials):
            vals = {A: sp.Matrix(d, d, lambda i, j: sp.Rational(rng.randint(-9, 9), 5)),
                    Lam: _random_spd(d, rng), L: _random_spd(d, rng),
                    mu: sp.Matrix(d, 1, lambda *_: sp.Rational(rng.randint(-9, 9), 3)),
                    b: sp.Matrix(d, 1, lambda *_: sp.Rational(rng.randint(-9, 9), 3)), n: d}
            for _ in range(3):
                vals[y] = sp.Matrix(d, 1, lambda *_: sp.Rational(rng.randint(-9, 9), 3))
                vals[x_vec] = sp.Matrix(d, 1, lambda *_: sp.Rational(rng.randint(-9, 9), 2))
                a, c = _value(lhs, vals), _value(rhs, vals)
                if not (a.is_Rational and c.is_Rational):
                    return Evidence(Status.UNCHECKED, Kind.NONE, "a side is not a rational number at a rational "
                                    "model: the check compares quadratic forms")
                if a != c:
                    example = {"trial": trial, "lhs": float(a), "rhs": float(c),
                               "x": [str(v) for v in vals[x_vec]], "y": [str(v) for v in vals[y]]}
                    return Evidence(Status.REFUTED, Kind.EXACT_NUMERIC,
                                    f"the two sides differ at a random rational {d}x{d} model (trial {trial})",
                                    counterexample=example)
        return Evidence(Status.PROVED, Kind.EXACT_NUMERIC,
                        f"exact in rational arithmetic for {trials} random {d}x{d} models "
                        f"(3 values of (x, y) each)", extra={"points": trials * 3})
    return check


derivation(
    "lemma.linear_gaussian", "Gaussian lemma: marginal and posterior of a linear-Gaussian model",
    [*_completing_the_square(1), *_completing_the_square(2),
     Step(JOINT_FORM, "=", bayes_form(),
          "Bayes: -2 log p(x) p(y|x) and -2 log p(x|y) p(y) have the same quadratic form in (x, y) "
          "(the normalisers agree by det Sigma det C = det Lambda^{-1} det L^{-1}); for n = 3, checked "
          "exactly at random rational matrices and points",
          establishes=("lemma.posterior_mean", "lemma.posterior_cov", "lemma.marginal_mean",
                       "lemma.marginal_cov"),
          check=_exact_rational_check(),
          claim_latex=r"(x-\mu)^\top\Lambda(x-\mu) + (y-Ax-b)^\top L(y-Ax-b) = (x-m)^\top\Sigma^{-1}(x-m) + "
                      r"(y-A\mu-b)^\top C^{-1}(y-A\mu-b)\quad(n=3;\ m,\ \Sigma,\ C = L^{-1} + A\Lambda^{-1}A^\top"
                      r"\text{ as above})")],
    source="PRML (2.113)-(2.117); seed Q5",
)


def scalar(expr, **values) -> sp.Expr:
    """A reference of the lemma in dimension 1: ``scalar(MARGINAL_COV, A=a, Lambda=1/v, L=1/s2)``.

    Returned as SymPy builds it (no simplification), so a step that uses it leaves the algebra
    to the checker."""
    by_name = {A: "A", Lam: "Lambda", L: "L", mu: "mu", b: "b", y: "y"}
    fam = {m: sp.Matrix([[as_expr(values.get(name, 0))]]) for m, name in by_name.items()}
    fam[n] = 1
    return explicit(expr, fam)[0, 0]
