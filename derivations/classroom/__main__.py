"""``python -m derivations.classroom SHEETS... --out DIR [options]``: an alias of ``derivcheck
grade`` (the one CLI, derivations/cli.py; same options, same exit status)."""
from __future__ import annotations

import sys

from ..cli import main

if __name__ == "__main__":
    main(["grade", *sys.argv[1:]], prog_name="derivcheck")
