"""A live job end to end against the fake Binance (real HTTP, real ccxt), on Binance's own
daily BTC/USDT bars imported from the shared data: the start-up checks pass, a slot runs
the agent graph (offline reasoner), the risk gate approves within the autopilot profile
in the account's currency (USDT, what the exchange holds, not the paper account's USD),
the order reaches the exchange, its fill is booked from the exchange into the ledger,
`tiller audit verify` passes, and a halt stops new exposure in live mode too.

The autopilot's wall clock stands half an hour after the last stored bar closed, so the
bars are current (a live job never replays history); the exchange, like a real one,
lives in real time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.autopilot import Autopilot, load_autopilot_settings, profile_limits
from app.autopilot._live import check_live
from app.bootstrap import build
from app.cli import app
from core.clock import FixedClock
from core.types import OrderStatus
from tests.fakes._http import Reply, Request
from tests.fakes.binance_server import FakeBinance

RESTRICTIONS = "/sapi/v1/account/apiRestrictions"
DEPOSIT = Decimal(20_000)
# The last stored bar (2025-06-30) closed at midnight: half an hour later its bars are current.
WALL = datetime(2025, 7, 1, 0, 30, tzinfo=UTC)

pytestmark = pytest.mark.shared_data


def tiller(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def trade_only_key(_server: FakeBinance, _request: Request) -> Reply:
    return Reply(200, {"ipRestrict": False, "enableReading": True,
                       "enableSpotAndMarginTrading": True,
                       "enableWithdrawals": False})  # fmt: skip


@pytest.fixture
def btc_bars(market_dir: Path) -> Path:
    """Binance's daily BTC/USDT bars (2017-08 to 2025-06) from the shared data."""
    path = market_dir / "crypto_1d" / "BTCUSDT_1d.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture
