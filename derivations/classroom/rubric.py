r"""Points per slot and the partial-credit rule for chains, read from a small YAML file.

```yaml
default_points: 1          # every slot not listed below
slots:                     # listed slots are part of every sheet: unanswered -> "missing", 0
  gan.square.f: 2
  hvae.decomp: 3
chains:
  partial_credit: valid-prefix   # or none (all or nothing)
  final_share: 0.5               # of a chain's points, kept for a right final result
```

With ``valid-prefix`` a chain earns ``(1 - final_share)`` of its points in proportion to its
valid prefix (steps before the first one that is invalid, unreadable or unchecked), and the
remaining ``final_share`` only when every step holds and the final result is right; so full
credit needs both. Only steps that claim something count (``= C``, ``A \le B``); a bare
starting expression earns nothing by itself. A single answer earns its points only when correct.
A slot given both an answer and a chain on one sheet is graded both ways: the answer (the final
result) earns ``final_share`` of the points when correct, the chain (its derivation) the rest in
proportion to its valid prefix (with ``none``: only when every step holds). ``unchecked`` answers
earn nothing until a person has looked at them (they are listed in review.csv).

Every problem in the file is reported at once, with where it is and what is allowed.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

RULES = ("valid-prefix", "none")


class RubricError(ValueError):
    """The rubric file is not usable; the message lists every problem."""


@dataclass(frozen=True)
class Rubric:
    default_points: float = 1.0
    points: dict = field(default_factory=dict)         # slot -> points (the listed slots)
    partial_credit: str = "valid-prefix"
    final_share: float = 0.5

    def max_points(self, slot: str, part: str = "whole") -> float:
        """The slot's points; ``part`` "final" (an answer given beside a chain for the same slot)
        is worth ``final_share`` of them, "derivation" (that chain) the rest."""
        full = self.points.get(slot, self.default_points)
        if part == "final":
            return _round(full * self.final_share)
        if part == "derivation":
            return _round(full * (1 - self.final_share))
        return full

    def score(self, slot: str, result: dict, part: str = "whole") -> float:
        """Points for one graded result (an answer or a chain, as the workers return them). For a
        slot answered both ways, the answer ("final") earns its share when correct and the chain
        ("derivation") earns its share in proportion to its valid prefix (all of it when every
        step holds; with partial_credit none, only then): its final expression is the answer's
        to grade."""
        full = self.max_points(slot)
        verdict = result.get("verdict")
        chain = result.get("chain")
        if part == "final":
            return self.max_points(slot, part) if verdict == "correct" else 0.0
        if part == "derivation":
            share = self.max_points(slot, part)
            steps = (chain or {}).get("claiming_steps") or 0
            if not steps:
                return 0.0
            prefix = (chain or {}).get("valid_prefix_steps", 0) / steps
            if self.partial_credit == "none":
                return share if prefix == 1 else 0.0
            return _round(share * prefix)
        if verdict == "correct":
            return full
        if chain is None or self.partial_credit == "none":
            return 0.0
        steps = chain.get("claiming_steps") or 0
        if not steps:
            return 0.0
        prefix = chain.get("valid_prefix_steps", 0) / steps
        return _round(full * (1 - self.final_share) * prefix)


def _round(x: float) -> float:
    return float(f"{x:.4g}") if x else 0.0


def _number(value, where: str, errors: list, allow_zero=True):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        errors.append(f"{where}: must be a number (found {value!r})")
        return None
    if value < 0 or (value == 0 and not allow_zero):
        errors.append(f"{where}: must be {'>= 0' if allow_zero else '> 0'} (found {value!r})")
        return None
    return float(value)


def parse_rubric(data, known_slots, source: str = "rubric") -> Rubric:
    """A validated ``Rubric`` from parsed YAML; ``RubricError`` lists every problem."""
    errors: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RubricError(f"{source}: the rubric must be a mapping with keys default_points, slots, chains")
    for key in data:
        if key not in ("default_points", "slots", "chains"):
            near = difflib.get_close_matches(str(key), ["default_points", "slots", "chains"], n=1)
            errors.append(f"{source}: unknown key {key!r}" + (f"; did you mean {near[0]!r}?" if near else
                                                               " (allowed: default_points, slots, chains)"))
    default = data.get("default_points", 1)
    default = _number(default, f"{source}: default_points", errors)
    points = {}
    slots = data.get("slots") or {}
    if not isinstance(slots, dict):
        errors.append(f"{source}: slots must map slot ids to points")
        slots = {}
    for slot, value in slots.items():
        slot = str(slot)
        if slot not in known_slots:
            near = difflib.get_close_matches(slot, list(known_slots), n=3, cutoff=0.6)
            errors.append(f"{source}: slots.{slot}: unknown slot id" +
                          (f"; did you mean {', '.join(near)}?" if near else ""))
            continue
        if isinstance(value, dict):
            extra = set(value) - {"points"}
            if extra:
                errors.append(f"{source}: slots.{slot}: unknown keys {', '.join(sorted(map(str, extra)))} "
                              "(allowed: points)")
            value = value.get("points", default if default is not None else 1)
        n = _number(value, f"{source}: slots.{slot}", errors)
        if n is not None:
            points[slot] = n
    chains = data.get("chains") or {}
    rule, share = "valid-prefix", 0.5
    if not isinstance(chains, dict):
        errors.append(f"{source}: chains must be a mapping with partial_credit and final_share")
        chains = {}
    for key in chains:
        if key not in ("partial_credit", "final_share"):
            errors.append(f"{source}: chains.{key}: unknown key (allowed: partial_credit, final_share)")
    if "partial_credit" in chains:
        rule = chains["partial_credit"]
        if rule is False:
            rule = "none"
        if rule not in RULES:
            errors.append(f"{source}: chains.partial_credit: must be one of {', '.join(RULES)} (found {rule!r})")
    if "final_share" in chains:
        share = _number(chains["final_share"], f"{source}: chains.final_share", errors)
        if share is not None and share > 1:
            errors.append(f"{source}: chains.final_share: must be between 0 and 1 (found {share:g})")
    if errors:
        raise RubricError("\n".join(errors))
    return Rubric(default, points, rule, share)


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
