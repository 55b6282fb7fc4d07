"""A real process running the agents is killed (SIGKILL) in the middle of a run; another
process resumes the run from its checkpoint and no order is sent twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

TILLER = [sys.executable, "-c", "from app.cli import main; main()"]


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "TILLER_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


def _run_and_kill_when(line_starts: str, home: Path) -> None:
    proc = subprocess.Popen(
        [*TILLER, "run", "--symbol", "MSFT", "--mode", "auto"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=_env(home), text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(line_starts):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)


def _cli(home: Path, *args: str) -> dict:
    done = subprocess.run([*TILLER, *args, "--json"], capture_output=True, text=True,
                          env=_env(home), timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict = json.loads(done.stdout)
    return result


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["✓ execute", "✓ risk_gate"])
def test_a_run_killed_mid_run_resumes_from_its_checkpoint_without_resending(
    tmp_path: Path, kill_at: str
) -> None:
    home = tmp_path / "home"
    _run_and_kill_when(kill_at, home)
    [run] = _cli(home, "runs", "list")["runs"]
    if kill_at == "✓ risk_gate":  # execute needs far longer than a SIGKILL takes to land
        assert run["status"] == "running"
    if run["status"] == "running":  # the kill landed before the run finished
        resumed = _cli(home, "run", "resume", run["run_id"])
        assert resumed["status"] == "succeeded"
    shown = _cli(home, "runs", "show", run["run_id"])
    assert shown["outcome"] == "executed"
    from app.bootstrap import build

    c = build(home=home)
    orders = c.ledger.orders()
    assert len(orders) == 1  # sent once, whatever the moment of the kill
    [position] = c.ledger.positions(venue="paper")
    assert position.quantity == orders[0].quantity
    assert c.ledger.audit.verify().ok
