r"""Points per slot and the partial-credit rule for chains, read from a small YAML file.

```yaml
default_points: 1          # every slot not listed below
visibility: visible        # Gradescope: visible | hidden | after_due_date | after_published
slots:                     # listed slots are part of every sheet: unanswered -> "missing", 0
  gan.square.f: 2
  hvae.decomp: {points: 3, visibility: after_published}
chains:
  partial_credit: valid-prefix   # or none (all or nothing)
  final_share: 0.5               # of a chain's points, kept for a right final result
```

With ``valid-prefix`` a chain earns ``final_share`` of its points when its final result is right
(whatever its steps), and the other ``(1 - final_share)`` in proportion to its valid prefix (steps
before the first one that is invalid, unreadable or unchecked); so full credit needs both. Only steps that claim something count (``= C``, ``A \le B``); a bare
starting expression earns nothing by itself. A single answer earns its points only when correct.
A slot given both an answer and a chain on one sheet is graded both ways: the answer (the final
result) earns ``final_share`` of the points when correct, the chain (its derivation) the rest in
proportion to its valid prefix (with ``none``: only when every step holds). ``unchecked`` answers and
chains earn nothing until a person has looked at them (they are listed in review.csv, and a
person's decision there gives the points: ``decisions``).

The file's shape is checked against ``RUBRIC_SCHEMA`` (JSON Schema, by ``jsonschema``); slot ids
against the registry. Every problem in the file is reported at once, with where it is, what is
allowed and, for a misspelt key or slot id, the nearest one.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

RULES = ("valid-prefix", "none")
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
KEYS = ("default_points", "visibility", "slots", "chains")

_POINTS = {"type": "number", "minimum": 0}
RUBRIC_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "derivcheck rubric",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "default_points": _POINTS,
        "visibility": {"enum": list(VISIBILITY)},
        "slots": {"type": ["object", "null"], "additionalProperties": {
            "type": ["number", "object"], "minimum": 0, "additionalProperties": False,
            "properties": {"points": _POINTS, "visibility": {"enum": list(VISIBILITY)}}}},
        "chains": {"type": ["object", "null"], "additionalProperties": False, "properties": {
            "partial_credit": {"enum": [*RULES, False]},
            "final_share": {"type": "number", "minimum": 0, "maximum": 1}}},
    },
}
_VALIDATOR = Draft202012Validator(RUBRIC_SCHEMA)


class RubricError(ValueError):
    """The rubric file is not usable; the message lists every problem."""


@dataclass(frozen=True)
class Rubric:
    default_points: float = 1.0
    points: dict = field(default_factory=dict)         # slot -> points (the listed slots)
    partial_credit: str = "valid-prefix"
    final_share: float = 0.5
    visibility: str = "visible"                        # Gradescope's, for every slot not set apart
    visibilities: dict = field(default_factory=dict)   # slot -> visibility
    given: bool = False                                # read from a file (not the default rubric)

    def max_points(self, slot: str, part: str = "whole") -> float:
        """The slot's points; ``part`` "final" (an answer given beside a chain for the same slot)
        is worth ``final_share`` of them, "derivation" (that chain) the rest."""
        full = self.points.get(slot, self.default_points)
        if part == "final":
            return _round(full * self.final_share)
        if part == "derivation":
            return _round(full * (1 - self.final_share))
        return full

    def visibility_of(self, slot: str) -> str:
        return self.visibilities.get(slot, self.visibility)

    def _prefix(self, chain) -> float:
        steps = (chain or {}).get("claiming_steps") or 0
        return (chain or {}).get("valid_prefix_steps", 0) / steps if steps else 0.0

    def score(self, slot: str, result: dict, part: str = "whole") -> float:
        """Points for one graded result (an answer or a chain, as the workers return them).

        ``unchecked`` earns nothing (a person decides it). A single answer earns its points when
        correct. A chain earns them all when correct; otherwise (``valid-prefix``) the final
        share when its final result is right, plus the rest in proportion to its valid prefix
        (``none``: nothing). A slot answered both ways: the answer ("final") earns the final
        share when correct, the chain ("derivation") the rest by its valid prefix (``none``: only
        when every step holds)."""
        verdict = result.get("verdict")
        chain = result.get("chain")
        if verdict == "unchecked":
            return 0.0
        if part == "final":
            return self.max_points(slot, part) if verdict == "correct" else 0.0
        if part == "derivation":
            share, prefix = self.max_points(slot, part), self._prefix(chain)
            if self.partial_credit == "none":
                return share if prefix == 1 else 0.0
            return _round(share * prefix)
        full = self.max_points(slot)
        if verdict == "correct":
            return full
        if chain is None or self.partial_credit == "none":
            return 0.0
        final_right = ((chain.get("final") or {}).get("verdict") == "correct")
        return _round(full * self.final_share * final_right + full * (1 - self.final_share) * self._prefix(chain))


def _round(x: float) -> float:
    return float(f"{x:.4g}") if x else 0.0


def _where(path) -> str:
    return ".".join(str(p) for p in path)


def _message(err, source: str) -> list[str]:
    """A schema error as the rubric's author should read it."""
    path, kind, found = list(err.absolute_path), err.validator, err.instance
    where = f"{source}: {_where(path)}" if path else source
    if kind == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        extra = [k for k in found if k not in allowed] if isinstance(found, dict) else []
        out = []
        for key in extra:
            near = difflib.get_close_matches(str(key), allowed, n=1)
            inside = f"{_where(path)}." if path else ""
            out.append(f"{source}: unknown key {inside}{key!s}" if path else f"{source}: unknown key {key!r}")
            out[-1] += (f"; did you mean {near[0]!r}?" if near else f" (allowed: {', '.join(allowed)})")
        return out
    if kind == "type" and not path:
        return [f"{source}: the rubric must be a mapping with keys {', '.join(KEYS)}"]
    if kind == "type" and path[0] == "slots" and len(path) == 2:
        return [f"{where}: must be a number or {{points: N, visibility: V}} (found {found!r})"]
    if kind == "type" and err.validator_value == "number":
        return [f"{where}: must be a number (found {found!r})"]
    if kind == "type":
        return [f"{where}: must be a mapping"]
    if kind == "minimum":
        return [f"{where}: must be >= 0 (found {found!r})"]
    if kind == "maximum":
        return [f"{where}: must be between 0 and 1 (found {found:g})"]
    if kind == "enum":
        allowed = [v for v in err.validator_value if v is not False]
        return [f"{where}: must be one of {', '.join(allowed)} (found {found!r})"]
    return [f"{where}: {err.message}"]


