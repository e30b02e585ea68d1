"""The committed notebooks are exactly what notebooks/build.py writes, without outputs (they are
executed by nbmake: `pytest --nbmake notebooks/`)."""
from __future__ import annotations

import runpy
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_notebooks_are_in_sync_with_their_generator():
    built = runpy.run_path(str(NOTEBOOKS / "build.py"))["NOTEBOOKS"]
    assert sorted(built) == ["01_vae", "02_hvae", "03_gan_f_divergences", "04_score_matching", "05_ddim"]
    for name, nb in built.items():
        on_disk = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(on_disk)
        assert [c.source for c in on_disk.cells] == [c.source for c in nb.cells], \
            f"{name}.ipynb is stale: run `python notebooks/build.py`"
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in on_disk.cells if c.cell_type == "code"), f"{name}.ipynb is committed with outputs"
