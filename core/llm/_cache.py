"""A response cache on disk, so an agent backtest with an LLM reruns free and identical."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.llm._types import ChatMessage, LLMReply
from core.settings import Settings

CACHE_FILE = "llm_cache.sqlite3"


def request_key(
    model: str,
    messages: Sequence[ChatMessage],
    schema: type[BaseModel] | None = None,
    tools: Sequence[dict[str, Any]] | None = None,
) -> str:
    """sha256 of everything that shapes the answer: the model, the messages, the schema
    (its name and JSON schema, so editing a field invalidates old answers) and the tools."""
    request = {
        "model": model,
        "messages": [m.to_dict() for m in messages],
        "schema": None if schema is None else [schema.__name__, schema.model_json_schema()],
        "tools": list(tools or []),
    }
    blob = json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """SQLite file of replies keyed by ``request_key``. Safe to share between threads;
    one writer at a time (SQLite's own locking covers several processes)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        with self._conn:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)"
            )

    @classmethod
    def open_default(cls, settings: Settings) -> ResponseCache:
        """The cache in the state folder (``STATE/llm_cache.sqlite3``)."""
        return cls(settings.state_path / CACHE_FILE)

    def get(self, key: str) -> LLMReply | None:
        with self._lock:
            row = self._conn.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return None if row is None else LLMReply.model_validate_json(row[0])

    def put(self, key: str, reply: LLMReply) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO replies (key, reply) VALUES (?, ?)",
                (key, reply.model_dump_json()),
            )

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._conn.execute("SELECT COUNT(*) FROM replies").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
