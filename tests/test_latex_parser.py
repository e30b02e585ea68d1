"""The LaTeX reader: each notation students use must parse to the *right* expression (not merely
parse), and every construct it does not know must be refused by name, never kept as a prefix."""
from __future__ import annotations

import pytest
import sympy as sp

from derivations import symbols as symtab
from derivations.latex import (DimensionError, LatexError, LimitError, UnknownName, build, parse,
                               parse_expression, parse_loss)
from derivations.latex.objects import KL, Density, Expectation

abar = symtab.declare("abar_t", r"\bar\alpha_t", 0, 1)
abar_prev = symtab.declare("abar_prev", r"\bar\alpha_{t-1}", 0, 1)
sigma = symtab.declare("sigma_t", r"\sigma_t", 0, sp.oo)
t = symtab.declare("t", "t", 0, sp.oo)
x_t = symtab.declare("x_t", "x_t")
x_tilde = symtab.declare("x_tilde", r"\tilde{x}", aliases=(r"\widetilde{x}",))
eps = symtab.declare("epsilon", r"\epsilon")
gamma = sp.Symbol("gamma_t", positive=True)
eps_theta, p_d, p_g = sp.Function("epsilon_theta"), sp.Function("p_d"), sp.Function("p_g")
x = sp.Symbol("x", real=True)

SCOPE = build((abar, abar_prev, sigma, t, x_t, x_tilde, eps, x), (eps_theta, p_d, p_g),
              {"gamma_t": (sp.sqrt(abar_prev) - sp.sqrt(abar)) ** 2})
G = SCOPE.names[next(k for k in SCOPE.names if k.base == "\\gamma")]


def read(latex):
    return parse_expression(latex, SCOPE)


SAME = [
    (r"\frac{\gamma_t}{2\sigma_t^2 \bar\alpha_t}", G / (2 * sigma**2 * abar)),
    (r"\dfrac{\gamma_t (1-\bar\alpha_t)}{2 \sigma_t^2\bar\alpha_t}", G * (1 - abar) / (2 * sigma**2 * abar)),
    (r"\gamma_t(1-\bar\alpha_t)", G * (1 - abar)),                  # a product: gamma_t is no function
    (r"\epsilon_\theta(x_t)", eps_theta(x_t)),                       # a call: epsilon_theta is one
    (r"\epsilon_{\theta}\left(x_{t}\right)^2", eps_theta(x_t) ** 2),
    (r"\bar\alpha_{t-1}", abar_prev), (r"\bar{\alpha}_{t - 1}", abar_prev),
    (r"\overline{\alpha}_{t-1}", abar_prev), (r"\bar{\alpha_{t-1}}", abar_prev),
    (r"\overline\alpha_t", abar), (r"\tilde x", x_tilde), (r"\widetilde{x}", x_tilde),
    (r"\varepsilon", eps), (r"\frac12 t", t / 2), (r"\tfrac{1}{2}t", t / 2), (r"\frac 1 2", sp.S.Half),
    (r"t^{1/2}", sp.sqrt(t)), (r"\sqrt{t}", sp.sqrt(t)), (r"\sqrt t", sp.sqrt(t)), (r"\sqrt[3]{t}", t ** sp.Rational(1, 3)),
    (r"\ln(1+t)", sp.log(1 + t)), (r"\log t", sp.log(t)), (r"e^{-t}", sp.exp(-t)), (r"\exp(-t)", sp.exp(-t)),
    (r"\exp\left(-t\right)", sp.exp(-t)), (r"2\pi t", 2 * sp.pi * t), (r"2 \cdot t \times 3", 6 * t),
    (r"t\log t - (t+1)\log(t+1)", t * sp.log(t) - (t + 1) * sp.log(t + 1)),
    (r"\log 2\pi t", sp.log(2 * sp.pi * t)),                          # \log takes the product
    (r"\log(t)(t+1)", sp.log(t) * (t + 1)),                          # ... but only the bracket
    (r"-\min\{t,1\}", -sp.Min(t, 1)), (r"\max(0, 1-t)", sp.Max(0, 1 - t)),
    (r"\operatorname{sign}(t-1)", sp.sign(t - 1)), (r"\mathrm{sgn}(t-1)", sp.sign(t - 1)),
    (r"|t - 1|", sp.Abs(t - 1)), (r"\left|t-1\right|", sp.Abs(t - 1)), (r"\|x_t\|^2", x_t**2),
    (r"||x_t||^2", x_t**2), (r"0.5t", t / 2), (r"f(t) = \frac{-4t}{1+t}", -4 * t / (1 + t)),
    (r"\frac{-4 t}{t + 1}", -4 * t / (t + 1)), (r"\left(\sqrt{\bar\alpha_{t-1}}\right)^{2}", abar_prev),
    (r"\frac{1}{2}\,|p_d(x) - p_g(x)|", sp.Abs(p_d(x) - p_g(x)) / 2),
    (r"$t$", t), (r"t\!\;\,\quad + 1", t + 1), (r"t \big( 1 \Big)", t),
]


@pytest.mark.parametrize("latex, expected", SAME)
def test_parses_to_the_right_expression(latex, expected):
    assert sp.simplify(read(latex) - expected) == 0


