"""The proof cache (derivations/proof_cache.py): a hit gives back the same evidence, and any change
to what decides a step (a side, a side condition, a symbol's domain, the checker's code) misses,
so a stored proof never stands for a changed step."""
from __future__ import annotations

import sqlite3

import pytest
import sympy as sp

from derivations import proof_cache, verify
from derivations import symbols as symtab
from derivations.evidence import Evidence, Kind, Status
from derivations.step import Step, eq, le

a = symtab.declare("a_pcache", "a", 0, 1)
x = symtab.declare("x_pcache", "x")


@pytest.fixture
def cache(tmp_path):
    c = proof_cache.ProofCache(tmp_path)
    yield c
    c.close()


def _same(e1: Evidence, e2: Evidence) -> bool:
    return (e1.status, e1.kind, e1.detail, e1.counterexample, e1.extra) == \
        (e2.status, e2.kind, e2.detail, e2.counterexample, e2.extra)


def _rows(c) -> int:
    return sqlite3.connect(c.path).execute("SELECT count(*) FROM proofs").fetchone()[0]


def test_a_hit_returns_the_same_evidence(cache):
    for step in (eq((x + 1) ** 2, x**2 + 2 * x + 1, "square"),          # proved
                 eq((x + 1) ** 2, x**2 + 1, "wrong")):                  # refuted, with a counterexample
        first, hit = verify._check_step_cached(step, verify.STEP_SECONDS, cache, None)
        assert not hit
        again, hit = verify._check_step_cached(step, verify.STEP_SECONDS, cache, None)
        assert hit and _same(first, again)
    assert cache.hits == 2 and _rows(cache) == 2
    assert again.status is Status.REFUTED and again.counterexample


def test_a_changed_side_misses(cache):
    proved = eq((x + 1) ** 2, x**2 + 2 * x + 1, "square")
    assert verify.check_step(proved, cache=cache).status is Status.PROVED
    changed = eq((x + 1) ** 2, x**2 + 3 * x + 1, "square")
    assert proof_cache.step_key(changed, 30) != proof_cache.step_key(proved, 30)
    ev, hit = verify._check_step_cached(changed, verify.STEP_SECONDS, cache, None)
    assert not hit and ev.status is Status.REFUTED


def test_a_changed_side_condition_or_relation_or_assumption_misses():
    base = le(a, sp.Rational(1, 2), "bound", assume=(sp.Lt(a, sp.Rational(1, 2)),))
    keys = {proof_cache.step_key(s, 30) for s in (
        base,
        le(a, sp.Rational(1, 2), "bound", assume=(sp.Lt(a, sp.Rational(1, 3)),)),      # side condition
        le(a, sp.Rational(1, 2), "bound"),                                              # none
        Step(a, "<", sp.Rational(1, 2), "bound", assume=(sp.Lt(a, sp.Rational(1, 2)),)),  # relation
        le(a, sp.Rational(1, 2), "bound", assume=(sp.Lt(a, sp.Rational(1, 2)),), family="n = 1"),
        le(a, sp.Rational(1, 2), "bound", assume=(sp.Lt(a, sp.Rational(1, 2)),), gap=sp.Rational(1, 2) - a),
    )}
    assert len(keys) == 6
    # a symbol's SymPy assumptions are part of the key (srepr prints them)
    y_real, y_pos = sp.Symbol("y_pcache", real=True), sp.Symbol("y_pcache", positive=True)
    assert proof_cache.step_key(eq(sp.sqrt(y_real**2), y_real, ""), 30) != \
        proof_cache.step_key(eq(sp.sqrt(y_pos**2), y_pos, ""), 30)
    # and so is the step's time limit
    assert proof_cache.step_key(base, 30) != proof_cache.step_key(base, 10)


def test_a_changed_domain_misses(cache):
    """The domains a check read are stored with it: redeclaring the symbol invalidates the entry."""
    b = symtab.declare("b_pcache", "b", 0, 1)
    step = le(b, 1, "b is at most 1")
    assert verify.check_step(step, cache=cache).status is Status.PROVED
    assert verify._check_step_cached(step, verify.STEP_SECONDS, cache, None)[1]       # a hit
    try:
        symtab.declare("b_pcache", "b", 0, 2)             # same Symbol, wider domain
        ev, hit = verify._check_step_cached(step, verify.STEP_SECONDS, cache, None)
        assert not hit and ev.status is Status.REFUTED
    finally:
        symtab.declare("b_pcache", "b", 0, 1)


def test_a_changed_checker_version_misses(cache, monkeypatch):
    step = eq((x + 1) ** 2, x**2 + 2 * x + 1, "square")
    verify.check_step(step, cache=cache)
    key = proof_cache.step_key(step, verify.STEP_SECONDS)
    monkeypatch.setattr(proof_cache, "checker_version", lambda: "another engine")
    assert proof_cache.step_key(step, verify.STEP_SECONDS) != key
    assert not verify._check_step_cached(step, verify.STEP_SECONDS, cache, None)[1]


