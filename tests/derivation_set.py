"""The labelled derivations (tests/data/derivations/*.yaml) and their ProcessBench-style score."""
from __future__ import annotations

from pathlib import Path

import yaml

DATA = Path(__file__).parent / "data" / "derivations"


def load(files=None) -> list[dict]:
    """Every labelled derivation: {id, slot, question, steps, first_wrong, why}."""
    out = []
    for path in sorted(files or DATA.glob("*.yaml")):
        for base in yaml.safe_load(path.read_text()):
            q = base["slot"].split(".")[0]
            out.append({"id": base["id"], "slot": base["slot"], "question": q, "steps": list(base["steps"]),
                        "first_wrong": None, "why": "right"})
            for n, v in enumerate(base.get("alt", []) or []):
                steps = list(base["steps"])
                steps[v["at"] - 1] = v["line"]
                out.append({"id": f"{base['id']}-alt{n + 1}", "slot": base["slot"], "question": q, "steps": steps,
                            "first_wrong": None, "why": "right (another correct form)"})
            for n, v in enumerate(base.get("wrong", []) or []):
                steps = list(base["steps"])
                steps[v["at"] - 1] = v["line"]
                out.append({"id": f"{base['id']}-wrong{n + 1}", "slot": base["slot"], "question": q, "steps": steps,
                            "first_wrong": v["at"], "why": v["why"]})
    return out


def score(rows) -> dict:
    """rows: (label, predicted) first-wrong indices (None: no wrong step). ProcessBench: accuracy on
    the wrong derivations (exact index), on the right ones (predicted None), F1 their harmonic mean."""
    wrong = [(l, p) for l, p in rows if l is not None]
    right = [(l, p) for l, p in rows if l is None]
    acc_w = sum(l == p for l, p in wrong) / len(wrong) if wrong else 1.0
    acc_r = sum(p is None for _, p in right) / len(right) if right else 1.0
    f1 = 0.0 if acc_w + acc_r == 0 else 2 * acc_w * acc_r / (acc_w + acc_r)
    return {"n": len(rows), "wrong": len(wrong), "right": len(right), "acc_wrong": acc_w, "acc_right": acc_r,
            "f1": f1, "right_flagged": sum(p is not None for _, p in right)}
