"""``tiller serve``: the HTTP API (FastAPI + uvicorn), on loopback by default."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from app.cli._common import container, err, handle_errors
from core.errors import ConfigError


def _loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, treat it as reachable


@handle_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    log_level: Annotated[
        str | None, typer.Option(help="debug, info, warning, error (default TILLER_LOG_LEVEL).")
    ] = None,
) -> None:
    """Serve the API (OpenAPI at /openapi.json, docs at /docs). Every request needs an API
    key (`tiller keys create`); on an interface other than loopback the server refuses to
    start until one exists."""
    import uvicorn

    from app.api import create_app
    from app.logs import configure_logging
    from app.services.keys import has_active_keys

    if log_level not in (None, "debug", "info", "warning", "error"):
        raise ConfigError(f"--log-level must be debug, info, warning or error, not {log_level!r}")
    c = container()
    level = log_level or c.settings.log_level
    keys = has_active_keys(c)
    if not _loopback(host) and not keys:
        raise ConfigError(
            f"refusing to listen on {host}: no API key exists, so nothing could use the API "
            "safely there",
            hint="create one first: tiller keys create --role admin --name NAME",
        )
    if not keys:
        err.print("[yellow]warning:[/] no API key exists yet: every request will be refused "
                  "(401). Create one: tiller keys create --role trader --name me")  # fmt: skip
    err.print(f"Tiller API on http://{host}:{port} (docs at /docs)", highlight=False)
    configure_logging(c.settings, level)  # uvicorn's loggers too: one format, redacted
    uvicorn.run(create_app(c), host=host, port=port, log_level=level, log_config=None)