def test_the_checker_version_covers_the_engine_and_the_catalogue():
    engine = {p.name for p in proof_cache.engine_files()}
    assert {"prove.py", "identity.py", "sampling.py", "search.py", "nonneg.py", "branches.py", "limits.py",
            "symbols.py", "step.py", "evidence.py", "verify.py", "proof_cache.py"} <= engine
    catalogue = {str(p.relative_to(proof_cache.PACKAGE_DIR)) for p in proof_cache.catalogue_files()}
    assert {"catalogue/vae.py", "catalogue/sm.py", "catalogue/gan.py", "catalogue/common.py", "expectation.py",
            "fdiv_checks.py", "prove.py"} <= catalogue


def test_a_lazy_side_or_own_checker_is_keyed_by_its_place_in_the_catalogue(cache):
    """Its content is not printable without building it: without a place in the hashed catalogue
    it is not cached at all (checked every time)."""
    lazy = eq(lambda: (x + 1) ** 2, x**2 + 2 * x + 1, "square")
    with pytest.raises(proof_cache.Uncacheable):
        proof_cache.step_key(lazy, 30)
    with pytest.raises(proof_cache.Uncacheable):
        proof_cache.step_key(lazy, 30, ("t", 0, __file__))                   # a test file: not hashed
    assert verify.check_step(lazy, cache=cache, where=("t", 0, __file__)).status is Status.PROVED
    assert not verify._check_step_cached(lazy, verify.STEP_SECONDS, cache, ("t", 0, __file__))[1]


def test_a_catalogue_derivation_hits_with_the_same_evidence(tmp_path):
    from derivations import registry
    d = registry.derivations()["vae.gauss_kl_1d"]
    c = proof_cache.ProofCache(tmp_path)
    first = verify.run(d, cache=c)
    again = verify.run(d, cache=c)
    assert all(s.cached for s in again.steps) and not any(s.cached for s in first.steps)
    assert all(_same(s.evidence, t.evidence) for s, t in zip(first.steps, again.steps))


def test_a_corrupt_cache_file_is_discarded(tmp_path):
    step = eq((x + 1) ** 2, x**2 + 2 * x + 1, "square")
    c = proof_cache.ProofCache(tmp_path)
    verify.check_step(step, cache=c)
    c.close()
    path = tmp_path / proof_cache.FILENAME
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)             # torn / overwritten
    for suffix in ("-wal", "-shm"):
        (tmp_path / (proof_cache.FILENAME + suffix)).unlink(missing_ok=True)
    c = proof_cache.ProofCache(tmp_path)
    ev, hit = verify._check_step_cached(step, verify.STEP_SECONDS, c, None)
    assert not hit and ev.status is Status.PROVED
    assert verify._check_step_cached(step, verify.STEP_SECONDS, c, None)[1]     # rebuilt, and used again
    c.close()


def test_a_tampered_row_is_not_trusted(cache):
    step = eq((x + 1) ** 2, x**2 + 1, "wrong")
    assert verify.check_step(step, cache=cache).status is Status.REFUTED
    conn = sqlite3.connect(cache.path)
    conn.execute("UPDATE proofs SET evidence = replace(evidence, 'refuted', 'proved')")
    conn.commit()
    ev, hit = verify._check_step_cached(step, verify.STEP_SECONDS, cache, None)
    assert not hit and ev.status is Status.REFUTED


def test_a_timed_out_check_is_not_stored_when_it_was_starved(cache):
    import time

    def slow(step):
        time.sleep(5)                      # waiting, not computing: an idle machine might finish
        return Evidence(Status.PROVED, Kind.SYMBOLIC, "never reached")

    step = Step(x, "=", x, "slow", check=slow)
    where = ("vae.gauss_kl_1d", 0, proof_cache.CATALOGUE_DIR / "vae.py")
    ev = verify.check_step(step, seconds=0.3, cache=cache, where=where)
    assert ev.status is Status.UNCHECKED
    assert _rows(cache) == 0


