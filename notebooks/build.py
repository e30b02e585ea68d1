"""Write the five walk-through notebooks (one per question) from one place, so they stay in sync.

    python notebooks/build.py          # rewrites notebooks/0*.ipynb without outputs

Each notebook uses derivcheck's public API only: the registry and ``verify.run`` for the
derivation steps (rendered as math with their evidence), ``numeric_checks.core`` and
``derivations.publish.plots`` for one numeric check with a plot, and
``derivations.grading.grade_answer`` for a worked grading example. Sample counts are small:
each notebook executes in well under a minute on two cores (they run under pytest via nbmake).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
from IPython.display import Markdown, display

from derivations import registry, verify
from derivations.grading import grade_answer
from derivations.publish import notebook as nb, plots
from numeric_checks import core

registry.load()"""


def derivation_cell(ids) -> str:
    return (f"for d in registry.select({list(ids)!r}):\n"
            "    nb.show_derivation(verify.run(d))")


def check_cell(slot_id: str, samples: int) -> str:
    return (f"check = core.checks()[{slot_id!r}][0]\n"
            f"result = core.run_check(check, samples={samples})\n"
            "nb.show_rows(result.rows())\n"
            "nb.show_figure(nb.check_figure(result.rows(), f'{check.id}: {check.fn.__name__}'))\n"
            "assert result.passed, 'a numeric check failed: see the table above'")


def grade_cell(slot_id: str, pair) -> str:
    """Grade a right and a wrong answer; the asserts make the notebook a test of the grader."""
    answers = zip(pair, ("correct", "wrong"))
    lines = [f"slot = registry.get_slot({slot_id!r})",
             "display(Markdown(f'`{slot.id}`: {nb.md(slot.statement)}'))"]
    for answer, expected in answers:
        assert "'" not in answer and not answer.endswith("\\")
        lines += [f"answer = r'{answer}'",
                  "display(Markdown(f'student writes: ${answer}$'))",
                  f"graded = grade_answer({slot_id!r}, answer)",
                  "nb.show_grade(graded)",
                  f"assert graded.verdict == {expected!r}, graded.message"]
    return "\n".join(lines)


def notebook(title: str, intro: str, parts) -> nbformat.NotebookNode:
    cells = [new_markdown_cell(f"# {title}\n\n{intro}"), new_code_cell(SETUP)]
    for heading, text, code in parts:
        cells.append(new_markdown_cell(f"## {heading}\n\n{text}"))
        cells.append(new_code_cell(code))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


STEPS = ("The derivation, step by step",
         "Each step is checked when the cell runs. The tag says what backs it: `symbolic` (SymPy proves "
         "it under the declared domains), `family: ...` (proved in a stated concrete family only), "
         "`exact numeric` (50-digit evaluation at random admissible points, never called a proof), or "
         "`refuted` with a counterexample. A step marked *claim quoted from the seed* is the homework's "
         "own reference solution, tested rather than asserted.")
NUMERIC = "A numeric cross-check"
GRADING = ("Grading an answer",
           "`grade_answer(slot, latex)` parses the LaTeX safely (no `eval`), compares it with the slot's "
           "reference under the slot's assumptions and, when it is wrong, names the mistake by finding which "
           "small mutation of the reference it equals, with a point where the two differ.")

