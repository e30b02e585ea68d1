"""The grader's per-process caches return exactly what a fresh computation returns, and leave
every random generator in the state the computation would have left it.

They make grading many answers to one slot fast (the reference's values in the slot's worlds,
the slot's mutations, quadrature's random functions, the random matrices): none may change a
verdict, a counterexample or the random draws that follow.
"""
from __future__ import annotations

import random

import sympy as sp

from derivations import registry
from derivations.grading import matrices, mutations, quadrature, worlds


def _fresh_worlds(exprs, seed=3):
    return worlds.worlds(exprs, (), n=6, seed=seed)


def test_world_values_from_the_cache_equal_fresh_ones_and_leave_the_same_state():
    x, y = sp.symbols("x y", positive=True)
    g = sp.Function("g")
    expr = sp.exp(-x) * g(y) + sp.Derivative(g(x), x) + y ** 2      # unknowns are drawn on first use
    other = g(y) * x + sp.Function("h")(x)
    integrated = worlds.Integrated()
    worlds._VALUES.clear()
    first = _fresh_worlds([expr, other])
    second = _fresh_worlds([expr, other])
    fresh = _fresh_worlds([expr, other])
    for a, b, c in zip(first, second, fresh):
        va = a.value(expr, integrated)                # computed, kept
        vb = b.value(expr, integrated)                # read back: same value and state
        vc = c._value(expr, integrated, worlds.PRECISION)   # never cached
        assert va == vb == vc
        assert a.atoms == b.atoms == c.atoms and list(b.atoms) == list(c.atoms)
        assert a.rng.getstate() == b.rng.getstate() == c.rng.getstate()
        # what follows (a new unknown drawn from the generator) is the same too
        assert b.value(other, integrated) == c._value(other, integrated, worlds.PRECISION)
        assert b.rng.getstate() == c.rng.getstate()
    assert worlds._VALUES


def test_a_different_world_state_is_a_different_entry():
    x = sp.Symbol("x", positive=True)
    g = sp.Function("g")
    expr = g(x) + x
    integrated = worlds.Integrated()
    worlds._VALUES.clear()
    w = _fresh_worlds([expr])[0]
    before = w.value(expr, integrated)
    (atom, drawn), = w.atoms.items()
    w.atoms[atom] = drawn + 1                         # the unknown's value changed: not the kept entry
    after = w.value(expr, integrated)
    assert after != before and abs(after - before - 1) < 1e-40
    assert after == w._value(expr, integrated, worlds.PRECISION)


def test_random_functions_from_the_cache_leave_the_generator_where_a_draw_would():
    q, s = sp.Function("q"), sp.Function("s")
    drawn_rng, cached_rng = random.Random(11), random.Random(11)
    direct = quadrature._draw({q, s}, drawn_rng)
    quadrature.random_functions({q, s}, random.Random(11))           # fill
    cached = quadrature.random_functions({q, s}, cached_rng)         # hit
    u = sp.Symbol("u")
    assert {f: direct[f](u) for f in direct} == {f: cached[f](u) for f in cached}
    assert drawn_rng.getstate() == cached_rng.getstate()
    x = sp.Symbol("x")
    expr = sp.Integral(q(x) * s(x) ** 2, (x, -sp.oo, sp.oo))
    plain = dict(cached)                                             # no token: never cached
    assert quadrature.value(expr, {}, cached) == quadrature.value(expr, {}, cached) == \
        quadrature.value(expr, {}, plain)


def test_matrix_draws_are_the_sequential_draws_and_values_match_a_fresh_evaluation():
    A = sp.MatrixSymbol("A", 2, 2)
    L = sp.MatrixSymbol("L", 2, 2)
    kinds = ((A, "any"), (L, "spd"))
    draws = matrices._draws(kinds, (), 5)
    rng = random.Random(5)
    for trial in range(matrices.TRIALS):
        for m, kind in kinds:
            assert draws[trial][2][m] == matrices._random(kind, 2, 2, rng)
    expr = A * L * A.T
    for trial in range(3):
        _, sub_dims, values = draws[trial]
        assert matrices._explicit_at(expr, draws, trial) == matrices._explicit(expr, values, sub_dims)


def test_a_slots_mutations_are_made_once_and_equal_a_fresh_list():
    slot = registry.get_slot("ddim.gamma")
    once = mutations.mutations(slot)
    again = mutations.mutations(slot)
    fresh = mutations._make_mutations(slot)
    assert [(m.tag, m.description, m.expr) for m in once] == [(m.tag, m.description, m.expr) for m in fresh]
    assert once == again and once is not again                      # a copy: a caller cannot change the cache