def test_only_reproducible_outcomes_are_storable():
    ok = Evidence(Status.PROVED, Kind.SYMBOLIC, "")
    assert proof_cache.storable(ok, timed_out=False, cpu=0.0, wall=1.0)
    assert not proof_cache.storable(Evidence(Status.ERROR, Kind.NONE, "MemoryError"), False, 1.0, 1.0)
    assert not proof_cache.storable(ok, timed_out=True, cpu=0.2, wall=1.0)       # starved
    assert proof_cache.storable(ok, timed_out=True, cpu=0.99, wall=1.0)          # had the CPU throughout


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DERIVCHECK_CACHE_DIR", str(tmp_path / "d"))
    assert proof_cache.cache_dir() == tmp_path / "d"
    monkeypatch.delenv("DERIVCHECK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert proof_cache.cache_dir() == tmp_path / "x" / "derivcheck"
    monkeypatch.setenv("DERIVCHECK_NO_CACHE", "1")
    assert proof_cache.default() is None


def test_verify_no_cache_bypasses_the_cache(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from derivations.cli import main
    monkeypatch.setenv("DERIVCHECK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("DERIVCHECK_NO_CACHE", "0")          # restored after the test (--no-cache sets it)
    runner = CliRunner()
    out = runner.invoke(main, ["verify", "vae.gauss_loglik", "-q", "--jobs", "1", "--no-cache"])
    assert out.exit_code == 0, out.output
    db = tmp_path / proof_cache.FILENAME
    assert not db.exists() or sqlite3.connect(db).execute("SELECT count(*) FROM proofs").fetchone()[0] == 0
    monkeypatch.setenv("DERIVCHECK_NO_CACHE", "0")
    out = runner.invoke(main, ["verify", "vae.gauss_loglik", "-q", "--jobs", "1"])
    assert out.exit_code == 0, out.output
    assert sqlite3.connect(db).execute("SELECT count(*) FROM proofs").fetchone()[0] >= 1


def test_a_warm_verify_replays_the_stored_report(monkeypatch, tmp_path):
    """The second identical run reads the whole report back (every step marked cached) with the
    same verdicts and evidence; a tampered report is not trusted."""
    import json

    from click.testing import CliRunner

    from derivations.cli import main
    monkeypatch.setenv("DERIVCHECK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("DERIVCHECK_NO_CACHE", "0")
    runner = CliRunner()
    args = ["verify", "vae.gauss_kl_1d", "gan.general", "-q", "--jobs", "1", "--json"]
    first = runner.invoke(main, [*args, str(tmp_path / "first.json")])
    assert first.exit_code == 0, first.output
    c = proof_cache.ProofCache(tmp_path)
    key = proof_cache.report_key(("vae.gauss_kl_1d", "gan.general"), 30.0)
    assert c.get_report(key) is not None
    assert proof_cache.report_key(("vae.gauss_kl_1d",), 30.0) != key
    assert proof_cache.report_key(("vae.gauss_kl_1d", "gan.general"), 10.0) != key
    with sqlite3.connect(c.path) as conn:
        conn.execute("DELETE FROM proofs")           # only the report can mark every step cached now
    again = runner.invoke(main, [*args, str(tmp_path / "again.json")])
    assert again.exit_code == 0, again.output
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("first.json", "again.json"))
    assert a["summary"]["steps"] == b["summary"]["steps"]
    steps_a = [s for d in a["derivations"] for s in d["steps"]]
    steps_b = [s for d in b["derivations"] for s in d["steps"]]
    assert all(t["cached"] for t in steps_b if not t.get("definition"))
    for s, t in zip(steps_a, steps_b):
        assert (s["status"], s["evidence"]["kind"], s["evidence"]["detail"]) == \
            (t["status"], t["evidence"]["kind"], t["evidence"]["detail"])
    conn = sqlite3.connect(c.path)
    conn.execute("UPDATE reports SET payload = replace(payload, '\"refuted\"', '\"proved\"')")
    conn.execute("UPDATE reports SET payload = payload || ' '")
    conn.commit()
    assert c.get_report(key) is None
    c.close()


def _writer(args):
    directory, worker = args
    c = proof_cache.ProofCache(directory)
    ev = Evidence(Status.PROVED, Kind.SYMBOLIC, f"worker {worker}")
    for i in range(40):
        assert c.put(f"key-{worker}-{i}", ev, [])
        assert c.get(f"key-{worker}-{(i * 7) % (i + 1)}") is not None
    return c.hits


def test_concurrent_processes_share_one_cache(tmp_path):
    """Four processes writing and reading at once (as pytest-xdist workers do): every entry lands."""
    import multiprocessing as mp
    with mp.get_context("fork").Pool(4) as pool:
        hits = pool.map(_writer, [(str(tmp_path), w) for w in range(4)])
    assert hits == [40] * 4
    c = proof_cache.ProofCache(tmp_path)
    assert _rows(c) == 160 and c.get("key-3-39").detail == "worker 3"
    c.close()


def test_cpu_time_limits_are_not_machine_dependent():
    """The engine's inner attempts are budgeted in CPU time: a block that waits uses none, a
    busy one runs out, and neither moves the wall-clock count the cache reads."""
    import time

    from derivations import limits
    before, before_cpu = limits.fired(), limits.fired_cpu()
    with limits.time_limit(0.05, cpu=True):
        time.sleep(0.2)                                   # waiting is not computing
    with pytest.raises(limits.CheckTimeout):
        with limits.time_limit(0.1, cpu=True):
            while True:
                pass
    assert limits.fired() == before and limits.fired_cpu() > before_cpu
