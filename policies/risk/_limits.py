"""Hard-coded ceilings and the limits a deployment runs with.

``Ceilings`` are the loosest values any deployment may ever use; changing them means
changing this file, in review. ``Limits`` carry the same fields plus allow-lists and
may only be tighter (see ``_loading.load_limits``). Each field's metadata says which
direction is tighter and what the unit is; loading, hashing and the docs all read it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any

from core.errors import ConfigError
from core.types import OrderType, Symbol


class Kind(Enum):
    """How a limit is read from a file and which direction is *tighter*."""

    DECIMAL_MAX = "decimal, smaller is tighter"
    INT_MAX = "integer, smaller is tighter"
    DURATION_MAX = "seconds, shorter is tighter"
    DURATION_MIN = "seconds, longer is tighter"
    FLAG_OFF = "boolean, false is tighter"
    ORDER_TYPES = "subset of order types"
    QTY_BY_SYMBOL = "table of symbol → quantity, smaller is tighter"
    SYMBOLS = "allow-list of symbols or '*'"
    VENUES = "allow-list of venues"


# The risk state remembers submissions this long, so a duplicate window cannot exceed it.
SUBMISSION_RETENTION = timedelta(days=1)


def _meta(kind: Kind, doc: str) -> dict[str, Any]:
    return {"kind": kind, "doc": doc}


def _no_overrides() -> Mapping[Symbol, Decimal]:
    return MappingProxyType({})


_ALL_TYPES = frozenset({OrderType.MARKET, OrderType.LIMIT})


@dataclass(frozen=True)
class Ceilings:
    """The loosest limits Tiller allows. Every default below is deliberately conservative
    for a copilot that trades a personal account; a deployment tightens, never loosens."""

    max_order_notional: Decimal = field(
        default=Decimal(100_000),
        metadata=_meta(Kind.DECIMAL_MAX, "Largest order value (quote currency)."),
    )
    max_order_qty: Decimal = field(
        default=Decimal(1_000_000),
        metadata=_meta(Kind.DECIMAL_MAX, "Largest order quantity (units), any symbol."),
    )
    max_order_qty_by_symbol: Mapping[Symbol, Decimal] = field(
        default_factory=_no_overrides,
        hash=False,
        metadata=_meta(Kind.QTY_BY_SYMBOL, "Per-symbol order quantity caps (units)."),
    )
    max_position_notional: Decimal = field(
        default=Decimal(250_000),
        metadata=_meta(Kind.DECIMAL_MAX, "Largest worst-case position value per symbol."),
    )
    max_gross_exposure: Decimal = field(
        default=Decimal(1),
        metadata=_meta(Kind.DECIMAL_MAX, "Sum of |position values|, as a multiple of equity."),
    )
    max_net_exposure: Decimal = field(
        default=Decimal(1),
        metadata=_meta(Kind.DECIMAL_MAX, "|Sum of signed position values| / equity."),
    )
    price_collar_pct: Decimal = field(
        default=Decimal(5),
        metadata=_meta(Kind.DECIMAL_MAX, "Limit price within this % of the reference."),
    )
    max_quote_age: timedelta = field(
        default=timedelta(seconds=30),
        metadata=_meta(Kind.DURATION_MAX, "Oldest reference quote that may be used."),
    )
    approval_ttl: timedelta = field(
        default=timedelta(seconds=30),
        metadata=_meta(Kind.DURATION_MAX, "How long an approval token stays valid."),
    )
    duplicate_window: timedelta = field(
        default=timedelta(seconds=10),
        metadata=_meta(Kind.DURATION_MIN, "Same symbol/side/qty/price within it = duplicate."),
    )
    max_orders_per_minute: int = field(
        default=20, metadata=_meta(Kind.INT_MAX, "Orders submitted in any 60 s.")
    )
    max_orders_per_day: int = field(
        default=500, metadata=_meta(Kind.INT_MAX, "Orders submitted per UTC day.")
    )
    max_daily_loss_pct: Decimal = field(
        default=Decimal(5),
        metadata=_meta(Kind.DECIMAL_MAX, "Loss since the day's start equity → REDUCING."),
    )
    reducing_drawdown_pct: Decimal = field(
        default=Decimal(10),
        metadata=_meta(Kind.DECIMAL_MAX, "Drawdown from peak equity → REDUCING."),
    )
    max_drawdown_pct: Decimal = field(
        default=Decimal(20),
        metadata=_meta(Kind.DECIMAL_MAX, "Drawdown from peak equity → HALTED."),
    )
    cooldown_after_losses: int = field(
        default=3, metadata=_meta(Kind.INT_MAX, "Consecutive losing trades → cooldown.")
    )
    cooldown: timedelta = field(
        default=timedelta(minutes=30),
        metadata=_meta(Kind.DURATION_MIN, "How long a cooldown blocks new exposure."),
    )
    allow_leverage: bool = field(
        default=False, metadata=_meta(Kind.FLAG_OFF, "Borrowing (buys beyond cash, shorts).")
    )
    allowed_order_types: frozenset[OrderType] = field(
        default=_ALL_TYPES,
        metadata=_meta(Kind.ORDER_TYPES, "Order types an agent may propose."),
    )

    # Derived once so the hot path does no division.
    _collar: Decimal = field(default=Decimal(0), init=False, repr=False, compare=False)
    _daily_loss: Decimal = field(default=Decimal(0), init=False, repr=False, compare=False)
    _reducing_dd: Decimal = field(default=Decimal(0), init=False, repr=False, compare=False)
    _max_dd: Decimal = field(default=Decimal(0), init=False, repr=False, compare=False)
    _hash: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self)
        hundred = Decimal(100)
        object.__setattr__(self, "_collar", self.price_collar_pct / hundred)
        object.__setattr__(self, "_daily_loss", self.max_daily_loss_pct / hundred)
        object.__setattr__(self, "_reducing_dd", self.reducing_drawdown_pct / hundred)
        object.__setattr__(self, "_max_dd", self.max_drawdown_pct / hundred)
        object.__setattr__(self, "_hash", _sha256(self.as_dict()))

    @property
    def collar_fraction(self) -> Decimal:
        return self._collar

    @property
    def daily_loss_fraction(self) -> Decimal:
        return self._daily_loss

    @property
    def reducing_drawdown_fraction(self) -> Decimal:
        return self._reducing_dd

    @property
    def max_drawdown_fraction(self) -> Decimal:
        return self._max_dd

    def order_qty_cap(self, symbol: Symbol) -> Decimal:
        """The quantity cap for ``symbol``: its own entry if tighter, else the global one."""
        own = self.max_order_qty_by_symbol.get(symbol)
        return self.max_order_qty if own is None else min(own, self.max_order_qty)

    def as_dict(self) -> dict[str, Any]:
        """A canonical, JSON-ready view (Decimals as plain strings, durations in seconds)."""
        return {f.name: _canonical(getattr(self, f.name)) for f in limit_fields(type(self))}

    def limits_hash(self) -> str:
        """sha256 of the canonical encoding: equal limits hash equal, whatever their spelling."""
        return self._hash


@dataclass(frozen=True)
class Limits(Ceilings):
    """What a deployment runs with: ceilings tightened, plus allow-lists.

    Build it with ``load_limits``/``load_limits_file``, which refuse anything looser than
    the ceilings; direct construction only checks that each value is well-formed.
    """

    allowed_symbols: frozenset[Symbol] | None = field(
        default=None,
        metadata=_meta(Kind.SYMBOLS, "Symbols that may trade; '*' = any with an instrument."),
    )
    allowed_venues: frozenset[str] = field(
        default=frozenset({"paper"}),
        metadata=_meta(Kind.VENUES, "Venues that may receive orders (paper only by default)."),
    )


def limit_fields(cls: type[Ceilings]) -> tuple[Any, ...]:
    """The public limit fields of ``cls`` in declaration order (derived fields excluded)."""
    return tuple(f for f in fields(cls) if not f.name.startswith("_"))


def canonical_decimal(value: Decimal) -> str:
    """Exact plain notation without trailing zeros, so 10, 10.0 and 1E+1 encode alike."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def format_duration(value: timedelta) -> str:
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return canonical_decimal(Decimal(micros).scaleb(-6))


