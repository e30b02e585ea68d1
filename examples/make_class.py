"""Write ``examples/class/``: a synthetic class of 34 students in every sheet format, plus hostile files.

Students draw, per slot, one of the answers below with a fixed seed. The answers are what
students write -- the same result in many forms, real mistakes (a flipped sign, t and t-1
swapped, a dropped factor, the KL arguments exchanged), unreadable text, answers beyond the
grader's limits, and chains whose first invalid step is somewhere in the middle. The labels
("correct", "wrong", ...) only say what each answer was written to exercise; the grader never
sees them, and the verdicts in the outputs come from its checks.

    python examples/make_class.py            # rewrites examples/class/
    derivcheck grade examples/class --out out/class
"""
from __future__ import annotations

import csv
import io
import json
import random
import shutil
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SEED = 7

# slot -> intent -> answers
ANSWERS = {
    "gan.square.f": {
        "correct": [r"-\frac{4t}{t+1}", r"\frac{-4t}{1+t}", r"f(t) = -\frac{4t}{t+1}", r"-4 + \frac{4}{t+1}",
                    r"\frac{4}{1+t} - 4", r"-\frac{4}{1 + 1/t}"],
        "wrong": [r"\frac{4t}{t+1}", r"-\frac{2t}{t+1}", r"-\frac{4t}{t-1}", r"-\frac{4}{t+1}"],
        "invalid": [r"f(t) = ", r"-\frac{4u}{1+u}", r"-\frac{4t}{t+1"],
        "unchecked": [r"\sum_{n=0}^{\infty} (-1)^{n+1} 4 t^{n+1}", "(" * 40 + "t" + ")" * 40],
    },
    "gan.logistic.dstar": {
        "correct": [r"\log\frac{p_d}{p_g}", r"\log p_d(x) - \log p_g(x)", r"D^*(x) = \log\frac{p_d(x)}{p_g(x)}"],
        "wrong": [r"\log\frac{p_g}{p_d}", r"\frac{p_d}{p_g}", r"\log\frac{p_d}{p_d + p_g}"],
        "invalid": [r"\log\frac{p_d}{q}"],
    },
    "gan.zero_one.dstar": {
        "correct": [r"\operatorname{sign}(p_d - p_g)", r"\frac{p_d - p_g}{p_d + p_g}"],
        "wrong": [r"\operatorname{sign}(p_g - p_d)", r"p_g - p_d"],
    },
    "gan.square.risk": {
        "correct": [r"1 - \Delta/2", r"1 - \frac{1}{2}\int \frac{(p_d(x) - p_g(x))^2}{p_d(x) + p_g(x)}\, dx",
                    r"\frac12\int\frac{4p_d(x)p_g(x)}{p_d(x)+p_g(x)}\,dx"],
        "wrong": [r"1 - \Delta", r"\frac{1}{2} - \Delta"],
    },
    "gan.logistic.risk": {
        "correct": [r"\log 2 - \mathrm{JS}", r"\log 2 - JS"],
        "wrong": [r"2\log 2 - \mathrm{JS}", r"\log 2 + \mathrm{JS}"],
    },
    "ddim.marginal_var": {
        "correct": [r"1 - \bar\alpha_{t-1}", r"1 - \sqrt{\bar\alpha_{t-1}^2}", r"-(\bar\alpha_{t-1} - 1)"],
        "wrong": [r"1 - \bar\alpha_t", r"1 + \bar\alpha_{t-1}", r"(1 - \bar\alpha_{t-1})^2"],
        "invalid": [r"1 - \bar\beta_{t-1}"],
        "unchecked": [r"1 - \bar\alpha_{t-1}^{10^{12}}"],
    },
    "ddim.x0_pred": {
        "correct": [r"\frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t)}{\sqrt{\bar\alpha_t}}",
                    r"\frac{x_t}{\sqrt{\bar\alpha_t}} - \sqrt{\frac{1-\bar\alpha_t}{\bar\alpha_t}}\epsilon_\theta(x_t)"],
        "wrong": [r"\frac{x_t - \sqrt{1-\bar\alpha_t}\epsilon_\theta(x_t)}{\bar\alpha_t}",
                  r"\frac{x_t + \sqrt{1-\bar\alpha_t}\epsilon_\theta(x_t)}{\sqrt{\bar\alpha_t}}"],
        "invalid": [r"\frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t)}{\sqrt{\bar\alpha_t}"],
        "unchecked": [r"\frac{x_t}{\sqrt{\bar\alpha_t}}" + " + 0" * 700],
    },
    "ddim.objective": {
        "correct": [r"\frac{\gamma_t (1-\bar\alpha_t)}{2\sigma_t^2\bar\alpha_t}",
                    r"\frac{\gamma_t}{2\sigma_t^2}\cdot\frac{1-\bar\alpha_t}{\bar\alpha_t}"],
        "wrong": [r"\frac{\gamma_t}{2\sigma_t^2 \bar\alpha_t}", r"\frac{\gamma_t (1-\bar\alpha_t)}{\sigma_t^2\bar\alpha_t}",
                  r"\frac{\gamma_t (1-\bar\alpha_t)}{2\sigma_t\bar\alpha_t}"],
    },
    "ddim.ddpm_sigma": {
        "correct": [r"\frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\left(1-\frac{\bar\alpha_t}{\bar\alpha_{t-1}}\right)",
                    r"\frac{(1-\bar\alpha_{t-1})(\bar\alpha_{t-1}-\bar\alpha_t)}{(1-\bar\alpha_t)\bar\alpha_{t-1}}"],
        "wrong": [r"\frac{1-\bar\alpha_{t}}{1-\bar\alpha_{t-1}}\left(1-\frac{\bar\alpha_t}{\bar\alpha_{t-1}}\right)"],
    },
    "vae.gauss_kl_1d": {
        "correct": [r"\log\frac{\sigma_z}{\sigma} + \frac{\sigma^2 + (\mu-\mu_z)^2}{2\sigma_z^2} - \frac12",
                    r"\frac{1}{2}\left(\frac{\sigma^2}{\sigma_z^2} + \frac{(\mu - \mu_z)^2}{\sigma_z^2} - 1 + \log\frac{\sigma_z^2}{\sigma^2}\right)"],
        "wrong": [r"\log\frac{\sigma}{\sigma_z} + \frac{\sigma^2 + (\mu-\mu_z)^2}{2\sigma_z^2} - \frac12",
                  r"\log\frac{\sigma_z}{\sigma} + \frac{\sigma^2 + (\mu-\mu_z)^2}{2\sigma_z^2}"],
        "invalid": [r"\log\frac{\sigma_z}{\sigma} + \kappa"],
    },
    "vae.elbo_gap": {
        "correct": [r"\mathrm{KL}(q(Z) \| p(Z \mid X))", r"\mathbb{E}_{Z \sim q(Z)}[\log q(Z) - \log p(Z|X)]"],
        "wrong": [r"\mathrm{KL}(p(Z \mid X) \| q(Z))", r"\mathrm{KL}(q(Z) \| p(Z))"],
    },
    "vae.elbo_decomp": {
        "correct": [r"\mathbb{E}_{q(Z|X)}[\log p(X|Z)] - \mathrm{KL}(q(Z|X)\|p(Z))"],
        "wrong": [r"\mathbb{E}_{q(Z|X)}[\log p(X|Z)] + \mathrm{KL}(q(Z|X)\|p(Z))"],
    },
    "sm.kernel_score": {
        "correct": [r"\frac{x - \tilde x}{\sigma^2}", r"-\frac{\epsilon}{\sigma}"],
        "wrong": [r"\frac{\tilde x - x}{\sigma^2}", r"\frac{x - \tilde x}{\sigma}"],
        "invalid": [r"\frac{x - \tilde y}{\sigma^2}"],
    },
    "sm.ism_constant_gauss": {
        "correct": [r"\frac{d}{2s^2}", r"C_1 = \frac{d}{2 s^2}"],
        "wrong": [r"\frac{d}{s^2}", r"\frac{1}{2s^2}"],
    },
    "lemma.marginal_cov": {
        "correct": [r"L^{-1} + A\Lambda^{-1}A^\top", r"A\Lambda^{-1}A^T + L^{-1}"],
        "wrong": [r"L^{-1} + A^\top\Lambda^{-1}A", r"L + A\Lambda A^\top"],
        "invalid": [r"L^{-1} + A\Lambda^{-1}B^\top"],
    },
}

