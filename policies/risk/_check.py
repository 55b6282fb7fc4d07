"""``check``: the one function every order passes through on its way to a broker.

Pure and deterministic: the same inputs give the same decision, with no I/O, no clock
read and no exception for a denial. Every check that can be evaluated runs, so a
denial lists everything wrong with a proposal, not only the first thing found.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.types import Instrument, OrderIntent, Side
from policies.risk._decision import Approved, Denied
from policies.risk._exposure import (
    Flow,
    aggregate,
    breaker_violations,
    exposure_violations,
    mark,
    value_book,
)
from policies.risk._limits import Limits, canonical_decimal, format_duration
from policies.risk._order import CONVERTED_FIELDS, precision, priced_order, size
from policies.risk._reasons import ReasonCode, Violation
from policies.risk._state import Fingerprint, RiskState, TradingState
from policies.risk._token import TokenSigner, client_order_id_of, encode_order_parts, reencode
from policies.risk._views import MAX_CLOCK_SKEW, MarketView, PortfolioView

_ZERO = Decimal(0)
_MINUTE = timedelta(minutes=1)
# Module constants: enum attribute lookups cost ~50 ns each on the hot path.
_BUY, _SELL = Side.BUY, Side.SELL


def is_reducing(order: OrderIntent, position: Decimal) -> bool:
    """True if ``order`` shrinks ``|position|`` (signed quantity) without flipping it."""
    if position > 0:
        return order.side is _SELL and order.quantity <= position
    if position < 0:
        return order.side is _BUY and order.quantity <= -position
    return False


def check(
    proposal: OrderIntent,
    portfolio: PortfolioView,
    market: MarketView,
    limits: Limits,
    state: RiskState,
    now: datetime,
    *,
    signer: TokenSigner,
) -> Approved | Denied:
    """Decide whether ``proposal`` may be sent, and if so exactly as which order.

    Fails closed: no instrument, no fresh reference price (for the order's symbol or,
    for an order that adds exposure, any held symbol), or a stale risk state → Denied.
    An order that shrinks a position without flipping it skips the exposure and cash
    checks (they exist to stop risk growing) and is the only kind REDUCING lets through.
    """
    found: list[Violation] = []
    _gatekeeping(proposal, state, now, found)
    _allow_lists(proposal, limits, found)
    instrument = _instrument(proposal, market, found)
    ref = _reference(proposal, market, limits, now, found)
    flows = aggregate(portfolio.working_orders)
    position = portfolio.positions.get(proposal.symbol, _ZERO)
    reducing = is_reducing(proposal, _effective(proposal, position, flows.get(proposal.symbol)))
    _state_gate(proposal, reducing, state, now, found)
    order = priced_order(proposal, ref, instrument, limits, found)
    price = None if order is None else order.limit_price
    if instrument is not None:
        precision(proposal, price, instrument, found)
    size(proposal, price, ref, limits, found)
    fingerprint = _fingerprint(proposal)
    _throttles(fingerprint, state, limits, now, found)
    if not reducing and ref is not None and price is not None:
        book = value_book(proposal, ref, portfolio, flows, market, limits, now)
        if isinstance(book, list):
            found.extend(book)
        else:
            found.extend(exposure_violations(proposal, price, ref, book, portfolio, limits))
            found.extend(breaker_violations(book, state, limits))
    if order is None and not found:  # cannot happen today; if it ever does, fail closed
        found.append(Violation(ReasonCode.INVALID_ORDER, "a price", "none", "unpriced order"))
    if found or order is None:
        return Denied(tuple(found), proposal)
    return _approve(proposal, order, fingerprint, limits, now, signer)


def _approve(
    proposal: OrderIntent,
    order: OrderIntent,
    fingerprint: Fingerprint,
    limits: Limits,
    now: datetime,
    signer: TokenSigner,
) -> Approved:
    parts = encode_order_parts(proposal)
    encoded = "".join(parts)
    coid = client_order_id_of(encoded)
    if order is not proposal:  # a market order became a protected limit
        encoded = reencode(parts, order, CONVERTED_FIELDS)
    expires_at = now + limits.approval_ttl
    limits_hash = limits.limits_hash()
    token = signer.sign_encoded(encoded, coid, limits_hash, expires_at)
    return Approved(order, coid, token, expires_at, limits_hash, fingerprint)


def _effective(proposal: OrderIntent, position: Decimal, flow: Flow | None) -> Decimal:
    """The position if every working order on the proposal's side fills: five sells of
    the whole position must not each count as "reducing"."""
    if flow is None:
        return position
    return position + flow.buys if proposal.side is _BUY else position - flow.sells


def _gatekeeping(
    proposal: OrderIntent, state: RiskState, now: datetime, found: list[Violation]
) -> None:
    if proposal.created_at > now + MAX_CLOCK_SKEW:
        found.append(
            Violation(
                ReasonCode.INVALID_ORDER,
                f"created_at <= {now.isoformat()}",
                proposal.created_at.isoformat(),
                "the proposal is dated in the future",
            )
        )
    today = now.date() if now.tzinfo is UTC else now.astimezone(UTC).date()
    if state.day != today:
        found.append(
            Violation(
                ReasonCode.RISK_STATE_STALE,
                today.isoformat(),
                state.day.isoformat(),
                f"the risk state is for {state.day}, not {today}: feed "
                "on_equity (or on_new_day) before checking orders",
            )
        )


def _allow_lists(proposal: OrderIntent, limits: Limits, found: list[Violation]) -> None:
    symbol = proposal.symbol
    if limits.allowed_symbols is not None and symbol not in limits.allowed_symbols:
        found.append(
            Violation(
                ReasonCode.SYMBOL_NOT_ALLOWED,
                "allowed_symbols",
                symbol,
                f"{symbol} is not in allowed_symbols",
            )
        )
    venue = proposal.venue.lower()
    if venue not in limits.allowed_venues:
        allowed = ", ".join(sorted(limits.allowed_venues)) or "none"
        found.append(
            Violation(
                ReasonCode.VENUE_NOT_ALLOWED,
                allowed,
                proposal.venue,
                f"venue {proposal.venue!r} is not in allowed_venues ({allowed})",
            )
        )
    if proposal.order_type not in limits.allowed_order_types:
        allowed = ", ".join(sorted(t.value for t in limits.allowed_order_types)) or "none"
        found.append(
            Violation(
                ReasonCode.ORDER_TYPE_NOT_ALLOWED,
                allowed,
                proposal.order_type.value,
                f"{proposal.order_type.value} orders are not allowed ({allowed})",
            )
        )


def _instrument(
    proposal: OrderIntent, market: MarketView, found: list[Violation]
) -> Instrument | None:
    instrument = market.instruments.get(proposal.symbol)
    if instrument is None:
        found.append(
            Violation(
                ReasonCode.UNKNOWN_INSTRUMENT,
                "a known instrument",
                proposal.symbol,
                f"no trading rules (tick, lot, minimums) for {proposal.symbol}",
            )
        )
        return None
    if instrument.venue.lower() != proposal.venue.lower():
        found.append(
            Violation(
                ReasonCode.UNKNOWN_INSTRUMENT,
                instrument.venue,
                proposal.venue,
                f"{proposal.symbol} is defined at {instrument.venue!r}, not at {proposal.venue!r}",
            )
        )
        return None
    return instrument


def _reference(
    proposal: OrderIntent, market: MarketView, limits: Limits, now: datetime, found: list[Violation]
) -> Decimal | None:
    price = mark(proposal.symbol, market, limits, now)
    if isinstance(price, Violation):
        found.append(price)
        return None
    return price


def _state_gate(
    proposal: OrderIntent, reducing: bool, state: RiskState, now: datetime, found: list[Violation]
) -> None:
    trading = state.trading_state
    why = state.halted_reason or "no reason recorded"
    if trading is TradingState.HALTED:
        message = f"trading is HALTED ({why}); only an operator's resume lifts it"
        found.append(Violation(ReasonCode.STATE_HALTED, "ACTIVE", "HALTED", message))
    elif trading is TradingState.REDUCING and not reducing:
        message = (
            f"trading is REDUCING ({why}): only orders that shrink a position without "
            "flipping it (working orders on the same side included) may pass"
        )
        found.append(
            Violation(ReasonCode.STATE_REDUCING, "exposure-reducing", "adds exposure", message)
        )
    cooldown = state.cooldown_until
    if cooldown is not None and now < cooldown and not reducing:
        message = f"cooling down after consecutive losses until {cooldown.isoformat()}"
        found.append(Violation(ReasonCode.COOLDOWN, cooldown.isoformat(), now.isoformat(), message))
    if proposal.reduce_only and not reducing:
        message = "a reduce-only order must shrink the position without flipping it"
        found.append(
            Violation(ReasonCode.REDUCE_ONLY, "exposure-reducing", "adds exposure", message)
        )


def _fingerprint(proposal: OrderIntent) -> Fingerprint:
    # From the proposal, not the priced order: a repeated market order is a duplicate even
    # if the price moved between the two protected limits it would become.
    limit = proposal.limit_price
    price = "market" if limit is None else canonical_decimal(limit)
    return (proposal.symbol, proposal.side.value, canonical_decimal(proposal.quantity), price)


def send_time_violations(
    approved: Approved, state: RiskState, limits: Limits, now: datetime
) -> list[Violation]:
    """The checks that depend on what was sent *between* approval and sending: duplicate
    and rate limits. Approvals decided concurrently against the same state each pass
    alone; the executor re-runs these against the persisted state when it sends, so
    together they still cannot exceed the limits."""
    found: list[Violation] = []
    _throttles(approved.fingerprint, state, limits, now, found)
    return found


def _throttles(
    fingerprint: Fingerprint,
    state: RiskState,
    limits: Limits,
    now: datetime,
    found: list[Violation],
) -> None:
    window_start = now - limits.duplicate_window
    minute_start = now - _MINUTE
    in_last_minute = 0
    duplicate_at: datetime | None = None
    for submission in reversed(state.submissions):  # newest first: stop once out of range
        at = submission.at
        if at <= window_start and at <= minute_start:
            break
        if at > minute_start:
            in_last_minute += 1
        if duplicate_at is None and at > window_start and submission.fingerprint == fingerprint:
            duplicate_at = at
    if duplicate_at is not None:
        window = format_duration(limits.duplicate_window) + "s"
        message = f"the same order was sent at {duplicate_at.isoformat()} (window {window})"
        found.append(
            Violation(ReasonCode.DUPLICATE_ORDER, window, duplicate_at.isoformat(), message)
        )
    if in_last_minute >= limits.max_orders_per_minute:
        cap = limits.max_orders_per_minute
        message = f"{in_last_minute} orders in the last minute; max_orders_per_minute is {cap}"
        found.append(
            Violation(ReasonCode.RATE_LIMIT_MINUTE, str(cap), str(in_last_minute), message)
        )
    if state.orders_today >= limits.max_orders_per_day:
        cap = limits.max_orders_per_day
        message = f"{state.orders_today} orders today; max_orders_per_day is {cap}"
        found.append(
            Violation(ReasonCode.RATE_LIMIT_DAY, str(cap), str(state.orders_today), message)
        )


def _d(value: Decimal) -> str:
    return canonical_decimal(value)
