"""``python -m derivations.publish latex|report ...``: an alias of ``derivcheck latex`` and
``derivcheck report`` (the one CLI, derivations/cli.py; same options, same exit status)."""
from __future__ import annotations

import sys

from ..cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] not in (["latex"], ["report"]) and not set(args[:1]) & {"-h", "--help"}:
        print("usage: python -m derivations.publish latex|report ... (the same as derivcheck latex|report; "
              "see derivcheck latex --help)", file=sys.stderr)
        sys.exit(2)
    main(args, prog_name="derivcheck")