# slot -> intent -> chains (lists of steps)
CHAINS = {
    "ddim.marginal_var": {
        "correct": [[r"\sigma_t^2 + \frac{1 - \bar\alpha_{t-1} - \sigma_t^2}{1 - \bar\alpha_t}(1 - \bar\alpha_t)",
                     r"= \sigma_t^2 + 1 - \bar\alpha_{t-1} - \sigma_t^2", r"= 1 - \bar\alpha_{t-1}"]],
        "invalid-step": [[r"\sigma_t^2 + \frac{1 - \bar\alpha_{t-1} - \sigma_t^2}{1 - \bar\alpha_t}(1 - \bar\alpha_t)",
                          r"= \sigma_t^2 + 1 - \bar\alpha_{t-1}", r"= 1 - \bar\alpha_{t-1}"]],
    },
    "gan.square.f": {
        "correct": [[r"-\frac{4t}{t+1} = -\frac{4t + 4 - 4}{t+1}", r"= -4 + \frac{4}{t+1}"]],
        "invalid-step": [[r"-\frac{4t}{t+1} = -\frac{4t + 4 - 4}{t+1}", r"= -\frac{4t+4}{t+1}", r"= -4"]],
        "unchecked": [[r"-\frac{4t}{t+1} = -4t \cdot \frac{1}{1+t}", r"= \sum_{n=0}^{\infty} (-1)^{n+1} 4 t^{n+1}"]],
    },
    "vae.jensen": {
        "correct": [[r"\log p(X) = \log \mathbb{E}_{q(Z)}\left[\frac{p(X|Z)p(Z)}{q(Z)}\right]",
                     r"\ge \mathbb{E}_{q(Z)}\left[\log\frac{p(X|Z)p(Z)}{q(Z)}\right]",
                     r"= \mathbb{E}_{q(Z)}[\log p(X,Z) - \log q(Z)]"]],
        "invalid-step": [[r"\log p(X) = \log \mathbb{E}_{q(Z)}\left[\frac{p(X|Z)p(Z)}{q(Z)}\right]",
                          r"\le \mathbb{E}_{q(Z)}\left[\log\frac{p(X|Z)p(Z)}{q(Z)}\right]",
                          r"= \mathbb{E}_{q(Z)}[\log p(X,Z) - \log q(Z)]"]],
    },
    "ddim.kl_term": {
        "correct": [[r"\frac{1}{2\sigma_t^2}\left(\sqrt{\bar\alpha_{t-1}}(x_0 - f_\theta(x_t)) - \sqrt{\frac{1 - \bar\alpha_{t-1} - \sigma_t^2}{1 - \bar\alpha_t}}\sqrt{\bar\alpha_t}(x_0 - f_\theta(x_t))\right)^2",
                     r"= \frac{1}{2\sigma_t^2}\left(\sqrt{\bar\alpha_{t-1}} - \sqrt{\frac{(1 - \bar\alpha_{t-1} - \sigma_t^2)\bar\alpha_t}{1 - \bar\alpha_t}}\right)^2 (x_0 - f_\theta(x_t))^2",
                     r"= \frac{\gamma_t}{2\sigma_t^2} (x_0 - f_\theta(x_t))^2"]],
        "invalid-step": [[r"\frac{1}{2\sigma_t^2}\left(\sqrt{\bar\alpha_{t-1}}(x_0 - f_\theta(x_t)) - \sqrt{\frac{1 - \bar\alpha_{t-1} - \sigma_t^2}{1 - \bar\alpha_t}}\sqrt{\bar\alpha_t}(x_0 - f_\theta(x_t))\right)^2",
                          r"= \frac{1}{2\sigma_t^2}\left(\sqrt{\bar\alpha_{t-1}} - \sqrt{\frac{1 - \bar\alpha_{t-1} - \sigma_t^2}{1 - \bar\alpha_t}}\right)^2 (x_0 - f_\theta(x_t))^2",
                          r"= \frac{\gamma_t}{2\sigma_t^2} (x_0 - f_\theta(x_t))^2"]],
    },
}

