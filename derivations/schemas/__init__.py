"""JSON Schemas (draft 2020-12) of every JSON document derivcheck writes; see docs/json-schemas.md.

=========================  =================================================================
verify                     ``derivcheck verify --json FILE``
answer                     ``derivcheck answer SLOT LATEX --json``
answer-jsonl               one output line of ``derivcheck answer --jsonl FILE|-``
fdiv                       ``derivcheck fdiv LOSS --json``
slots                      ``derivcheck slots --json``
grades-row                 one line of ``grades.jsonl`` (``derivcheck grade``)
gradescope-results         ``gradescope/STUDENT/results.json`` (``derivcheck grade``)
=========================  =================================================================
"""
from __future__ import annotations

import json
from functools import cache
from importlib import resources

NAMES = ("verify", "answer", "answer-jsonl", "fdiv", "slots", "grades-row", "gradescope-results")


@cache
def load(name: str) -> dict:
    """The schema called ``name`` (one of ``NAMES``), from the installed package's data."""
    if name not in NAMES:
        raise KeyError(f"no schema {name!r}; there are {', '.join(NAMES)}")
    return json.loads(resources.files(__package__).joinpath(f"{name}.schema.json").read_text("utf-8"))


def validate(name: str, document) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``document`` matches the schema ``name``."""
    from jsonschema import Draft202012Validator

    Draft202012Validator(load(name)).validate(document)
