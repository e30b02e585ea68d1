"""The engine must be able to fail: false steps are refuted with a counterexample."""
import json

import pytest
import sympy as sp
from click.testing import CliRunner

from derivations import registry
from derivations.catalogue import ddim
from derivations.cli import main
from derivations.evidence import Kind, Status
from derivations.prove import check_relation
from derivations.sampling import evaluate
from derivations.step import Derivation, Step, eq
from derivations.symbols import declare
from derivations.verify import check_step, run

a = declare("a_test", "a", 0, 1)
x = declare("x_test", "x")
s = declare("s_test", "s", 0, sp.oo)


def test_true_identity_is_proved_symbolically():
    ev = check_relation((1 - a) ** 2, "=", 1 - 2 * a + a**2)
    assert ev.status is Status.PROVED and ev.kind is Kind.SYMBOLIC


def test_domain_is_used_in_proof():
    assert check_relation(sp.sqrt((1 - a) ** 2), "=", 1 - a).status is Status.PROVED


def test_same_identity_fails_outside_its_domain():
    ev = check_relation(sp.sqrt(x**2), "=", x)
    assert ev.status is Status.REFUTED
    ce = ev.counterexample
    assert ce["x_test"] < 0 and ce["lhs"] == pytest.approx(-ce["rhs"])


@pytest.mark.parametrize("wrong", [
    -(sp.sqrt(ddim.abar_prev) * ddim.x_0),                 # a wrong sign
    sp.sqrt(ddim.abar_prev) * ddim.x_0 / 2,                # a missing factor
    sp.sqrt(ddim.abar_t) * ddim.x_0,                       # t and t-1 swapped
])
def test_wrong_ddim_marginal_is_refuted(wrong):
    ev = check_relation(ddim.MARGINAL_MEAN, "=", wrong, ddim.SIDE)
    assert ev.status is Status.REFUTED
    assert {"abar_t", "abar_prev", "lhs", "rhs"} <= set(ev.counterexample)


def test_violated_side_condition_is_refuted():
    # sigma_t^2 <= 1 - abar_{t-1} is not implied by the schedule alone: the checker finds a point.
    ev = check_relation(ddim.sigma_t**2, "<=", 1 - ddim.abar_prev, ddim.SCHEDULE)
    assert ev.status is Status.REFUTED
    assert ev.counterexample["lhs"] > ev.counterexample["rhs"]


def test_an_inequality_that_is_a_side_condition_is_proved_from_it():
    ev = check_relation(ddim.sigma_t**2, "<=", 1 - ddim.abar_prev, ddim.SIDE)
    assert ev.status is Status.PROVED and ev.kind is Kind.SYMBOLIC


def test_false_inequality_is_refuted_true_one_proved():
    assert check_relation(x**2 + 1, ">=", 2 * x).status is Status.PROVED
    assert check_relation(x**2 + 1, ">=", 3 * x).status is Status.REFUTED
    assert check_relation(sp.log(a), "<", 0).status is Status.PROVED


def test_unknown_functions_are_arbitrary_values():
    f = sp.Function("g_test")(x)
    assert check_relation(f * 2, "=", f + f).status is Status.PROVED
    assert check_relation(f**2, "=", f).status is Status.REFUTED


def test_matrix_shapes_must_agree():
    assert check_relation(sp.eye(2), "=", sp.eye(3)).status is Status.REFUTED
    assert check_relation(sp.Matrix([a, 1]), "=", sp.Matrix([a, 1])).status is Status.PROVED


def test_family_evidence_is_labelled():
    ev = check_relation(a * 2, "=", a + a, family="n = 1")
    assert ev.kind is Kind.SYMBOLIC_FAMILY and "n = 1" in ev.detail


def test_undefined_everywhere_is_unchecked_not_proved():
    ev = check_relation(a / (x - x), "=", a)   # 1/0: no admissible point can be evaluated
    assert ev.status is Status.UNCHECKED and "0 admissible points" in ev.detail


def test_a_step_that_runs_out_of_time_is_unchecked():
    def slow(step):
        while True:
            pass
    ev = check_step(Step(0, "=", 0, "never ends", check=slow), seconds=0.3)
    assert ev.status is Status.UNCHECKED and "0.3" in ev.detail


def test_a_crashing_checker_is_an_error_not_a_pass():
    def broken(step):
        raise RuntimeError("boom")
    ev = check_step(Step(0, "=", 0, "bug", check=broken))
    assert ev.status is Status.ERROR and "boom" in ev.detail