# Slots used in benchmarks beyond the class (one correct form and one mistake each).
MORE = {
    "gan.square.dstar": (r"\frac{p_d - p_g}{p_d + p_g}", r"\frac{p_d}{p_d + p_g}"),
    "gan.logistic.f": (r"t\log t - (t+1)\log(t+1)", r"t\log t + (t+1)\log(t+1)"),
    "gan.zero_one.f": (r"-\min(t, 1)", r"\min(t, 1)"),
    "gan.hinge.f": (r"-2\min(t, 1)", r"-\min(t, 1)"),
    "gan.exponential.f": (r"-2\sqrt{t}", r"-\sqrt{t}"),
    "gan.exponential.dstar": (r"\frac{1}{2}\log\frac{p_d}{p_g}", r"\log\frac{p_d}{p_g}"),
    "gan.zero_one.risk": (r"\frac{1}{2}(1 - \mathrm{TV})", r"1 - \mathrm{TV}"),
    "ddim.marginal_mean": (r"\sqrt{\bar\alpha_{t-1}}\, x_0", r"\sqrt{\bar\alpha_t}\, x_0"),
    "ddim.gamma": (r"\left(\sqrt{\bar\alpha_{t-1}} - \sqrt{\frac{(1-\bar\alpha_{t-1}-\sigma_t^2)\bar\alpha_t}{1-\bar\alpha_t}}\right)^2",
                   r"\left(\sqrt{\bar\alpha_{t-1}} - \sqrt{\frac{(1-\bar\alpha_{t-1}-\sigma_t^2)}{1-\bar\alpha_t}}\right)^2"),
    "ddim.eta": (r"\eta\sqrt{\frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}}\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{t-1}}}",
                 r"\eta\sqrt{\frac{1-\bar\alpha_{t}}{1-\bar\alpha_{t-1}}}\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{t-1}}}"),
    "ddim.x0_error_to_eps": (r"\frac{1-\bar\alpha_t}{\bar\alpha_t}(\epsilon - \epsilon_\theta(x_t))^2",
                             r"\frac{1}{\bar\alpha_t}(\epsilon - \epsilon_\theta(x_t))^2"),
    "ddim.posterior_mean": (r"\sqrt{\bar\alpha_{t-1}}x_0 + \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\frac{x_t - \sqrt{\bar\alpha_t}x_0}{\sqrt{1-\bar\alpha_t}}",
                            r"\sqrt{\bar\alpha_{t}}x_0 + \sqrt{1-\bar\alpha_{t-1}-\sigma_t^2}\frac{x_t - \sqrt{\bar\alpha_t}x_0}{\sqrt{1-\bar\alpha_t}}"),
    "ddim.deterministic": (r"\sqrt{\bar\alpha_{t-1}} f_\theta(x_t) + \sqrt{1-\bar\alpha_{t-1}}\epsilon_\theta(x_t)",
                           r"\sqrt{\bar\alpha_{t}} f_\theta(x_t) + \sqrt{1-\bar\alpha_{t}}\epsilon_\theta(x_t)"),
    "sm.dsm_constant_gauss": (r"\frac{d s^2}{2\sigma^2(s^2+\sigma^2)}", r"\frac{d s^2}{\sigma^2(s^2+\sigma^2)}"),
    "sm.dsm_equiv": (r"l(\theta) + C_3 - C_2", r"l + C_2 - C_3"),
    "lemma.marginal_mean": (r"A\mu + b", r"A\mu - b"),
    "lemma.posterior_cov": (r"(\Lambda + A^\top L A)^{-1}", r"(\Lambda + A L A^\top)^{-1}"),
    "vae.reparam": (r"\mu + \sigma\epsilon", r"\mu + \sigma^2\epsilon"),
}

