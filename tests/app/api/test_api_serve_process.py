"""The README's API example, run as written against a real `tiller serve` process: a key
created by the CLI, a run started over HTTP, its events followed over SSE until it waits
for approval, the approval, the filled paper order, the run record and the audit check.

Only the port differs (a free one, not 8000)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def readme_api_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## The API\n", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the README's API section has no sh example"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def json_answers(out: str) -> list[dict]:
    """The JSON objects curl printed (no newline after them; the server's access log and
    the events' data lines interleave)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := out.find('{"', at)) != -1:
        if out[max(0, at - 6) : at] == "data: ":
            at += 2
            continue
        value, end = decoder.raw_decode(out, at)
        found.append(value)
        at = end
    return found


@pytest.mark.slow
def test_the_readme_api_example_drives_a_real_server_from_a_run_to_a_filled_order(
    tmp_path: Path,
) -> None:
    port = free_port()
    example = readme_api_example()
    assert "tiller serve &" in example and "localhost:8000" in example
    example = example.replace("tiller serve &", f"tiller serve --port {port} &")
    example = example.replace("localhost:8000", f"localhost:{port}")
    # Whatever happens, the background server does not outlive the script.
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + example
    env = {**os.environ, "TILLER_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    events = re.findall(r"^event: (\w+)$", out, re.MULTILINE)
    assert events[0] == "run_started" and events[-1] == "awaiting_approval"
    assert {"node_started", "node_finished", "proposal", "risk_verdict"} <= set(events)
    approved, orders, record, audit = json_answers(out)[-4:]
    assert approved["status"] == "succeeded" and approved["outcome"] == "executed"
    [order] = orders["orders"]
    assert (order["symbol"], order["side"], order["status"]) == ("AAPL", "buy", "filled")
    assert record["run_id"] == approved["run_id"] and record["tampered"] == []
    assert any(e["kind"] == "order" for e in record["events"])
    assert audit["ok"] is True
