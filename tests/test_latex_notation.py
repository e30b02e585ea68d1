"""Notation added for issue 10's follow-ups: powers of function values (the squared hinge),
cases environments, norms of scalars, vectors and matrices, the divergence operator, laws
written with \\sim (including N(m, v)), \\parallel in KL, and continuation steps. Each reading is
compared with the expression it must be; each refusal names what is not read."""
from __future__ import annotations

import pytest
import sympy as sp

from derivations.latex import LatexError, LimitError, build, parse, parse_expression, parse_loss
from derivations.latex.objects import KL, Density, Expectation

a = sp.Symbol("alpha", real=True)
x, y = sp.symbols("x y", real=True)
f = sp.Function("f")


@pytest.mark.parametrize("latex, expected", [
    (r"\max(0, 1-\alpha)^2", sp.Max(0, 1 - a) ** 2),                 # the squared hinge
    (r"\min(1, \alpha)^2", sp.Min(1, a) ** 2),
    (r"\max\{0, 1-\alpha\}^2", sp.Max(0, 1 - a) ** 2),
    (r"\max\left(0, 1-\alpha\right)^{2}", sp.Max(0, 1 - a) ** 2),
    (r"\max^2(0, 1-\alpha)", sp.Max(0, 1 - a) ** 2),
    (r"\log(1+e^{-\alpha})^2", sp.log(1 + sp.exp(-a)) ** 2),           # as sin(x)^2: the value squared
    (r"\log^2(1+e^{-\alpha})", sp.log(1 + sp.exp(-a)) ** 2),
    (r"\exp(-\alpha)^2", sp.exp(-2 * a)),                              # not exp(alpha^2)
    (r"\log x^2", None),                                               # no bracket: the log of x^2
    (r"\log(\alpha)(\alpha+1)^2", sp.log(a) * (a + 1) ** 2),           # the power is the last bracket's
    (r"\log(\alpha)^2(\alpha+1)", sp.log(a) ** 2 * (a + 1)),
    (r"\max(0, 1-\alpha)^2\alpha", a * sp.Max(0, 1 - a) ** 2),
    (r"(1-\alpha)_+^2", sp.Max(0, 1 - a) ** 2),                           # positive part
    (r"[1-\alpha]_{+}^{2}", sp.Max(0, 1 - a) ** 2),
    (r"2(1-\alpha)_+ + 1", 2 * sp.Max(0, 1 - a) + 1),
])
def test_a_power_after_a_functions_bracket_is_the_values(latex, expected):
    if expected is None:
        assert parse_expression(latex, symbols=(x,)) == sp.log(x ** 2)
        return
    got = parse_loss(latex, a)
    for v in (sp.Rational(-3, 2), sp.Rational(1, 3), 2, 5):
        assert sp.simplify(got.subs(a, v) - expected.subs(a, v)) == 0, (latex, got)


def test_max_of_a_relation_or_a_single_value_is_refused():
    with pytest.raises(LatexError, match="of one value"):
        parse_loss(r"\max(\alpha)^2", a)


MODIFIED_HUBER = sp.Piecewise((sp.Max(0, 1 - a) ** 2, a >= -1), (-4 * a, True))


@pytest.mark.parametrize("latex", [
    r"\begin{cases} \max(0, 1-\alpha)^2 & \alpha \ge -1 \\ -4\alpha & \text{otherwise} \end{cases}",
    r"l(\alpha) = \begin{cases} \max(0,1-\alpha)^2, & \text{if } \alpha \geq -1, \\ -4\alpha, & \text{else} \end{cases}",
    r"\begin{dcases} \max(0, 1-\alpha)^2 & \alpha \ge -1 \\ -4\alpha & \mathrm{otherwise} \\ \end{dcases}",
])
def test_cases_read_as_piecewise(latex):
    got = parse_loss(latex, a)
    assert isinstance(got, sp.Piecewise)
    for v in (-3, -1, sp.Rational(-1, 2), 0, 1, 2):
        assert got.subs(a, v) == MODIFIED_HUBER.subs(a, v)


def test_cases_with_a_double_inequality_and_no_otherwise():
    got = parse_loss(r"\begin{cases} (1-\alpha)^2 & -1 \le \alpha \le 1 \\ 0 & \alpha > 1 \\ -4\alpha & \alpha < -1"
                     r"\end{cases}", a)
    assert [got.subs(a, v) for v in (-2, 0, 1, 3)] == [8, 1, 0, 0]


