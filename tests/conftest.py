pytest_plugins = ["derivations.pytest_plugin"]