INTENTS = ("correct", "wrong", "invalid", "unchecked")


def pick_intent(rng: random.Random, skill: float, available) -> str:
    r = rng.random()
    if r < skill:
        intent = "correct"
    elif r < skill + (1 - skill) * 0.55:
        intent = "wrong"
    elif r < skill + (1 - skill) * 0.8:
        intent = "invalid"
    else:
        intent = "unchecked"
    return intent if intent in available else ("wrong" if "wrong" in available else "correct")


def student_sheet(student: str, rng: random.Random, skill: float, answer_slots=None, chain_slots=None) -> dict:
    """One student's sheet as the YAML/JSON mapping (slots answered in the given order)."""
    answers, chains = {}, {}
    chain_slots = list(chain_slots or ())
    for slot in answer_slots if answer_slots is not None else ANSWERS:
        if slot in chain_slots:         # a slot answered by a chain has no separate answer
            continue
        if slot in ANSWERS:
            bank = ANSWERS[slot]
            answers[slot] = rng.choice(bank[pick_intent(rng, skill, bank)])
        else:
            good, bad = MORE[slot]
            answers[slot] = good if rng.random() < skill else bad
    for slot in chain_slots:
        bank = CHAINS[slot]
        r = rng.random()
        intent = "correct" if r < skill else ("unchecked" if "unchecked" in bank and r > 0.9 else "invalid-step")
        chains[slot] = list(rng.choice(bank[intent]))
    out = {"student": student, "answers": answers}
    if chains:
        out["chains"] = chains
    return out


