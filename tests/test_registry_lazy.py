"""Loading one question instead of the catalogue changes nothing a grader sees.

A cold ``derivcheck answer`` imports only the slot's question (``registry.get_slot``). These
tests hold that to the whole catalogue's behaviour: each catalogue module registers only its own
question's slots, the index of declared names (``latex.declared_index``) is current, and every
slot's scope (the names an answer may use) is the same whether its question was loaded alone or
the whole catalogue was. Each process below is fresh, so what it loads is what it needed.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from derivations import registry

FINGERPRINT = r'''
import json, sys
import sympy as sp
from derivations import registry
from derivations.latex.scope import for_slot
question = sys.argv[1]
if question == "ALL":
    registry.load()
    ids = sorted(registry.slots())
else:
    ids = sorted(registry.question_slots(question))
    loaded = sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.startswith("derivations.catalogue."))
def show(v):
    return sp.srepr(v) if isinstance(v, sp.Basic) else repr(v)
def fingerprint(scope):
    out = {}
    for field, value in vars(scope).items():
        if isinstance(value, dict):
            out[field] = sorted((str(k), show(v)) for k, v in value.items())
        elif isinstance(value, (set, frozenset)):
            out[field] = sorted(str(v) for v in value)
        else:
            out[field] = show(value)
    return out
print(json.dumps({"loaded": None if question == "ALL" else loaded,
                  "scopes": {i: [fingerprint(for_slot(i)), fingerprint(for_slot(i, True))] for i in ids}}))
'''


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_each_catalogue_module_registers_only_its_own_question():
    registry.load()
    for slot_id in registry.slots():
        question = slot_id.split(".")[0]
        if question in registry.CATALOGUE:
            assert registry.origin(slot_id) == f"derivations.catalogue.{question}", slot_id


def test_declared_name_index_is_current():
    out = _run("-m", "derivations.latex.declared_index", "--check")
    assert out.strip() == "current", out


def test_a_question_loaded_alone_reads_names_as_the_whole_catalogue_does():
    full = json.loads(_run("-c", FINGERPRINT, "ALL"))["scopes"]
    questions = sorted({s.split(".")[0] for s in full} & set(registry.CATALOGUE))
    assert len(questions) >= 5
    for question in questions:
        alone = json.loads(_run("-c", FINGERPRINT, question))
        # only the question's module (and the catalogue modules it imports) was loaded
        assert question in alone["loaded"] and len(alone["loaded"]) < len(registry.CATALOGUE), alone["loaded"]
        mine = {k: v for k, v in full.items() if k.startswith(question + ".")}
        assert mine and alone["scopes"] == mine, question


def test_get_slot_loads_the_question_and_unknown_ids_still_list_near_matches():
    out = _run("-c", "import sys; from derivations import registry; registry.get_slot('gan.square.f'); "
                     "print(sorted(m for m in sys.modules if m.startswith('derivations.catalogue.')))")
    assert "derivations.catalogue.gan" in out and "derivations.catalogue.sm'" not in out
    with pytest.raises(KeyError, match="did you mean"):
        registry.get_slot("gan.square")


def test_startup_cache_round_trip_and_damaged_entries(tmp_path, monkeypatch):
    from derivations import startup_cache as cache
    monkeypatch.setenv("DERIVCHECK_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("DERIVCHECK_NO_CACHE", raising=False)
    calls = []

    def compute(value):
        calls.append(value)
        return {"value": value}
    assert cache.cached("t", "k1", lambda: compute(1)) == {"value": 1}
    assert cache.cached("t", "k1", lambda: compute(99)) == {"value": 1}      # read back, not recomputed
    assert cache.cached("t", "k2", lambda: compute(2)) == {"value": 2}       # another key: a miss
    assert calls == [1, 2]
    for f in (tmp_path / "startup").iterdir():                               # damage every entry
        f.write_bytes(f.read_bytes()[:-3] + b"xyz")
    assert cache.cached("t", "k1", lambda: compute(3)) == {"value": 3}       # never trusted: recomputed
    monkeypatch.setenv("DERIVCHECK_NO_CACHE", "1")
    assert cache.cached("t", "k1", lambda: compute(4)) == {"value": 4}
    assert calls == [1, 2, 3, 4]


def test_gan_references_from_the_cache_equal_a_fresh_analysis(tmp_path):
    """The catalogue's cached f-divergence analyses are what ``analyse`` computes now."""
    code = ("from derivations.catalogue import gan; from derivations.fdiv import analyse, alpha; "
            "import sympy as sp; "
            "print(all(sp.srepr(gan.RESULTS[n].f) == sp.srepr(analyse(l, alpha, prove=False).f) and "
            "sp.srepr(gan.RESULTS[n].dstar_t) == sp.srepr(analyse(l, alpha, prove=False).dstar_t) "
            "for n, (_, l) in gan.LOSSES.items()))")
    env = {"DERIVCHECK_CACHE_DIR": str(tmp_path)}
    import os
    for _ in range(2):                    # the first run fills the cache, the second reads it
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                              env={**os.environ, **env})
        assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr[-2000:]
    assert any((tmp_path / "startup").iterdir())
