"""The ``derivcheck serve`` command (registered in ``derivations.cli``)."""
from __future__ import annotations

import time

import click

from ..grading.sandbox import TIMEOUT


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (the default serves this machine only).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0: any free port.")
@click.option("--reveal-reference", is_flag=True, help="Show the reference answers (not for self-check).")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True, help="Sandboxed worker processes.")
@click.option("--timeout", type=click.FloatRange(min=0.5), default=TIMEOUT, show_default=True,
              help="Seconds per answer (a chain gets up to 6x); past it the answer is unchecked.")
@click.option("--rate", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Checks per minute per client address (bursts of 20).")
@click.option("--log", "log_file", type=click.Path(dir_okay=False), help="Append one line per check here.")
def serve(host, port, reveal_reference, jobs, timeout, rate, log_file):
    """Start the self-check web page for students (and its JSON API) and print its address.

    ``--questions DIR`` (added by ``derivations.questions.commands``) registers YAML questions
    first; their slots are served with the built-in ones."""
    import socket

    try:
        import uvicorn

        from .app import Settings, create_app
    except ImportError as exc:
        raise click.ClickException(f"derivcheck serve needs the serve extra ({exc.name} is missing): "
                                   "pip install 'derivcheck[serve]'") from None

    started = time.perf_counter()
    settings = Settings(reveal_reference=reveal_reference, jobs=jobs, timeout=timeout, rate=rate,
                        log_file=log_file)
    app = create_app(settings)
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on such sockets, and without it a
    # response's body waits for the client's delayed ACK of its headers (40 ms per request)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"derivcheck serve: http://{shown}:{bound}/  (ready in {time.perf_counter() - started:.1f} s; "
               f"{'references shown' if reveal_reference else 'self-check: references hidden'}; Ctrl+C stops)",
               err=False)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo("warning: listening beyond this machine; anyone who can reach it can use the checker", err=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