def test_derivation_status_and_audit_findings():
    d = Derivation("t.audit", "audit", (eq(a, a, "trivial"), Step(a + 1, "=", a, "a quoted claim", audit="seed")))
    result = run(d)
    assert result.status is Status.PROVED          # the quoted claim's refutation is a finding
    assert len(result.findings) == 1 and result.findings[0].evidence.counterexample
    own = Derivation("t.own", "own", (eq(a + 1, a, "derivcheck's own step"),))
    assert run(own).status is Status.REFUTED


def test_evaluate_returns_none_where_undefined():
    assert evaluate(1 / (a - a), {a: sp.Rational(1, 2)}) is None


def test_every_ddim_and_lemma_slot_is_established():
    established = {sl for d in registry.select(["ddim", "lemma"]) for sl in d.slots}
    assert {sid for sid in registry.slots() if sid.startswith(("ddim.", "lemma."))} <= established


def test_cli_verify_json_schema(tmp_path):
    out = tmp_path / "v.json"
    result = CliRunner().invoke(main, ["verify", "ddim.x0_pred", "--json", str(out), "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert set(report) == {"derivations", "numeric", "summary"}
    d = report["derivations"][0]
    assert {"id", "title", "slots", "status", "steps"} <= set(d)
    assert {"claim_latex", "status", "evidence"} <= set(d["steps"][0])
    assert {"kind", "detail"} <= set(d["steps"][0]["evidence"])


def test_cli_unknown_id_is_a_usage_error_with_near_matches():
    result = CliRunner().invoke(main, ["verify", "ddim.gama"])
    assert result.exit_code == 2 and "ddim.gamma" in result.output


def test_cli_slots_json_lists_references():
    result = CliRunner().invoke(main, ["slots", "--json", "ddim"])
    rows = json.loads(result.output)
    gamma = next(r for r in rows if r["id"] == "ddim.gamma")
    assert r"\bar\alpha_{t-1}" in gamma["reference_latex"]
    assert any(sym["domain"] == "(0, 1)" for sym in gamma["symbols"])


def test_cli_slots_table_shows_side_conditions():
    result = CliRunner().invoke(main, ["slots", "ddim.posterior_mean"])
    assert result.exit_code == 0 and "conditions" in result.output
    assert r"\sigma_t^{2} \leq 1 - \bar\alpha_{t-1}" in result.output


def test_cli_reads_latex_that_starts_with_a_minus_sign():
    result = CliRunner().invoke(main, ["answer", "gan.square.f", r"-\frac{4t}{t+1}", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] == "correct"


def test_cli_refuses_an_unknown_device():
    result = CliRunner().invoke(main, ["verify", "ddim.marginal_var", "--numeric", "--device", "foo"])
    assert result.exit_code == 2 and "not a torch device" in result.output


def test_slot_without_a_reference_sends_unknown_vocabulary_to_review():
    from derivations.grading import grade_answer
    r = grade_answer("vae.grad_theta", r"\mathbb{E}_{q_\lambda(Z)}[\nabla_\theta \log p_\theta(X, Z)]", sandbox=False)
    assert r.verdict == "unchecked"


def test_cli_fdiv_runs_in_the_sandbox_and_separates_bad_losses_from_hard_ones():
    ok = CliRunner().invoke(main, ["fdiv", r"e^{-2\alpha}", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["smooth"] is True
    unbounded = CliRunner().invoke(main, ["fdiv", r"\alpha"])
    assert unbounded.exit_code == 2 and "not a usable margin loss" in unbounded.output
    unreadable = CliRunner().invoke(main, ["fdiv", r"\foo"])
    assert unreadable.exit_code == 2 and "could not read the loss" in unreadable.output


def test_a_swallowed_time_limit_fires_again():
    """A CheckTimeout lost where Python ignores exceptions (a weakref callback) must not lose
    the limit: the alarm repeats until the block is left."""
    import signal
    import time

    from derivations.limits import CheckTimeout, time_limit
    swallowed, started = 0, time.monotonic()
    with pytest.raises(CheckTimeout):
        with time_limit(0.2):
            while time.monotonic() - started < 0.6:          # every timeout in here is swallowed
                try:
                    sum(range(2000))
                except CheckTimeout:
                    swallowed += 1
            while time.monotonic() - started < 5:            # the limit must still end this
                sum(range(2000))
    assert time.monotonic() - started < 2
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