NOTEBOOKS = {
    "01_vae": notebook(
        "Q1. A VAE, step by step",
        "Variational inference for a latent-variable model: the marginal likelihood, the ELBO and its gap, "
        "and the Gaussian KL that the VAE loss uses. In the linear-Gaussian family every quantity has a "
        "closed form, so the catalogue proves its claims there symbolically.",
        [(*STEPS, derivation_cell(("vae.elbo_gap", "vae.jensen", "vae.elbo_decomp", "vae.gauss_kl_1d"))),
         (NUMERIC,
          "The registered check of `vae.elbo_gap` (Monte Carlo ELBO and gap against the closed forms), then "
          "ELBO <= IWAE_K <= log p(X) against K in the same linear-Gaussian model, with a proposal that is "
          "not the posterior.",
          check_cell("vae.elbo_gap", 20000) + "\n"
          "v = plots.iwae_values(Ks=(1, 2, 4, 8, 16, 32), groups=1000)\n"
          "z1 = (v['iwae'][0] - v['elbo']) / v['se'][0]\n"
          "display(Markdown(f\"log p(X) = {v['log_p']:.4f}, ELBO = {v['elbo']:.4f}; IWAE_1 = {v['iwae'][0]:.4f} \"\n"
          "                 f\"+- {v['se'][0]:.4f} (z = {z1:+.2f} against the closed-form ELBO)\"))\n"
          "nb.show_figure(plots.iwae_bounds(Ks=(1, 2, 4, 8, 16, 32), groups=1000)[0])"),
         (*GRADING, grade_cell("vae.gauss_kl_1d", [
             r"\log\frac{\sigma_z}{\sigma} + \frac{\sigma^2 + (\mu-\mu_z)^2}{2\sigma_z^2} - \frac12",
             r"\log\frac{\sigma_z}{\sigma} + \frac{\sigma^2 + (\mu-\mu_z)^2}{\sigma_z^2} - \frac12"]))]),
    "02_hvae": notebook(
        "Q2. A two-level hierarchical VAE",
        "p(x, z1, z2) = p(x|z1) p(z1|z2) p(z2) with q(z1, z2|x) = q(z1|x) q(z2|z1). The seed's solution moves "
        "an expectation over z2 inside a KL over z1 although z2 is drawn after, and from, z1; its own text "
        "flags the step, and derivcheck refutes it with a counterexample.",
        [(*STEPS, derivation_cell(("hvae.decomp", "hvae.invalid_kl_step"))),
         (NUMERIC,
          "Posterior collapse in a linear-Gaussian HVAE whose decoder does not need z2: the registered "
          "`hvae.collapse` check trains the plain ELBO and its remedies and compares the KL of the top layer "
          "and the active units with the closed forms.",
          check_cell("hvae.collapse", 1000)),
         (*GRADING, grade_cell("hvae.decomp", [
             r"\mathbb{E}_{q(z_1\mid x)}[\log p(x\mid z_1)] - \mathbb{E}_{q(z_1\mid x)q(z_2\mid z_1)}"
             r"[\log q(z_1\mid x) - \log p(z_1\mid z_2)] - \mathbb{E}_{q(z_1\mid x)}[\mathrm{KL}(q(z_2\mid z_1)"
             r"\,\|\,p(z_2))]",
             r"\mathbb{E}_{q(z_1\mid x)}[\log p(x\mid z_1)] - \mathbb{E}_{q(z_2\mid z_1)}[\mathrm{KL}(q(z_1\mid x)"
             r"\,\|\,p(z_1\mid z_2))] - \mathbb{E}_{q(z_1\mid x)}[\mathrm{KL}(q(z_2\mid z_1)\,\|\,p(z_2))]"]))]),
    "03_gan_f_divergences": notebook(
        "Q3. GAN discriminators and f-divergences",
        "For a margin loss l, the best discriminator with unlimited capacity minimises l(D) p_d + l(-D) p_g "
        "pointwise; with t = p_d/p_g, f(t) = -inf_a [l(a) t + l(-a)] is convex and the best risk is "
        "-1/2 I_f(P_d, P_g). derivcheck computes D*, f and the named divergence from the loss alone.",
        [(*STEPS, derivation_cell(("gan.general", "gan.square"))),
         (NUMERIC,
          "The best risk of the square loss by quadrature on two pairs of densities, against the derived "
          "closed forms; then f and D* of every loss in the registry.",
          check_cell("gan.square.risk", 5000) + "\nnb.show_figure(plots.gan_losses()[0])"),
         (*GRADING, grade_cell("gan.square.f", [r"-\frac{4t}{t+1}", r"-\frac{2t}{t+1}"]))]),
    "04_score_matching": notebook(
        "Q4. Score matching",
        "Explicit score matching needs the unknown score of the data; denoising score matching replaces it "
        "by the kernel's score, and differs from the explicit objective on the noised data only by a "
        "constant C = C_3 - C_2 that does not depend on theta.",
        [(*STEPS, derivation_cell(("sm.kernel_score", "sm.dsm_constant_gauss"))),
         (NUMERIC,
          "l_3 - l for random MLP score models on Gaussian data against the derived constant, then the same "
          "across a one-parameter family s_theta = theta MLP.",
          check_cell("sm.dsm_constant_gauss", 20000) + "\nnb.show_figure(plots.dsm_across_theta(samples=5000)[0])"),
         (*GRADING, grade_cell("sm.dsm_constant_gauss", [r"\frac{d s^2}{2\sigma^2(s^2+\sigma^2)}",
                                                         r"\frac{d s^2}{2\sigma^2(s^2-\sigma^2)}"]))]),
    "05_ddim": notebook(
        "Q5. DDIM: a non-Markovian forward process",
        "DDIM defines q_sigma(x_{t-1} | x_t, x_0) so that every marginal q_sigma(x_t | x_0) stays "
        "N(sqrt(abar_t) x_0, (1 - abar_t) I) for any sigma with sigma_t^2 <= 1 - abar_{t-1}; the loss is then "
        "a weighted DDPM loss, and sigma = 0 gives a deterministic sampler.",
        [(*STEPS, derivation_cell(("ddim.family", "ddim.ddpm"))),
         (NUMERIC,
          "The chain sampled from x_T down with the registry's own posterior mean: mean and variance of "
          "x_t | x_0 against the slot references, for eta = 0, 0.5, 1 and a random admissible sigma.",
          check_cell("ddim.marginal_var", 4000) + "\nnb.show_figure(plots.ddim_variance(samples=4000)[0])"),
         (*GRADING, grade_cell("ddim.gamma", [
             r"\left(\sqrt{\bar\alpha_{t-1}} - \sqrt{\frac{(1-\bar\alpha_{t-1}-\sigma_t^2)\bar\alpha_t}"
             r"{1-\bar\alpha_t}}\right)^2",
             r"\left(\sqrt{\bar\alpha_{t-1}} + \sqrt{\frac{(1-\bar\alpha_{t-1}-\sigma_t^2)\bar\alpha_t}"
             r"{1-\bar\alpha_t}}\right)^2"]))]),
}


def main() -> None:
    for name, nb in NOTEBOOKS.items():
        path = HERE / f"{name}.ipynb"
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{name}-{i:02d}"      # stable ids: regenerating changes nothing
        nbformat.validate(nb)
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
