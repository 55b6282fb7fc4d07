"""Whatever happens — proposals, fills, partial fills, cancels, price moves, time passing,
halts and resumes — nothing the risk officer approves ever breaks a limit.

A small model of a cash account applies only APPROVED orders (as the executor would) and
fills them at their limit price (the worst case for cash). After every step it checks,
with its own arithmetic, that no approved order and no resulting position exceeds a
limit, that REDUCING and HALTED hold, and that breakers latch.

`make test` runs a few thousand sequences; TILLER_HYPOTHESIS_PROFILE=long runs 100k
(bench/risk_stateful_long.sh).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.types import OrderIntent, OrderType, Quote, Side, Symbol
from policies.risk import (
    Approved,
    Ceilings,
    Denied,
    MarketView,
    PortfolioView,
    ReasonCode,
    RiskState,
    TradingState,
    WorkingOrder,
    check,
    halt,
    load_limits,
    on_equity,
    on_order_submitted,
    on_trade_closed,
    resume,
)
from tests.policies.risk_builders import AAPL, BTC, INSTRUMENTS, SIGNER, T0

_PROFILES = {
    "default": settings(max_examples=3_000, stateful_step_count=25),
    "long": settings(max_examples=100_000, stateful_step_count=25),
    "smoke": settings(max_examples=100, stateful_step_count=25),
}
PROFILE = os.environ.get("TILLER_HYPOTHESIS_PROFILE", "default")
COMMON = {
    "deadline": None,  # a shared 2-core machine: wall time says nothing about correctness
    "database": None,  # no .hypothesis folder in the repository
    "suppress_health_check": [HealthCheck.too_slow],
}

SYMBOLS = (AAPL, BTC)
_RULES = {
    "max_order_notional": 5_000,
    "max_order_qty_by_symbol": {"BTC/USDT": "0.15"},
    "max_position_notional": 8_000,
    "max_gross_exposure": "0.9",
    "max_net_exposure": "0.8",
    "price_collar_pct": 3,
    "max_quote_age": 30,
    "approval_ttl": 10,
    "duplicate_window": 20,
    "max_orders_per_minute": 4,
    "max_orders_per_day": 60,
    "max_daily_loss_pct": 2,
    "reducing_drawdown_pct": 4,
    "max_drawdown_pct": 8,
    "cooldown_after_losses": 2,
    "allowed_symbols": ["AAPL", "BTC/USDT"],
}
# Two worlds: exposure caps below 1× equity bind first in one; in the other (caps raised
# through test-only ceilings, still without leverage) the cash check is what binds.
LIMIT_SETS = {
    "exposure_bound": load_limits(_RULES),
    "cash_bound": load_limits(
        {**_RULES, "max_gross_exposure": 3, "max_net_exposure": 3, "max_position_notional": 20_000},
        ceilings=Ceilings(max_gross_exposure=Decimal(3), max_net_exposure=Decimal(3)),
    ),
}
UNIT = {AAPL: Decimal(1), BTC: Decimal("0.003")}
SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
COID = re.compile(r"[A-Za-z0-9_-]{1,36}")
STATS: Counter[str] = Counter()


class Working:
    """One approved order resting at the venue."""

    def __init__(self, symbol: Symbol, side: Side, remaining: Decimal, limit: Decimal) -> None:
        self.symbol, self.side, self.remaining, self.limit = symbol, side, remaining, limit


class RiskMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.prices = {AAPL: Decimal(100), BTC: Decimal(30_000)}
        self.quoted_at = dict.fromkeys(SYMBOLS, T0)
        # Start invested, so that price moves alone can trip the breakers.
        self.cash = Decimal(12_500)
        self.positions = {AAPL: Decimal(60), BTC: Decimal("0.05")}
        self.average = dict(self.prices)
        self.working: list[Working] = []
        self.risk = RiskState.start(self.equity(), T0)
        self.sent: list[tuple[datetime, tuple[str, ...]]] = []
        self.long_bound = dict(self.positions)
        self.last_state = TradingState.ACTIVE
        self.resumed = False
        self.intents = 0
        self.limits = LIMIT_SETS["exposure_bound"]

    @initialize(world=st.sampled_from(sorted(LIMIT_SETS)))
    def choose_limits(self, world: str) -> None:
        self.limits = LIMIT_SETS[world]
        if world == "cash_bound":  # little cash, so that a few buys exhaust it
            self.cash = Decimal(3_000)
            self.risk = RiskState.start(self.equity(), T0)
        STATS[world] += 1

    # -- the model's own arithmetic ---------------------------------------------------------

    def equity(self) -> Decimal:
        return self.cash + sum(self.positions[s] * self.prices[s] for s in SYMBOLS)

    def in_flight(self, symbol: Symbol, side: Side) -> Decimal:
        orders = (w.remaining for w in self.working if w.symbol == symbol and w.side is side)
        return sum(orders, Decimal(0))

    def fresh(self, symbol: Symbol) -> bool:
        return self.now - self.limits.max_quote_age <= self.quoted_at[symbol] <= self.now

    def reduces(self, symbol: Symbol, side: Side, qty: Decimal) -> bool:
        position = self.positions[symbol]
        if side is Side.BUY:
            effective = position + self.in_flight(symbol, Side.BUY)
            return effective < 0 and qty <= -effective
        effective = position - self.in_flight(symbol, Side.SELL)
        return effective > 0 and qty <= effective

    def feed_equity(self) -> None:
        self.risk = on_equity(self.risk, self.equity(), self.now, self.limits)

    def views(self) -> tuple[PortfolioView, MarketView]:
        working = tuple(WorkingOrder(w.symbol, w.side, w.remaining, w.limit) for w in self.working)
        held = {s: q for s, q in self.positions.items() if q}
        book = PortfolioView(cash=self.cash, positions=held, working_orders=working)
        quotes = {
            s: Quote(symbol=s, timestamp=self.quoted_at[s], last=self.prices[s]) for s in SYMBOLS
        }
        return book, MarketView(quotes=quotes, instruments=INSTRUMENTS)

    # -- rules ------------------------------------------------------------------------------

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(Side),
        units=st.integers(1, 60),
        kind=st.sampled_from(
            ["market", "market", "market", "limit", "limit", "limit", "off_tick", "off_lot"]
        ),
        offset_bps=st.integers(-350, 350),
        reduce_only=st.integers(0, 9).map(lambda n: n == 0),
    )
    def propose(
        self, symbol: Symbol, side: Side, units: int, kind: str, offset_bps: int, reduce_only: bool
    ) -> None:
        self.submit(symbol, side, units * UNIT[symbol], kind, offset_bps, reduce_only)

    @precondition(lambda self: any(self.positions.values()))
    @rule(
        pick=st.integers(0, 1_000),
        fraction=st.sampled_from(["1", "0.5", "0.2"]),
        kind=st.sampled_from(["market", "limit"]),
        offset_bps=st.integers(-300, 300),
    )
    def propose_exit(self, pick: int, fraction: str, kind: str, offset_bps: int) -> None:
        """Sell some of a holding: the orders REDUCING must still let through."""
        held = [s for s in SYMBOLS if self.positions[s]]
        symbol = held[pick % len(held)]
        lot = INSTRUMENTS[symbol].lot_size
        qty = (self.positions[symbol] * Decimal(fraction) / lot).to_integral_value(ROUND_DOWN) * lot
        self.submit(symbol, Side.SELL, max(qty, lot), kind, offset_bps, False)

    def submit(
        self,
        symbol: Symbol,
        side: Side,
        qty: Decimal,
        kind: str,
        offset_bps: int,
        reduce_only: bool,
    ) -> None:
        instrument = INSTRUMENTS[symbol]
        qty += instrument.lot_size / 2 if kind == "off_lot" else 0
        fields: dict[str, object] = {}
        if kind != "market":
            price = self.prices[symbol] * (1 + Decimal(offset_bps) / 10_000)
            price = price.quantize(instrument.tick_size) + (
                Decimal("0.005") if kind == "off_tick" else 0
            )
            fields = {
                "order_type": OrderType.LIMIT,
                "limit_price": max(price, instrument.tick_size),
            }
        self.intents += 1
        proposal = OrderIntent(
            intent_id=f"i{self.intents}", symbol=symbol, side=side, quantity=qty,
            reduce_only=reduce_only, created_at=self.now, **fields,
        )  # fmt: skip
        book, view = self.views()
        before = self.risk
        decision = check(proposal, book, view, self.limits, before, self.now, signer=SIGNER)
        if isinstance(decision, Denied):
            self.on_denied(decision, before)
        else:
            self.on_approved(decision, proposal, before)

    def on_denied(self, decision: Denied, before: RiskState) -> None:
        STATS["denied"] += 1
        STATS.update(code.value for code in decision.codes)
        assert decision.violations
        if before.trading_state is TradingState.HALTED:
            assert ReasonCode.STATE_HALTED in decision.codes

    def on_approved(self, approved: Approved, proposal: OrderIntent, before: RiskState) -> None:
        STATS["approved"] += 1
        STATS[f"approved_while_{before.trading_state.value}"] += 1
        order = approved.order
        symbol, side, qty = order.symbol, order.side, order.quantity
        reducing = self.reduces(symbol, side, qty)
        self.assert_state_allows(before, proposal, reducing)
        self.assert_order_within_limits(order, proposal)
        self.assert_throttles(approved, before)
        if not reducing:
            self.assert_portfolio_within_limits(order)
        assert SIGNER.verify(
            approved.token, order, approved.client_order_id, approved.limits_hash, self.now
        )
        assert not SIGNER.verify(
            approved.token, order, approved.client_order_id, approved.limits_hash,
            approved.expires_at,
        )  # fmt: skip
        assert COID.fullmatch(approved.client_order_id)
        assert order.limit_price is not None
        self.working.append(Working(symbol, side, qty, order.limit_price))
        self.risk = on_order_submitted(self.risk, approved, self.now)
        if proposal.order_type is OrderType.MARKET:  # marketable: fills at once, at the market
            self.execute(self.working[-1], qty, self.prices[symbol])
        self.sent.append((self.now, approved.fingerprint))
        worst_long = self.positions[symbol] + self.in_flight(symbol, Side.BUY)
        self.long_bound[symbol] = max(self.long_bound[symbol], worst_long)

    def assert_state_allows(self, before: RiskState, proposal: OrderIntent, reducing: bool) -> None:
        assert before.trading_state is not TradingState.HALTED
        cooling = before.cooldown_until is not None and self.now < before.cooldown_until
        if before.trading_state is TradingState.REDUCING or cooling or proposal.reduce_only:
            assert reducing
        assert before.day == self.now.date()

    def assert_order_within_limits(self, order: OrderIntent, proposal: OrderIntent) -> None:
        symbol, qty, limit = order.symbol, order.quantity, order.limit_price
        instrument = INSTRUMENTS[symbol]
        ref = self.prices[symbol]
        assert self.fresh(symbol)
        assert order.order_type is OrderType.LIMIT and limit is not None
        assert qty == proposal.quantity and order.side is proposal.side
        assert qty % instrument.lot_size == 0 and limit % instrument.tick_size == 0
        assert qty >= instrument.min_qty and qty * limit >= instrument.min_notional
        assert qty <= self.limits.order_qty_cap(symbol)
        assert abs(limit - ref) <= ref * self.limits.price_collar_pct / 100
        assert qty * max(limit, ref) <= self.limits.max_order_notional

    def assert_throttles(self, approved: Approved, before: RiskState) -> None:
        last_minute = [f for at, f in self.sent if at > self.now - timedelta(minutes=1)]
        window = [f for at, f in self.sent if at > self.now - self.limits.duplicate_window]
        assert len(last_minute) < self.limits.max_orders_per_minute
        assert before.orders_today < self.limits.max_orders_per_day
        assert approved.fingerprint not in window

    def assert_portfolio_within_limits(self, order: OrderIntent) -> None:
        """An order that adds exposure: checked against the model's own worst case."""
        assert order.side is Side.BUY  # without leverage, a sell may only shrink a long
        assert all(self.fresh(s) for s in SYMBOLS if self.positions[s] or self.has_orders(s))
        limit = order.limit_price
        assert limit is not None
        reserve = sum(
            (w.remaining * w.limit for w in self.working if w.side is Side.BUY), Decimal(0)
        )
        assert reserve + order.quantity * limit <= self.cash
        gross = net_high = Decimal(0)
        for s in SYMBOLS:
            longest = self.positions[s] + self.in_flight(s, Side.BUY)
            longest += order.quantity if s == order.symbol else 0
            shortest = self.positions[s] - self.in_flight(s, Side.SELL)
            gross += max(abs(longest), abs(shortest)) * self.prices[s]
            net_high += longest * self.prices[s]
            if s == order.symbol:
                assert abs(longest) * self.prices[s] <= self.limits.max_position_notional
        equity = self.equity()
        assert gross <= self.limits.max_gross_exposure * equity
        assert abs(net_high) <= self.limits.max_net_exposure * equity
        assert equity >= self.risk.day_start_equity * (1 - self.limits.max_daily_loss_pct / 100)
        peak = max(self.risk.peak_equity, equity)
        assert equity > peak * (1 - self.limits.reducing_drawdown_pct / 100)

    def has_orders(self, symbol: Symbol) -> bool:
        return any(w.symbol == symbol for w in self.working)

    @precondition(lambda self: self.working)
    @rule(pick=st.integers(0, 1_000), fraction=st.sampled_from(["1", "0.5", "0.25"]))
    def fill(self, pick: int, fraction: str) -> None:
        """A full or partial fill of a resting order at its limit (the worst case for cash)."""
        order = self.working[pick % len(self.working)]
        lot = INSTRUMENTS[order.symbol].lot_size
        qty = (order.remaining * Decimal(fraction) / lot).to_integral_value(ROUND_DOWN) * lot
        qty = min(max(qty, lot), order.remaining)
        STATS["fill" if qty == order.remaining else "partial_fill"] += 1
        self.execute(order, qty, order.limit)

    def execute(self, order: Working, qty: Decimal, price: Decimal) -> None:
        """Fill ``qty`` of ``order`` at ``price`` (never worse than its limit)."""
        symbol = order.symbol
        assert price <= order.limit if order.side is Side.BUY else price >= order.limit
        if order.side is Side.BUY:
            held = self.positions[symbol]
            self.average[symbol] = (held * self.average[symbol] + qty * price) / (held + qty)
            self.positions[symbol] = held + qty
            self.cash -= qty * price
        else:
            self.positions[symbol] -= qty
            self.cash += qty * price
            pnl = (price - self.average[symbol]) * qty
            self.risk = on_trade_closed(self.risk, pnl, self.now, self.limits)
        order.remaining -= qty
        if not order.remaining:
            self.working.remove(order)
        self.feed_equity()

    @precondition(lambda self: self.working)
    @rule(pick=st.integers(0, 1_000))
    def cancel(self, pick: int) -> None:
        self.working.pop(pick % len(self.working))

    @rule(symbol=st.sampled_from(SYMBOLS), move_bps=st.integers(-1_000, 1_000))
    def price_move(self, symbol: Symbol, move_bps: int) -> None:
        """A market-data update: one symbol moves, every quote is fresh again."""
        tick = INSTRUMENTS[symbol].tick_size
        moved = (self.prices[symbol] * (1 + Decimal(move_bps) / 10_000)).quantize(tick)
        self.prices[symbol] = max(moved, tick)
        self.quoted_at = dict.fromkeys(SYMBOLS, self.now)
        self.feed_equity()

    @rule(seconds=st.sampled_from([1, 1, 3, 3, 10, 10, 25, 40, 61, 600, 3_600, 86_400]))
    def clock_advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self.feed_equity()  # also rolls the risk day at midnight, as the executor does

    # The operator acts rarely (most draws do nothing): a sequence halted in its first
    # steps would only ever test denials.
    @rule(action=st.sampled_from(["halt", "resume", "resume", *["none"] * 7]))
    def state_change(self, action: str) -> None:
        if action == "halt":
            self.risk = halt(self.risk, "kill switch in a test", self.now)
        elif action == "resume" and self.risk.trading_state is not TradingState.ACTIVE:
            was = self.risk.trading_state
            self.risk, record = resume(
                self.risk, "reviewed", self.now, operator="tester", equity=self.equity()
            )
            assert record["from_state"] == was.value and record["to_state"] == "active"
            self.resumed = True

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def no_position_or_balance_breaks_a_limit(self) -> None:
        reserve = sum(
            (w.remaining * w.limit for w in self.working if w.side is Side.BUY), Decimal(0)
        )
        assert self.cash >= reserve >= 0  # no leverage: working buys are always funded
        for symbol in SYMBOLS:
            position = self.positions[symbol]
            assert position - self.in_flight(symbol, Side.SELL) >= 0  # never a short
            # The worst-case long only grows through an approval that checked it.
            assert position + self.in_flight(symbol, Side.BUY) <= self.long_bound[symbol]

    @invariant()
    def breakers_latch_and_only_resume_returns(self) -> None:
        current = self.risk.trading_state
        if not self.resumed:
            assert SEVERITY[current] >= SEVERITY[self.last_state]
        STATS[f"state_{current.value}"] += 1
        self.last_state, self.resumed = current, False
        peak, equity = self.risk.peak_equity, self.equity()
        if peak > 0 and (peak - equity) / peak >= self.limits.max_drawdown_pct / 100:
            assert current is TradingState.HALTED


TestRiskStateMachine = RiskMachine.TestCase
TestRiskStateMachine.settings = settings(_PROFILES[PROFILE], **COMMON)  # type: ignore[arg-type]


def test_state_machine_reaches_approvals_denials_fills_and_every_state() -> None:
    """Guards against a vacuous machine: the sequences must actually trade and trip."""
    STATS.clear()

    run_state_machine_as_test(
        RiskMachine, settings=settings(_PROFILES["smoke"], derandomize=True, **COMMON)
    )

    for seen in ("approved", "denied", "fill", "partial_fill", "approved_while_reducing"):
        assert STATS[seen] > 0, f"no {seen} in {dict(STATS)}"
    for state in ("state_reducing", "state_halted"):
        assert STATS[state] > 0, f"never reached {state}: {dict(STATS)}"
    for code in ("MAX_ORDER_NOTIONAL", "MAX_POSITION", "INSUFFICIENT_BALANCE", "STATE_HALTED"):
        assert STATS[code] > 0, f"{code} never denied: {dict(STATS)}"
