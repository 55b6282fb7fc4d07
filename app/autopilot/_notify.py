"""Webhook notifications (``TILLER_NOTIFY_WEBHOOK``): orders, denials, halts, errors.

Never in trading's way: events go on a bounded queue that one background thread POSTs
as JSON, with a few retries and a short timeout; when the queue is full the event is
dropped and counted, because a slow receiver must not slow the autopilot down.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from datetime import datetime
from typing import Any

log = logging.getLogger("app.autopilot")

RETRIES = 3
BACKOFF_S = (0.5, 1.0, 2.0)
TIMEOUT_S = 5.0
QUEUE_SIZE = 1000


class Notifier:
    def __init__(self, url: str, *, backoff: tuple[float, ...] = BACKOFF_S) -> None:
        self.url = url
        self.backoff = backoff
        self.dropped = 0
        self.failed = 0
        self.sent = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="autopilot-notify", daemon=True)
        self._thread.start()

    def send(self, kind: str, at: datetime, **fields: Any) -> None:
        event = {"source": "tiller.autopilot", "kind": kind, "at": at.isoformat(), **fields}
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued within ``timeout``; what is left then is dropped."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):  # full: the thread is behind, see below
            self._queue.put(None, timeout=timeout)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._abandon.set()

    def _loop(self) -> None:
        import httpx

        with httpx.Client(timeout=TIMEOUT_S) as client:
            while True:
                event = self._queue.get()
                if event is None or self._abandon.is_set():
                    return
                self._deliver(client, event)

    def _deliver(self, client: Any, event: dict[str, Any]) -> None:
        import httpx

        for attempt in range(RETRIES):
            if self._abandon.is_set():
                return
            try:
                reply = client.post(self.url, json=event)
                if reply.status_code < 500 and reply.status_code != 429:
                    if reply.status_code >= 400:
                        self.failed += 1  # refused: sending again would not help
                        log.warning("webhook refused a %s event: HTTP %s", event["kind"],
                                    reply.status_code)  # fmt: skip
                    else:
                        self.sent += 1
                    return
            except httpx.HTTPError as exc:
                log.warning("webhook unreachable (%s), attempt %d", type(exc).__name__, attempt + 1)
            time.sleep(self.backoff[min(attempt, len(self.backoff) - 1)])
        self.failed += 1
