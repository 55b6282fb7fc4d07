"""Helpers for the API tests: an app around a container of its own (one per module: an
agent run costs seconds, mostly loading models once), keys of each role, and a reader of
server-sent events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.api import create_app
from app.bootstrap import Container, build
from app.services.keys import KeyRequest, create_key

ROLES = ("viewer", "trader", "admin")


@dataclass
class Api:
    client: TestClient
    c: Container
    keys: dict[str, str]  # role -> key

    def h(self, role: str | None, **extra: str) -> dict[str, str]:
        """Headers carrying the key of ``role`` (None: no key)."""
        return {**({"X-API-Key": self.keys[role]} if role else {}), **extra}


def container(home: Path, **settings: Any) -> Container:
    return build(home=home, **settings)


@contextmanager
def api(home: Path, *, recover: bool = True, **settings: Any) -> Iterator[Api]:
    c = container(home, **settings)
    keys = {r: create_key(c, KeyRequest(name=f"{r}-key", role=r)).key for r in ROLES}  # type: ignore[arg-type]
    app = create_app(c, recover=recover)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, c, keys)


def sse(client: TestClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every event of a stream that ends by itself: {"event", "id", "data"}."""
    events, current = [], {}
    with client.stream("GET", url, headers=headers, timeout=120) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "data" in current:
                    events.append(current)
                current = {}
            elif line.startswith(("event:", "id:", "data:")):
                name, _, value = line.partition(":")
                current[name] = json.loads(value) if name == "data" else value.strip()
    return events