def parse_rubric(data, known_slots, source: str = "rubric") -> Rubric:
    """A validated ``Rubric`` from parsed YAML; ``RubricError`` lists every problem."""
    if data is None:
        data = {}
    errors: list[str] = []
    for err in sorted(_VALIDATOR.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        errors += _message(err, source)
    if not isinstance(data, dict):
        raise RubricError("\n".join(errors))

    def number(value, where):             # JSON Schema's numbers include inf and nan; YAML has both
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    for where, value in [("default_points", data.get("default_points")),
                         ("chains.final_share", (data.get("chains") or {}).get("final_share")
                          if isinstance(data.get("chains"), dict) else None)]:
        if isinstance(value, float) and not math.isfinite(value):
            errors.append(f"{source}: {where}: must be a number (found {value!r})")
    default = data.get("default_points", 1)
    default = float(default) if number(default, "default_points") else 1.0
    points, visibilities = {}, {}
    slots = data.get("slots") or {}
    for slot, value in (slots.items() if isinstance(slots, dict) else ()):
        slot = str(slot)
        if slot not in known_slots:
            near = difflib.get_close_matches(slot, list(known_slots), n=3, cutoff=0.6)
            errors.append(f"{source}: slots.{slot}: unknown slot id" +
                          (f"; did you mean {', '.join(near)}?" if near else ""))
            continue
        if isinstance(value, dict):
            if value.get("visibility") in VISIBILITY:
                visibilities[slot] = value["visibility"]
            value = value.get("points", default)
        if isinstance(value, float) and not math.isfinite(value):
            errors.append(f"{source}: slots.{slot}: must be a number (found {value!r})")
        elif number(value, slot) and value >= 0:
            points[slot] = float(value)
    chains = data.get("chains") if isinstance(data.get("chains"), dict) else {}
    rule = chains.get("partial_credit", "valid-prefix")
    rule = "none" if rule is False else rule
    share = chains.get("final_share", 0.5)
    if errors:
        raise RubricError("\n".join(errors))
    return Rubric(default, points, rule, float(share), data.get("visibility", "visible"), visibilities, True)


def load_rubric(path, known_slots) -> Rubric:
    """Read and validate a rubric file (``None``: the default rubric)."""
    if path is None:
        return Rubric()
    p = Path(path)
    try:
        if p.stat().st_size > 1 << 20:
            raise RubricError(f"{p}: the rubric file is larger than 1 MB")
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError(f"{p}: cannot read the rubric ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise RubricError(f"{p}: the rubric is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise RubricError(f"{p}: malformed YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    return parse_rubric(data, known_slots, str(p))