def _canonical(value: Any) -> Any:
    if value is None:
        return "*"
    if isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Mapping):
        return {str(k): canonical_decimal(v) for k, v in sorted(value.items())}
    return sorted(str(v) for v in value)


def _sha256(data: dict[str, Any]) -> str:
    payload = json.dumps(
        {"schema": "tiller.risk.limits/1", "limits": data}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _validate(limits: Ceilings) -> None:
    """Well-formedness that holds for ceilings and limits alike (not the tightening rule)."""
    for f in limit_fields(type(limits)):
        value = getattr(limits, f.name)
        kind: Kind = f.metadata["kind"]
        if kind is Kind.DECIMAL_MAX:
            _require_decimal(f.name, value)
        elif kind is Kind.INT_MAX:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{f.name} must be a non-negative integer, got {value!r}")
        elif kind in (Kind.DURATION_MAX, Kind.DURATION_MIN):
            if not isinstance(value, timedelta) or value < timedelta(0):
                raise ConfigError(f"{f.name} must be a non-negative duration, got {value!r}")
        elif kind is Kind.QTY_BY_SYMBOL:
            for symbol, qty in value.items():
                _require_decimal(f"{f.name}[{symbol}]", qty)
    _validate_relations(limits)


def _require_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ConfigError(f"{name} must be a finite, non-negative Decimal, got {value!r}")


def _validate_relations(limits: Ceilings) -> None:
    if limits.cooldown_after_losses < 1:
        raise ConfigError("cooldown_after_losses must be at least 1 (a streak of one loss)")
    if limits.duplicate_window > SUBMISSION_RETENTION:
        raise ConfigError(
            f"duplicate_window {limits.duplicate_window} exceeds the "
            f"{SUBMISSION_RETENTION} the risk state remembers submissions for"
        )
    for name in ("price_collar_pct", "max_daily_loss_pct", "max_drawdown_pct"):
        if getattr(limits, name) >= 100:
            raise ConfigError(f"{name} must be below 100 (it is a percentage)")
    if limits.reducing_drawdown_pct > limits.max_drawdown_pct:
        raise ConfigError(
            f"reducing_drawdown_pct {limits.reducing_drawdown_pct} must not exceed "
            f"max_drawdown_pct {limits.max_drawdown_pct}: REDUCING comes before HALTED"
        )
    if not limits.allowed_order_types <= _ALL_TYPES:
        raise ConfigError(f"allowed_order_types must be a subset of {sorted(_ALL_TYPES)}")


CEILINGS = Ceilings()
"""The hard ceilings every ``Limits`` is checked against."""
