"""The deterministic risk officer: every order passes ``check`` or it is not sent.

Pure functions over frozen values: no I/O, no clock reads, no LLM. See docs/risk.md for
every limit, its ceiling, the reason codes and the trading states.
"""

from policies.risk._check import check, is_reducing, send_time_violations
from policies.risk._decision import Approved, Decision, Denied
from policies.risk._limits import CEILINGS, Ceilings, Limits
from policies.risk._loading import load_limits, load_limits_file
from policies.risk._order import protected_price
from policies.risk._reasons import ReasonCode, Violation
from policies.risk._state import (
    RiskState,
    Submission,
    TradingState,
    halt,
    on_equity,
    on_new_day,
    on_order_submitted,
    on_trade_closed,
    resume,
)
from policies.risk._token import TokenSigner, client_order_id
from policies.risk._views import MarketView, PortfolioView, WorkingOrder, reference_price

__all__ = [
    "CEILINGS",
    "Approved",
    "Ceilings",
    "Decision",
    "Denied",
    "Limits",
    "MarketView",
    "PortfolioView",
    "ReasonCode",
    "RiskState",
    "Submission",
    "TokenSigner",
    "TradingState",
    "Violation",
    "WorkingOrder",
    "check",
    "client_order_id",
    "halt",
    "is_reducing",
    "load_limits",
    "load_limits_file",
    "on_equity",
    "on_new_day",
    "on_order_submitted",
    "on_trade_closed",
    "protected_price",
    "reference_price",
    "resume",
    "send_time_violations",
]