def fake(warm_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBinance]:
    """The exchange, and a home whose settings trade on it (both switches on)."""
    with FakeBinance(now=datetime.now(UTC)) as server:
        server.account.deposit("USDT", DEPOSIT)
        server.add_route("GET", RESTRICTIONS, trade_only_key)
        limits = warm_home / "limits.toml"
        limits.write_text('allowed_venues = ["paper", "binance"]\n')
        for name, value in {
            "TILLER_TRADING_VENUE": "binance", "TILLER_EXCHANGE_ID": "binance",
            "TILLER_EXCHANGE_SANDBOX": "0", "TILLER_EXCHANGE_API_KEY": "test-key",
            "TILLER_EXCHANGE_API_SECRET": "test-secret", "TILLER_AUTOPILOT_LIVE": "1",
            "TILLER_EXCHANGE_API_URLS": json.dumps(server.api_overrides()),
            "TILLER_RISK_LIMITS_FILE": str(limits),
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        yield server


def posts(server: FakeBinance) -> int:
    return sum(1 for r in server.requests_to("/api/v3/order") if r.method == "POST")


def test_live_job_trades_on_the_exchange_within_the_profile_and_a_halt_stops_it(
    fake: FakeBinance, btc_bars: Path
) -> None:
    # Arrange: Binance's bars imported through the CLI, a live job added through the CLI.
    code, out, err = tiller("data", "import", str(btc_bars),
                            "--symbol", "BTC/USDT", "--json")  # fmt: skip
    assert code == 0, err
    code, out, err = tiller("autopilot", "add", "--name", "btc", "--symbols", "BTC/USDT",
                            "--every", "1h", "--mode", "live")  # fmt: skip
    assert code == 0, err
    c = build()
    profile = profile_limits(c.limits)
    pilot = Autopilot(container=c, settings=load_autopilot_settings(), limits=profile,
                      clock=FixedClock(WALL))  # fmt: skip

    # Start-up: the key may only trade, the account reconciles (the balances are taken).
    assert check_live(pilot) == []
    assert len(fake.requests_to(RESTRICTIONS)) == 1
    assert c.account_currency(["BTC/USDT"]) == "USDT"

    # Act: one slot through the real agent graph.
    outcome = pilot.run_slot("btc", WALL)

    # Assert: approved within the profile, sent to the exchange, counted in USDT.
    assert outcome.startswith("executed (as of 2025-07-01 00:00 UTC)"), outcome
    assert posts(fake) == 1
    (order,) = c.ledger.orders(venue="binance")
    at_venue = fake.account.order(order.client_order_id)
    assert at_venue is not None and at_venue.quantity == order.quantity
    assert order.limit_price is not None
    notional = order.quantity * order.limit_price
    # The order was sized on the exchange's 20,000 USDT (not the 100,000 paper USD) and
    # stays under the profile's cap (10,000), which the main limits (100,000) would not.
    assert Decimal(0) < notional <= profile.max_order_notional < c.limits.max_order_notional
    assert notional <= DEPOSIT * Decimal("0.2")
    (slot,) = pilot.store.slots("btc")
    assert slot.run_id is not None and c.ledger.get_run(slot.run_id) is not None
    mark = pilot.mark_all()[0]
    assert mark["currency"] == "USDT" and Decimal(mark["equity"]) == DEPOSIT
    assert mark["trading_state"] == "active"  # cash a working order holds is still equity

    # The exchange fills it; the next mark books the fill from the exchange.
    fake.now = datetime.now(UTC)  # the exchange's clock has moved on since the order
    trade = fake.account.fill(order.client_order_id)
    mark = pilot.mark_all()[0]
    filled = c.ledger.get_order(order.client_order_id)
    assert filled is not None and filled.status is OrderStatus.FILLED
    (position,) = [p for p in c.ledger.positions(venue="binance") if p.quantity]
    assert position.quantity == trade.qty == order.quantity  # the sum of the fills
    balances = {b.currency: b.total for b in c.ledger.balances(venue="binance")}
    assert balances["USDT"] == fake.account.free("USDT") == DEPOSIT - trade.qty * trade.price
    assert balances["BTC"] == fake.account.free("BTC") == trade.qty - trade.commission
    assert mark["equity"] is not None and mark["trading_state"] == "active"
    code, out, err = tiller("audit", "verify", "--json")
    assert code == 0, err
    assert json.loads(out)["ok"] is True

    # A halt (the kill switch on the live venue) stops new exposure at the next slot.
    code, out, err = tiller("risk", "halt", "--reason", "test: stop the live job", "--json")
    assert code == 0, err
    assert json.loads(out)["venue"] == "binance"
    outcome = pilot.run_slot("btc", WALL + timedelta(hours=1))
    assert outcome.startswith(("no_trade", "denied")), outcome  # research on, no orders
    assert posts(fake) == 1 and len(c.ledger.orders(venue="binance")) == 1
    assert c.executor().risk_state().trading_state.value == "halted"
    code, out, err = tiller("autopilot", "status", "--json")
    assert code == 0, err
    assert json.loads(out)["trading_state"] == "halted"  # the exchange's, not paper's
    code, _, err = tiller("audit", "verify", "--json")
    assert code == 0, err


def test_live_job_on_bars_that_ended_long_ago_then_skipped_never_replayed(
    fake: FakeBinance, btc_bars: Path
) -> None:
    code, _, err = tiller("data", "import", str(btc_bars), "--symbol", "BTC/USDT")
    assert code == 0, err
    code, _, err = tiller("autopilot", "add", "--name", "btc", "--symbols", "BTC/USDT",
                          "--every", "1h", "--mode", "live")  # fmt: skip
    assert code == 0, err
    c = build()
    later = WALL + timedelta(days=30)
    pilot = Autopilot(container=c, settings=load_autopilot_settings(),
                      limits=profile_limits(c.limits), clock=FixedClock(later))  # fmt: skip

    outcome = pilot.run_slot("btc", later)

    assert outcome.startswith("skipped: a live job trades on current bars only"), outcome
    assert "2025-07-01 00:00 UTC" in outcome and "tiller data fetch" in outcome
    assert posts(fake) == 0 and c.ledger.orders(venue="binance") == []
