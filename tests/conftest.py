"""The registry's test items (tests/catalogue.derivcheck) come from derivcheck's pytest plugin,
which pytest loads through its ``pytest11`` entry point (pyproject.toml), not from here: listing
it in ``pytest_plugins`` as well would register it twice."""
from __future__ import annotations

import pytest


def pytest_configure(config):
    manager = config.pluginmanager
    if not manager.hasplugin("derivcheck") and not manager.is_blocked("derivcheck"):   # -p no:derivcheck
        raise pytest.UsageError(
            "derivcheck's pytest plugin is not registered (entry point pytest11 'derivcheck'): install "
            "the project first, e.g. pip install -c constraints/cpu.txt -e \".[test]\"; without it the "
            "registry's test items in tests/catalogue.derivcheck would silently not run")
