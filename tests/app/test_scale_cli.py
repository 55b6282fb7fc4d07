"""The commands of issue 16 refuse what cannot work, saying how to fix it (exit 2)."""

from __future__ import annotations

from typer.testing import CliRunner

from app.cli import app


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_worker_without_a_broker_exits_2_naming_the_setting() -> None:
    code, output = _run("worker")
    assert code == 2
    assert "TILLER_WORKER_BROKER=redis://" in output


def test_run_queue_without_a_broker_exits_2_naming_the_setting() -> None:
    code, output = _run("run", "--queue", "--symbol", "AAPL")
    assert code == 2
    assert "TILLER_WORKER_BROKER" in output


def test_a_broker_url_of_another_kind_exits_2_naming_the_two_that_work() -> None:
    code, output = _run("worker", env={"TILLER_WORKER_BROKER": "kafka://h:9092"})
    assert code == 2
    assert "redis://" in output and "amqp://" in output and "kafka://h" not in output


def test_train_policy_with_an_unknown_backend_or_a_stray_address_exits_2() -> None:
    code, output = _run("train", "policy", "--backend", "dask")
    assert code == 2 and "process or ray" in output
    code, output = _run("train", "policy", "--address", "ray://head:10001")
    assert code == 2 and "--backend ray" in output
