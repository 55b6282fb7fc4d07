"""Brokers: the only way an order reaches a venue.

``PaperBroker`` fills from market data with the backtester's fill model; ``CcxtBroker``
trades a real (or sandbox) exchange through ccxt. Both keep the ``Broker`` contract:
definite refusals and unknown outcomes are different errors, and no broker ever
re-sends an order on its own.
"""

from tools.executor._ccxt import CcxtBroker
from tools.executor._executor import (
    Executor,
    HaltReport,
    InvalidApprovalError,
    NotReconciledError,
    SendRefusedError,
    SubmitResult,
    TradingHaltedError,
)
from tools.executor._fill_model import FillModel
from tools.executor._paper import EQUITY_QUOTE, PaperBroker, assets_of
from tools.executor._reconcile import ReconcileReport, reconcile, refresh_account, startup
from tools.executor._rules import check_order_rules
from tools.executor._types import (
    Broker,
    BrokerOrder,
    DuplicateOrderError,
    OrderState,
    SubmitThrottledError,
)

__all__ = [
    "EQUITY_QUOTE",
    "Broker",
    "BrokerOrder",
    "CcxtBroker",
    "DuplicateOrderError",
    "Executor",
    "FillModel",
    "HaltReport",
    "InvalidApprovalError",
    "NotReconciledError",
    "OrderState",
    "PaperBroker",
    "ReconcileReport",
    "SendRefusedError",
    "SubmitResult",
    "SubmitThrottledError",
    "TradingHaltedError",
    "assets_of",
    "check_order_rules",
    "reconcile",
    "refresh_account",
    "startup",
]
