"""The JSON Schema Gradescope's results.json is checked against in the tests: the one kept here
(tests/data/gradescope_results.schema.json, the specification's keys only), and the package's
(derivations/schemas/gradescope-results.schema.json) when it is there."""
from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "data" / "gradescope_results.schema.json"
PACKAGE = ROOT / "derivations" / "schemas" / "gradescope-results.schema.json"


def validate_results(data) -> None:
    for path in (SPEC, PACKAGE):
        if path.is_file():
            schema = json.loads(path.read_text())
            errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
            assert not errors, f"{path.name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
