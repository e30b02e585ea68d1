"""``derivcheck serve``: a local self-check page for students and a JSON API.

=========  ================================================================
app        the Starlette application: pages, ``/api/*``, limits, headers
checker    one warm grader shared by all requests; the bounded queue
worker     what runs in a sandboxed worker for the preview (the reader)
prompts    a slot's prompt without its reference
cli        the click command, registered in ``derivations.cli``
=========  ================================================================

Public: ``create_app(Settings(...)) -> Starlette``; the API returns what ``derivcheck answer
--json`` returns (``POST /api/answer {slot, latex}``, ``POST /api/chain {slot, steps}``) and
``GET /api/slots`` lists the slots (references only with ``reveal_reference``).
"""
from __future__ import annotations


def create_app(*args, **kwargs):
    from .app import create_app as make
    return make(*args, **kwargs)


def __getattr__(name):
    if name == "Settings":
        from .app import Settings
        return Settings
    raise AttributeError(name)


__all__ = ["create_app", "Settings"]