@pytest.mark.parametrize("latex, fragment", [
    (r"\begin{cases} 1 & \text{otherwise} \\ 2 & \alpha < 0 \end{cases}", "last case"),
    (r"\begin{cases} 1 & \alpha < 0", "never closed"),
    (r"\end{cases}", "without its"),
    (r"\begin{aligned} \alpha \end{aligned}", "only cases is read"),
    (r"\begin{cases} 1 & \alpha \approx 0 \end{cases}", r"\approx"),
    (r"1 \\ 2", "breaks the line"),
])
def test_cases_refusals_name_the_problem(latex, fragment):
    with pytest.raises(LatexError, match=fragment.replace("\\", "\\\\")):
        parse_loss(latex, a)


def test_nested_cases_are_bounded():
    deep = r"\begin{cases}" * 4 + "1 & \\alpha > 0" + r"\end{cases} & \alpha > 0" * 3 + r"\end{cases}"
    with pytest.raises(LimitError):
        parse_loss(deep, a)


def test_squared_hinge_and_modified_huber_give_the_triangular_discrimination():
    from derivations.fdiv import analyse
    t = sp.Symbol("t", positive=True)
    for latex in (r"\max(0, 1-\alpha)^2",
                  r"\begin{cases} \max(0, 1-\alpha)^2 & \alpha \ge -1 \\ -4\alpha & \text{otherwise} \end{cases}"):
        result = analyse(parse_loss(latex), prove=False)
        assert sp.simplify(result.f.subs(sp.Symbol("t", positive=True), t) + 4 * t / (1 + t)) == 0
        assert result.match is not None and result.match.divergence.name == "Delta"


@pytest.mark.parametrize("latex, expected", [
    (r"\|x\|^2", x ** 2), (r"\left\| x - y \right\|^2", (x - y) ** 2), (r"||x||^2", x ** 2),
    (r"\lVert x\rVert^2", x ** 2), (r"\Vert x \Vert^2", x ** 2), (r"\|x\|_2^2", x ** 2),
    (r"\|x\|^2_2", x ** 2), (r"\left\|x\right\|_{2}^{2}", x ** 2), (r"\|x\|_1", sp.Abs(x)),
    (r"\|x\|_{\infty}", sp.Abs(x)), (r"\parallel x \parallel^2", x ** 2),
    (r"\frac12\|x\|^2 + ||y||^2", x ** 2 / 2 + y ** 2),
])
def test_scalar_norms_are_absolute_values(latex, expected):
    assert sp.simplify(parse_expression(latex, symbols=(x, y)) - expected) == 0


def test_vector_and_matrix_norms():
    n = sp.Symbol("n", integer=True, positive=True)
    A, mu = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("mu", n, 1)
    scope = build((A, mu), matrix=True)
    assert parse_expression(r"\|\mu\|^2", scope) == sp.Trace(mu.T * mu)
    assert parse_expression(r"\|A\mu\|_2^2", scope) == sp.Trace((A * mu).T * A * mu)
    assert parse_expression(r"\|A\|_F^2", scope) == sp.Trace(A.T * A)        # Frobenius
    assert parse_expression(r"\|A\|^2", scope) == sp.Trace(A.T * A)
    M = sp.Matrix([[1, 2], [3, 4]])
    assert parse_expression(r"\|A\|_F^2", scope).subs(n, 2).xreplace({sp.MatrixSymbol("A", 2, 2): M}).doit() == 30
    with pytest.raises(LatexError, match="not read"):
        parse_expression(r"\|A\|_2", scope)                                      # spectral: not read
    with pytest.raises(LatexError, match="not read"):
        parse_expression(r"\|\mu\|_1", scope)
    with pytest.raises(LatexError, match="not read"):
        parse_expression(r"\|x\|_3", symbols=(x,))


def test_divergence_operator_in_one_dimension():
    assert parse_expression(r"\nabla_x \cdot f(x)", symbols=(x,), functions=(f,)) == sp.Derivative(f(x), x)
    with pytest.raises(LatexError, match="divergence"):
        parse_expression(r"\nabla_x \times f(x)", symbols=(x,), functions=(f,))


