"""The notebooks run as tests through nbmake when it is installed (the ``[test]`` extra brings it,
so CI runs them); without nbmake, pytest still runs, and each notebook is reported as skipped
with the reason instead of silently vanishing. ``--nbmake`` is therefore not in addopts (an
unknown option would stop pytest where nbmake is absent)."""
from __future__ import annotations

import pytest

NOT_RUN = ("nbmake is not installed: this notebook was NOT executed "
           "(pip install nbmake, or the project's [test] extra)")


def pytest_configure(config):
    if config.pluginmanager.hasplugin("nbmake"):
        config.option.nbmake = True


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".ipynb" and not parent.config.pluginmanager.hasplugin("nbmake"):
        return NotebookNotRun.from_parent(parent, path=file_path)
    return None


class NotebookNotRun(pytest.File):
    def collect(self):
        yield NotRunItem.from_parent(self, name=self.path.name)


class NotRunItem(pytest.Item):
    def runtest(self):
        pytest.skip(NOT_RUN)

    def reportinfo(self):
        return self.path, None, f"notebook {self.path.name} (not run)"