def _tex(sheet: dict, with_id: bool) -> str:
    lines = [r"\documentclass{article}", r"\begin{document}", "% homework 4, generative models"]
    if with_id:
        lines.append(rf"\student{{{sheet['student']}}}")
    for slot, latex in sheet["answers"].items():
        lines += [f"Answer to {slot}:", rf"\answer{{{slot}}}{{{latex}}}", ""]
    for slot, steps in sheet.get("chains", {}).items():
        lines.append(f"Derivation for {slot}:")
        lines += [rf"\step{{{slot}}}{{{s}}}" for s in steps]
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "malformed.yaml": "student: s90\nanswers:\n  gan.square.f: [unclosed\n",
    "alias_bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nstudent: s91\n",
    "duplicate_key.yaml": "student: s92\nanswers:\n  gan.square.f: -\\frac{4t}{t+1}\n  gan.square.f: \\frac{4t}{t+1}\n"
                          "  ddim.marginal_var: 1 - \\bar\\alpha_{t-1}\n",
    "unknown_slot.json": json.dumps({"student": "s93", "answers": {"gan.sqare.f": "-4t/(t+1)",
                                                                   "ddim.marginal_var": r"1 - \bar\alpha_{t-1}"}}),
    "bad_student_id.json": json.dumps({"student": "../../etc/passwd", "answers": {"gan.square.f": "t"}}),
    "unbalanced.tex": "\\student{s94}\n\\answer{gan.square.f}{-\\frac{4t}{t+1}\n",
    "python_tag.yaml": "student: s95\nanswers: !!python/object/apply:os.system ['echo hacked']\n",
    "notes.txt": "not an answer sheet\n",
    "bad_header.csv": "name,question,answer\ns96,gan.square.f,t\n",
}