def test_laws_after_sim_and_bare_density_names_in_expectations():
    q, s = sp.Function("q"), sp.Function("s")
    eps = sp.Symbol("epsilon", real=True)
    phi = sp.exp(-eps ** 2 / 2) / sp.sqrt(2 * sp.pi)
    reference = sp.Integral(q(x) * phi * s(x + eps) ** 2, (eps, -sp.oo, sp.oo), (x, -sp.oo, sp.oo))
    scope = build((x, eps), (q, s), reference=reference)
    want_x = sp.Integral(s(x) * q(x), (x, -sp.oo, sp.oo))
    for latex in (r"\mathbb{E}_{q(x)}[s(x)]", r"\mathbb{E}_{x\sim q}[s(x)]", r"\mathbb{E}_{q}[s(x)]",
                  r"\mathbb{E}_{x \sim q(x)}[s(x)]"):
        assert parse_expression(latex, scope) == want_x, latex
    normal = parse_expression(r"\mathbb{E}_{\epsilon\sim\mathcal{N}(0, 1)}[s(\epsilon)]", scope)
    assert sp.simplify(normal.function - s(eps) * phi) == 0 and normal.limits[0][0] == eps
    wide = parse_expression(r"\mathbb{E}_{\epsilon\sim\mathcal{N}(0, 4)}[s(\epsilon)]", scope)
    assert sp.simplify(wide.function - s(eps) * sp.exp(-eps ** 2 / 8) / sp.sqrt(8 * sp.pi)) == 0
    assert parse_expression(r"\mathbb{E}_{\epsilon\sim\mathcal{N}(0, I)}[s(\epsilon)]", scope) == normal
    with pytest.raises(LatexError, match="two arguments"):
        parse_expression(r"\mathbb{E}_{\epsilon\sim\mathcal{N}(0)}[s(\epsilon)]", scope)


@pytest.mark.parametrize("sep", [r"\parallel", r"\Vert", r"\|", "||", r"\,\|\,", r"\lVert"])
def test_kl_separators(sep):
    X, Z = sp.symbols("X Z", real=True)
    q, pz = Density.make("q", [Z], [X]), Density.make("p", [Z])
    scope = build(reference=Expectation.make(sp.log(Density.make("p", [X], [Z])), [q]) - KL(q, pz))
    for head in (r"\mathrm{KL}", r"D_{\mathrm{KL}}", r"\text{KL}", r"\operatorname{KL}", "KL"):
        assert parse_expression(rf"{head}(q(Z|X) {sep} p(Z))", scope) == KL(q, pz), head


def test_seed_hvae_kl_with_parallel():
    x_, z1, z2 = sp.symbols("x z_1 z_2", real=True)
    q1, p12 = Density.make("q", [z1], [x_]), Density.make("p", [z1], [z2])
    scope = build((x_, z1, z2), reference=KL(q1, p12) + Density.make("q", [z2], [z1]))
    got = parse_expression(r"\mathbb{E}_{q(z_2|z_1)}\left[D_{\mathrm{KL}}\left(q(z_1\mid x)\parallel "
                           r"p(z_1\mid z_2)\right)\right]", scope)
    assert got == Expectation.make(KL(q1, p12), [Density.make("q", [z2], [z1])])


def test_continuation_steps():
    chain = parse(r"= x + y", symbols=(x, y), continuation=True)
    assert chain.members == [None, x + y] and chain.relations == ["="]
    chain = parse(r"&= x \le 2y", symbols=(x, y), continuation=True)
    assert chain.members == [None, x, 2 * y] and chain.relations == ["=", "<="]
    chain = parse(r"\ge y", symbols=(x, y), continuation=True)
    assert chain.members == [None, y] and chain.relations == [">="]
    chain = parse(r"x = y", symbols=(x, y), continuation=True)        # an ordinary step reads as usual
    assert chain.members == [x, y]
    with pytest.raises(LatexError, match="unexpected '='"):
        parse(r"= x", symbols=(x,))                                    # only when asked for
    with pytest.raises(LatexError):
        parse(r"= x =", symbols=(x,), continuation=True)


def test_integral_to_infinity_reads():
    assert parse_expression(r"\int_0^\infty e^{-x} dx", symbols=(x,)) == sp.Integral(sp.exp(-x), (x, 0, sp.oo))