def test_integrals_sums_and_probability_objects():
    e = read(r"\frac12\int\frac{4p_d(x)p_g(x)}{p_d(x)+p_g(x)}\,dx")
    assert isinstance(e.args[-1], sp.Integral) or e.has(sp.Integral)
    assert e.atoms(sp.Integral).pop().limits[0][0].name == "x"
    j_sum = parse_expression(r"\sum_{j=1}^{m} \sigma_j^2", build((sp.Symbol("m", integer=True),),
                                                                   extra=(sp.IndexedBase("sigma"),)))
    assert isinstance(j_sum, sp.Sum)
    X, Z = sp.symbols("X Z", real=True)
    q, pz, pxz = Density.make("q", [Z], [X]), Density.make("p", [Z]), Density.make("p", [X], [Z])
    scope = build(reference=Expectation.make(sp.log(pxz), [q]) - KL(q, pz))
    a = parse_expression(r"\mathbb{E}_{q(Z|X)}[\log p(X|Z)] - \mathrm{KL}(q(Z|X)\|p(Z))", scope)
    b = parse_expression(r"E_{Z\sim q(Z\mid X)}\left[\log p(X|Z)\right] - D_{KL}(q(Z|X) || p(Z))", scope)
    assert a == b == Expectation.make(sp.log(pxz), [q]) - KL(q, pz)
    assert parse_expression(r"\mathrm{KL}(p(Z)\|q(Z|X))", scope) == KL(pz, q)    # order is kept


def test_equation_grades_right_side_and_keeps_chain():
    chain = parse(r"\gamma_t = (\sqrt{\bar\alpha_{t-1}} - \sqrt{\bar\alpha_t})^2 \ge 0", SCOPE)
    assert chain.relations == ["=", ">="]
    assert chain.members[1] == (sp.sqrt(abar_prev) - sp.sqrt(abar)) ** 2


def test_loss_parser_for_fdiv():
    a = sp.Symbol("alpha", real=True)
    assert parse_loss(r"\log(1+e^{-\alpha})", a) == sp.log(1 + sp.exp(-a))
    assert parse_loss(r"\ell(\alpha) = (1-\alpha)^2", a) == (1 - a) ** 2
    assert parse_loss(r"\mathbb{1}[\alpha \le 0]", a) == sp.Piecewise((1, a <= 0), (0, True))
    assert parse_loss(r"\max(0, 1 - \alpha)", a) == sp.Max(0, 1 - a)


@pytest.mark.parametrize("latex, fragment", [
    (r"y + 1", "unknown symbol y"),
    (r"\zeta(t)", r"\zeta"),                 # an unknown Greek name (\sin and the like are read)
    (r"g(t)", "unknown function g"),
    (r"\frac{1}{2}(1-", "never closed"),
    (r"\frac12\sum", "ends too early"),
    (r"t + ", "ends too early"),
    (r"\input{/etc/passwd}", r"\input"),
    (r"\write18{rm -rf /}", r"\write"),
    (r"\def\a{\a}\a", r"\def"),
    (r"__import__('os').system('ls')", "unexpected"),
    (r"t^12", "reads as ^1"),
    (r"\text{the answer is two}", "prose"),
    ("", "empty"),
    (r"\frac{1}{0}", "divides by zero"),
    (r"t \approx 1", r"\approx"),
    ("t\x00", "control character"),
    (r"(t+1", "never closed"),
    (r"|t", "never closed"),
])
def test_refuses_by_name(latex, fragment):
    with pytest.raises(LatexError) as info:
        read(latex)
    assert fragment in str(info.value)


def test_limits_come_before_parsing():
    with pytest.raises(LimitError):
        read("t" * 1_000_000)
    with pytest.raises(LimitError):
        read("(" * 5000 + "t" + ")" * 5000)
    with pytest.raises(LimitError):
        read(r"10^{10^{10^{10}}}")
    with pytest.raises(LimitError):
        read(r"t^{99999999}")


def test_unicode_is_normalised():
    assert read("t\u200b+\u200d1") == t + 1                   # zero-width characters vanish
    assert read("\uff12t") == 2 * t                             # fullwidth digit
    assert read("\u06f2t") == 2 * t                             # Persian digit
    assert read("\u0662t") == 2 * t                             # Arabic-Indic digit
    assert read("t \u2212 1") == t - 1                          # Unicode minus
    assert read("\u03b5") == eps                                # ε typed directly
    with pytest.raises(UnknownName):                            # Cyrillic с is a Latin c: unknown here
        read("\u0441")


def test_matrix_reading_keeps_order_and_shapes():
    n = sp.Symbol("n", integer=True, positive=True)
    A, Lam, mu = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("Lambda", n, n), sp.MatrixSymbol("mu", n, 1)
    scope = build((A, Lam, mu), matrix=True)
    e = parse_expression(r"A\Lambda^{-1}A^\top", scope)
    assert e == A * Lam.I * A.T
    assert parse_expression(r"A^T", scope) == A.T and parse_expression(r"A^{\top}", scope) == A.T
    with pytest.raises(DimensionError):
        parse_expression(r"A + \mu", scope)
