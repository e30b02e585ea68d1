"""pytest items from the registry: one per derivation and one per numeric check, named by slot id.

A ``*.derivcheck`` file in the test tree turns the registry into test items (pytest's
"non-Python tests" pattern), so ``pytest -k ddim.gamma`` runs the derivation that establishes
``ddim.gamma``. Three outcomes: passed (every step proved), failed (a step refuted or errored;
the report shows the step, its evidence and the counterexample) and skipped (unchecked, with
the reason). Numeric checks carry the ``montecarlo`` marker and print their figures at the end.

Registered through the ``pytest11`` entry point ``derivcheck`` (pyproject.toml), so it loads in
any pytest run of an environment with derivcheck installed (the ``[test]`` extra brings pytest);
it imports nothing of derivcheck's until a ``*.derivcheck`` file is collected. ``-p no:derivcheck``
turns it off. The ``derivcheck`` command never imports this module.
"""
from __future__ import annotations

import pytest

_FIGURES_KEY = pytest.StashKey[list]()


class DerivationFailed(Exception):
    def __init__(self, result):
        self.result = result


class NumericFailed(Exception):
    def __init__(self, result):
        self.result = result


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".derivcheck":
        return RegistryFile.from_parent(parent, path=file_path)


def pytest_configure(config):
    config.stash[_FIGURES_KEY] = []


class RegistryFile(pytest.File):
    def collect(self):
        from . import registry

        wanted = {line.split(":")[0].strip() for line in self.path.read_text().splitlines()
                  if line.strip() and not line.startswith("#")}
        if "derivations" in wanted:
            for d in registry.derivations().values():
                item = DerivationItem.from_parent(self, name=d.id, derivation=d)
                item.extra_keyword_matches.update(d.slots)
                yield item
        if "numeric" in wanted:
            from numeric_checks import core
            for slot_id, checks in sorted(core.checks().items()):
                for i, check in enumerate(checks):
                    name = f"{slot_id}[numeric:{check.fn.__name__}]"
                    item = NumericItem.from_parent(self, name=name, check=check)
                    item.extra_keyword_matches.add(slot_id)
                    if check.tier == "montecarlo":
                        item.add_marker(pytest.mark.montecarlo)
                    yield item


class DerivationItem(pytest.Item):
    def __init__(self, *, derivation, **kw):
        super().__init__(**kw)
        self.derivation = derivation

    def runtest(self):
        from . import proof_cache
        from .evidence import Status
        from .printing import claim_latex
        from .verify import run

        # the proof cache that ``derivcheck verify`` fills (DERIVCHECK_NO_CACHE=1: check again)
        result = run(self.derivation, cache=proof_cache.default())
        if result.status in (Status.REFUTED, Status.ERROR):
            raise DerivationFailed(result)
        if result.status is Status.UNCHECKED:
            reasons = [f"{claim_latex(s.step)}: {s.evidence.detail}" for s in result.steps
                       if s.evidence.status is Status.UNCHECKED]
            pytest.skip("unchecked: " + "; ".join(reasons))

    def repr_failure(self, excinfo):
        if not isinstance(excinfo.value, DerivationFailed):
            return super().repr_failure(excinfo)
        from .evidence import Status
        from .printing import claim_latex

        lines = [f"derivation {self.derivation.id}: {self.derivation.title}"]
        for s in excinfo.value.result.steps:
            if s.evidence.status in (Status.REFUTED, Status.ERROR) and not s.step.audit:
                lines += [f"  step {s.evidence.status.value}: {claim_latex(s.step)}",
                          f"    because: {s.step.why}",
                          f"    evidence: {s.evidence.kind.value}: {s.evidence.detail}"]
                if s.evidence.counterexample:
                    lines.append(f"    counterexample: {s.evidence.counterexample}")
        return "\n".join(lines)

    def reportinfo(self):
        return self.derivation.module, max(self.derivation.line - 1, 0), f"derivation: {self.derivation.id}"


class NumericItem(pytest.Item):
    def __init__(self, *, check, **kw):
        super().__init__(**kw)
        self.check = check

    def runtest(self):
        from numeric_checks import core

        result = core.run_check(self.check)
        self.config.stash[_FIGURES_KEY].extend(result.rows())
        if not result.passed:
            raise NumericFailed(result)

    def repr_failure(self, excinfo):
        if not isinstance(excinfo.value, NumericFailed):
            return super().repr_failure(excinfo)
        return "\n".join(f"{'ok  ' if r['passed'] else 'FAIL'} {_row(r)}" for r in excinfo.value.result.rows())

    def reportinfo(self):
        return self.check.module.replace(".", "/") + ".py", 0, f"numeric check: {self.check.id}"


def _row(r: dict) -> str:
    spread = f"SE {r['stderr']:.3g}, z {r['z']:+.2f}" if r["kind"] == "monte-carlo" else f"tol {r['tolerance']:.2g}"
    if r["kind"] == "monte-carlo" and r.get("detectable_relative_error") is not None:
        spread += f", detects {r['detectable_relative_error']:.2%}"
    from .publish.tags import comparison

    return f"{r['id']} {r['name']}: {comparison(r)} ({spread}, n={r['samples']}, {r['device']}, seed {r['seed']})"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = config.stash.get(_FIGURES_KEY, [])
    if rows:
        from numeric_checks.core import K_SE
        terminalreporter.section(f"numeric checks (MC tolerance {K_SE:.2f} SE)")
        for r in rows:
            terminalreporter.line(("ok   " if r["passed"] else "FAIL ") + _row(r))
