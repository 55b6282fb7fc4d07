"""Balances, runs and the persisted risk state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.ledger import (
    Balance,
    Ledger,
    LedgerError,
    RunStatus,
    StaleStateError,
    UnknownRecordError,
)
from tests.core.ledger.ledger_support import T0


def test_set_balances_replaces_the_venue_snapshot(ledger: Ledger) -> None:
    ledger.set_balances(
        "binance",
        [Balance("USDT", Decimal("1000.5"), Decimal("200")), Balance("BTC", Decimal("0.25"))],
    )
    ledger.set_balances("paper", [Balance("USD", Decimal(10_000))])
    after = ledger.set_balances("binance", [Balance("USDT", Decimal(900), Decimal(300))])

    assert [(b.currency, b.free, b.used, b.total) for b in after] == [
        ("USDT", Decimal(900), Decimal(300), Decimal(1200))
    ]
    assert {b.venue for b in ledger.balances()} == {"binance", "paper"}


def test_a_negative_or_non_decimal_balance_is_refused() -> None:
    with pytest.raises(ValueError, match="finite Decimal >= 0"):
        Balance("USD", Decimal(-1))
    with pytest.raises(ValueError, match="finite Decimal >= 0"):
        Balance("USD", 1.5)  # type: ignore[arg-type]


def test_a_run_records_its_inputs_and_finishes_once(ledger: Ledger) -> None:
    run = ledger.start_run(
        "backtest",
        inputs={"symbol": "AAPL", "as_of": T0, "cash": Decimal("1e4")},
        data_hashes={"AAPL/1d": "sha256:abc"},
    )
    assert run.status is RunStatus.RUNNING and run.finished_at is None
    done = ledger.finish_run(run.id, RunStatus.SUCCEEDED, outputs={"sharpe": 1.25})

    assert done.status is RunStatus.SUCCEEDED and done.finished_at is not None
    assert ledger.get_run(run.id) == done
    assert done.inputs == {
        "symbol": "AAPL",
        "as_of": "2024-03-01T12:00:00.000000Z",
        "cash": "10000",
    }
    with pytest.raises(LedgerError, match="already finished"):
        ledger.finish_run(run.id, RunStatus.FAILED)
    with pytest.raises(UnknownRecordError):
        ledger.finish_run("nope", RunStatus.FAILED)


def test_risk_state_round_trips_and_refuses_a_lost_update(ledger: Ledger) -> None:
    assert ledger.load_risk_state("paper") is None
    saved = ledger.save_risk_state("paper", "ACTIVE", {"peak_equity": Decimal("1e5"), "losses": 0})
    loaded = ledger.load_risk_state("paper")
    assert loaded == saved and loaded.payload == {"peak_equity": "100000", "losses": 0}

    halted = ledger.save_risk_state(
        "paper", "HALTED", {"reason": "kill switch"}, expected_version=loaded.version
    )
    with pytest.raises(StaleStateError, match="version 2, not 1"):
        ledger.save_risk_state("paper", "ACTIVE", {}, expected_version=loaded.version)
    assert ledger.load_risk_state("paper") == halted
    assert ledger.load_risk_state("paper", account="other") is None
