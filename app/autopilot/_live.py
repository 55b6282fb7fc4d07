"""Going live: refused unless both switches are on, the key cannot withdraw (where the
exchange can tell), and the account reconciles with the ledger."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from app.autopilot._pilot import live_switch_problems
from core.errors import ConfigError, UnavailableError

if TYPE_CHECKING:
    from app.autopilot._pilot import Autopilot

log = logging.getLogger("app.autopilot")


def check_live(pilot: Autopilot) -> list[str]:
    """Run before a leader with live jobs starts: ``ConfigError`` for a missing switch
    or a key that may withdraw, ``NotReconciledError`` (exit 10) when the venue and
    the ledger disagree. Returns warnings (e.g. the venue cannot say what the key may do)."""
    live = [row.spec.name for row in pilot.store.jobs() if row.spec.mode == "live"]
    if not live:
        return []
    problems = live_switch_problems(pilot.container, pilot.settings)
    if problems:
        raise ConfigError(
            f"job(s) {', '.join(live)} trade live, and live trading is not switched on: "
            + "; ".join(problems)
            + ". Remove the job or add it again with --mode paper to trade on paper"
        )
    rc = pilot.run_container(pilot.store.job(live[0]).spec)
    warnings = _withdrawal_check(rc)
    from tools.executor import startup

    startup(rc.executor())  # raises NotReconciledError: trading stays off until fixed
    return warnings


def _withdrawal_check(rc: Any) -> list[str]:
    from tools import market_data

    make_exchange: Any = market_data.make_exchange  # loaded lazily by the package
    venue = rc.settings.trading_venue.strip().lower()
    if rc.settings.exchange_sandbox:
        return [f"{venue} sandbox: keys of a test network move no real funds; their "
                "permissions are not checked"]  # fmt: skip
    exchange = make_exchange(venue, rc.settings, sandbox=rc.settings.exchange_sandbox)
    ask: Any = getattr(exchange, "sapi_get_account_apirestrictions", None)
    if venue != "binance" or ask is None:
        return [
            f"{venue}: cannot tell through ccxt whether the API key may withdraw funds; "
            "make sure it may only trade"
        ]
    import ccxt

    try:
        answer = ask()
    except ccxt.BaseError as exc:
        raise UnavailableError(
            f"{venue}: could not read the API key's permissions ({type(exc).__name__}: {exc})"
        ) from None
    if _truthy(answer.get("enableWithdrawals")):
        raise ConfigError(
            f"{venue}: the API key may withdraw funds; the autopilot refuses to trade with "
            "it. Create a key with trading permission only (no withdrawals)"
        )
    return []


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"
