"""Going live is opt-in twice, against a fake Binance over a real socket: both switches,
a key that cannot withdraw, and an account that reconciles with the ledger, or the
autopilot refuses to start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.autopilot import AutopilotSettings, JobSpec, profile_limits
from app.autopilot._live import check_live
from app.autopilot._pilot import Autopilot
from app.bootstrap import Container, build
from core.clock import FixedClock
from core.errors import ConfigError
from tests.autopilot.conftest import WALL
from tests.fakes._http import Reply, Request
from tests.fakes.binance_server import FakeBinance
from tests.tools.executor._support import NOW, exchange_for
from tools.executor import NotReconciledError

LIVE = JobSpec(name="live", symbols=["AAPL"], every=timedelta(hours=1), mode="live")
RESTRICTIONS = "/sapi/v1/account/apiRestrictions"


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(now=NOW) as server:
        server.account.deposit("USDT", "1000")
        yield server


def restrictions(withdrawals: bool) -> object:
    def answer(_server: FakeBinance, _request: Request) -> Reply:
        return Reply(200, {"ipRestrict": False, "enableReading": True,
                           "enableSpotAndMarginTrading": True,
                           "enableWithdrawals": withdrawals})  # fmt: skip

    return answer


def live_pilot(fake: FakeBinance, *, live: bool = True, sandbox: bool = False) -> Autopilot:
    c: Container = build(
        trading_venue="binance", exchange_id="binance", exchange_sandbox=sandbox,
        exchange_api_key="test-key", exchange_api_secret="test-secret",
        exchange_api_urls=fake.api_overrides(sandbox=sandbox),
    )  # fmt: skip
    pilot = Autopilot(container=c, settings=AutopilotSettings(live=live),
                      limits=profile_limits(c.limits), clock=FixedClock(WALL))  # fmt: skip
    pilot.store.add(LIVE, pilot.clock.now())
    return pilot


def test_live_job_with_the_second_switch_off_then_start_refused_naming_it(
    fake: FakeBinance, home: Path
) -> None:
    pilot = live_pilot(fake, live=False)
    with pytest.raises(ConfigError, match=r"job\(s\) live trade live.*TILLER_AUTOPILOT_LIVE"):
        check_live(pilot)
    assert fake.requests == []  # refused before the exchange was asked anything


def test_key_that_may_withdraw_then_start_refused(fake: FakeBinance, home: Path) -> None:
    fake.add_route("GET", RESTRICTIONS, restrictions(withdrawals=True))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="the API key may withdraw funds"):
        check_live(live_pilot(fake))
    assert fake.requests_to("/api/v3/openOrders") == []  # refused before reconciling


def test_venue_holding_an_order_the_ledger_does_not_know_then_start_refused(
    fake: FakeBinance, home: Path
) -> None:
    fake.add_route("GET", RESTRICTIONS, restrictions(withdrawals=False))  # type: ignore[arg-type]
    stranger = exchange_for(fake)
    stranger.create_order("BTC/USDT", "limit", "buy", 0.001, 20_000,
                          {"newClientOrderId": "placed-by-hand"})  # fmt: skip
    with pytest.raises(NotReconciledError, match="placed-by-hand"):
        check_live(live_pilot(fake))


def test_both_switches_a_trade_only_key_and_a_reconciled_account_then_start_allowed(
    fake: FakeBinance, home: Path
) -> None:
    fake.add_route("GET", RESTRICTIONS, restrictions(withdrawals=False))  # type: ignore[arg-type]
    pilot = live_pilot(fake)
    assert check_live(pilot) == []
    assert pilot.run_container(LIVE).settings.trading_venue == "binance"
    paper = LIVE.model_copy(update={"mode": "paper"})
    assert pilot.run_container(paper).settings.trading_venue == "paper"  # paper stays paper
    assert len(fake.requests_to(RESTRICTIONS)) == 1  # the key's permissions were asked


def test_sandbox_key_then_a_warning_that_its_permissions_are_not_checked(
    fake: FakeBinance, home: Path
) -> None:
    warnings = check_live(live_pilot(fake, sandbox=True))
    assert len(warnings) == 1 and "binance sandbox" in warnings[0]
    assert fake.requests_to(RESTRICTIONS) == []