def write_class(root: Path, seed: int = SEED) -> None:
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    (root / "yaml").mkdir(parents=True)
    (root / "json").mkdir()
    (root / "latex").mkdir()
    (root / "csv").mkdir()
    (root / "hostile").mkdir()
    chain_slots = list(CHAINS)
    rows = []
    for i in range(1, 35):
        student = f"s{i:02d}"
        skill = 0.35 + 0.6 * ((i * 37) % 34) / 33
        sheet = student_sheet(student, rng, skill, chain_slots=rng.sample(chain_slots, 2))
        if i <= 12:
            (root / "yaml" / f"{student}.yaml").write_text(yaml.safe_dump(sheet, sort_keys=False, allow_unicode=True,
                                                                         width=1000))
        elif i <= 16:
            (root / "json" / f"{student}.json").write_text(json.dumps(sheet, indent=2) + "\n")
        elif i <= 25:
            name = student if i % 2 else f"homework_{student}"
            (root / "latex" / f"{name}.tex").write_text(_tex(sheet, with_id=not i % 2))
        else:
            for slot, latex in sheet["answers"].items():
                rows.append([student, slot, latex, ""])
            for slot, steps in sheet.get("chains", {}).items():
                rows += [[student, slot, s, str(k)] for k, s in enumerate(steps, 1)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", "slot", "latex", "step"])
    w.writerows(rows)
    (root / "csv" / "course_export.csv").write_text(buf.getvalue())
    for name, text in HOSTILE.items():
        (root / "hostile" / name).write_text(text)
    junk = random.Random(seed + 1).randbytes(4096)
    (root / "hostile" / "junk.json").write_bytes(junk)
    (root / "roster.csv").write_text(_roster())


ROSTER_NAMES = [("Lovelace", "Ada"), ("Turing", "Alan"), ("Hopper", "Grace"), ("Noether", "Emmy"), ("Goedel", "Kurt"),
                ("Kovalevskaya", "Sofia"), ("von Neumann", "John"), ("Mirzakhani", "Maryam"),
                ("Ramanujan", "Srinivasa"), ("Tao", "Terence"), ("Kolmogorov", "Andrey"), ("Uhlenbeck", "Karen"),
                ("Fermat", "Pierre"), ("Germain", "Sophie"), ("Gauss", "Carl"), ("Riemann", "Bernhard"),
                ("Euler", "Leonhard"), ("Fourier", "Joseph"), ("Byron", "Ada"), ("Hilbert", "David"),
                ("Weyl", "Hermann"), ("Klein", "Felix"), ("Artin", "Emil"), ("Ladyzhenskaya", "Olga"),
                ("Cartwright", "Mary"), ("Shannon", "Claude"), ("Wiener", "Norbert"), ("Hamming", "Richard"),
                ("Franklin", "Rosalind"), ("Dijkstra", "Edsger"), ("Liskov", "Barbara"), ("Knuth", "Donald"),
                ("Allen", "Frances"), ("Lamarr", "Hedy"), ("Wirth", "Niklaus")]


def _roster() -> str:
    """The course's roster, as Canvas exports it (plus e-mails): s01-s34 hand in a sheet, s35 does
    not; the hostile sheets' students (s89-s99) are not on it. ``derivcheck export`` reads it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Email"])
    for i, (last, first) in enumerate(ROSTER_NAMES, 1):
        w.writerow([f"{last}, {first}", 1000 + i, f"U{i:04d}", f"s{i:02d}", f"Section {'A' if i % 2 else 'B'}",
                    f"S{i:02d}@Example.EDU"])
    return buf.getvalue()


if __name__ == "__main__":
    write_class(HERE / "class")
    print(f"wrote {HERE / 'class'}")
