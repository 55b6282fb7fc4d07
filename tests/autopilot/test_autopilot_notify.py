"""Webhook notifications (TILLER_NOTIFY_WEBHOOK) over a real local HTTP server: events
arrive as JSON, a failing receiver is retried a bounded number of times, and nothing
the receiver does slows the autopilot down."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.autopilot import Autopilot, JobSpec
from app.autopilot._notify import Notifier
from app.bootstrap import Container
from app.services.risk import halt


class Receiver:
    """A webhook receiver that records events and answers with ``status`` (or hangs)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.attempts = 0
        self.status = 204
        self.hang = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.attempts += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.hang.is_set():
                    time.sleep(2)
                if receiver.status < 300:
                    receiver.events.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def test_denials_of_a_slot_then_posted_as_json_events(
    receiver: Receiver, pilot: Autopilot, c: Container
) -> None:
    pilot.notifier = Notifier(receiver.url, backoff=(0.01,))
    pilot.store.add(JobSpec(name="j", symbols=["MSFT"], every=timedelta(hours=1)),
                    pilot.clock.now())  # fmt: skip
    halt(c, "drill", operator="tester")
    pilot.run_slot("j", datetime(2026, 12, 7, tzinfo=UTC))
    pilot.notifier.close()
    kinds = {e["kind"] for e in receiver.events}
    assert "denial" in kinds
    denial = next(e for e in receiver.events if e["kind"] == "denial")
    assert denial["source"] == "tiller.autopilot" and denial["job"] == "j"
    assert denial["symbol"] == "MSFT" and "STATE_HALTED" in denial["reason_codes"]


def test_receiver_failing_then_a_bounded_number_of_retries_and_counted_failed(
    receiver: Receiver,
) -> None:
    receiver.status = 503
    notifier = Notifier(receiver.url, backoff=(0.01,))
    notifier.send("error", datetime.now(UTC), error="boom")
    notifier.close()
    assert receiver.attempts == 3 and notifier.failed == 1 and notifier.sent == 0


def test_slow_receiver_then_sending_never_waits_and_a_full_queue_drops(
    receiver: Receiver,
) -> None:
    receiver.hang.set()
    notifier = Notifier(receiver.url, backoff=(0.01,))
    for n in range(1100):  # a send that waited for the receiver would hang here
        notifier.send("order", datetime.now(UTC), n=n)
    assert notifier.dropped >= 1  # the queue is bounded: the surplus is dropped, counted
    notifier.close(timeout=0.1)
