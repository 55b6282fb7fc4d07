"""Risk-check latency against nautilus_trader's RiskEngine, measured in one run.

    .venv/bin/python bench/risk.py [--iterations 30000]

Ours: ``policies.risk.check`` with every check on — allow-lists, instrument rules, a
fresh-quote reference, the collar (a market order becomes a protected limit), precision,
order size, duplicates and throttles over a day of submissions, and the portfolio checks
over 50 held positions plus 10 working orders (worst-case position, gross and net
exposure, cash with working buys, live breakers) — then the client order id and the HMAC
token. One call of ``check`` is one sample.

Reference: nautilus_trader's Cython ``RiskEngine`` (cash account, max notional per order
and submit rate configured, a quote in its cache). Two paths are timed: its pre-trade
checks alone (``_check_order`` + ``_check_orders_risk``) and the whole ``execute(SubmitOrder)``
command path (trading state, checks, throttler, hand-off to a no-op execution endpoint).
Its checks look at one instrument and one account balance; they do not value a portfolio.
We also time our check on an empty portfolio as the closer like-for-like.

The machine is shared and has slow phases lasting seconds, in which any Python code runs
up to ~2× slower. So the cases are interleaved call by call (every case sees the same
phases), and each iteration also times a fixed probe (1,000 Decimal additions, about as
long as our check). The probe's own p99/p50 is the tail the machine adds to any call of
that length. "quiet p99" is the p99 over the iterations whose probe ran within 25 % of its
median, i.e. with the machine's slow phases left out. Plain p50/p99 include everything.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.types import Instrument, OrderIntent, OrderType, Quote, Side, Symbol  # noqa: E402
from policies.risk import (  # noqa: E402
    Approved,
    Denied,
    MarketView,
    PortfolioView,
    RiskState,
    TokenSigner,
    WorkingOrder,
    check,
    load_limits,
    on_order_submitted,
)

NOW = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
POSITIONS = 50


def our_world(positions: int) -> dict[str, Any]:
    """A 50-symbol book: fresh two-sided quotes, holdings, working orders, a busy day."""
    symbols = [Symbol(f"S{i:02d}") for i in range(max(positions, 1))]
    quotes = {
        s: Quote(symbol=s, timestamp=NOW - timedelta(seconds=2), last=Decimal("100.00"),
                 bid=Decimal("99.99"), ask=Decimal("100.01"))
        for s in symbols
    }  # fmt: skip
    instruments = {
        s: Instrument(symbol=s, lot_size=Decimal(1), min_notional=Decimal(10)) for s in symbols
    }
    held = {s: Decimal(20 + i) for i, s in enumerate(symbols[:positions])}
    working = [WorkingOrder(s, Side.BUY, Decimal(5), Decimal("99.50")) for s in symbols[:5]]
    working += [WorkingOrder(s, Side.SELL, Decimal(5), Decimal("100.50")) for s in symbols[5:8]]
    working += [WorkingOrder(s, Side.BUY, Decimal(2), None) for s in symbols[8:10]]
    book = PortfolioView(cash=Decimal(500_000), positions=held, working_orders=tuple(working))
    limits = load_limits(
        {"allowed_symbols": [str(s) for s in symbols], "allowed_venues": ["paper"]}
    )
    signer = TokenSigner(b"bench-key-bench-key-bench-key-32")
    market = MarketView(quotes=quotes, instruments=instruments)
    equity = book.cash + sum(q * Decimal(100) for q in held.values())
    state = _busy_day(RiskState.start(equity, NOW), book, market, limits, signer)
    return {"book": book, "market": market, "limits": limits, "state": state, "signer": signer,
            "symbol": symbols[min(3, len(symbols) - 1)]}  # fmt: skip


def _busy_day(
    state: RiskState, book: PortfolioView, market: MarketView, limits: Any, signer: TokenSigner
) -> RiskState:
    """Fifteen sent orders today, three of them within the last minute (scanned by the
    duplicate and rate checks)."""
    for i in range(15):
        at = NOW - timedelta(seconds=40 if i >= 12 else 3_600 * (i + 1) // 4)
        proposal = OrderIntent(intent_id=f"old{i}", symbol=Symbol("S00"), side=Side.BUY,
                               quantity=Decimal(1 + i), order_type=OrderType.LIMIT,
                               limit_price=Decimal("100.00"), created_at=at)  # fmt: skip
        view = MarketView(
            quotes={s: q.model_copy(update={"timestamp": at}) for s, q in market.quotes.items()},
            instruments=market.instruments,
        )
        decision = check(proposal, book, view, limits, state, at, signer=signer)
        assert isinstance(decision, Approved), decision
        state = on_order_submitted(state, decision, at)
    return state


def our_case(world: dict[str, Any], kind: str) -> Callable[[], object]:
    symbol = world["symbol"]
    fields: dict[str, Any] = {"order_type": OrderType.MARKET}
    qty = Decimal(10)
    if kind == "limit":
        fields = {"order_type": OrderType.LIMIT, "limit_price": Decimal("100.02")}
    elif kind == "denied":
        qty = Decimal(5_000)  # over max_order_notional, max_position and cash
    proposal = OrderIntent(intent_id="bench", symbol=symbol, side=Side.BUY, quantity=qty,
                           created_at=NOW, **fields)  # fmt: skip
    args = (proposal, world["book"], world["market"], world["limits"], world["state"], NOW)
    signer = world["signer"]
    expected = Denied if kind == "denied" else Approved
    decision = check(*args, signer=signer)
    assert isinstance(decision, expected), decision

    def run() -> object:
        return check(*args, signer=signer)

    return run


def nautilus_cases() -> dict[str, Callable[[], object]] | str:
    """Build nautilus_trader's RiskEngine, or say plainly why it could not be built."""
    try:
        import nautilus_trader  # noqa: F401
    except ImportError as exc:  # the package (pip install -e '.[bench]') is optional
        return f"nautilus_trader unavailable ({exc})"
    try:
        return _build_nautilus()
    except Exception as exc:  # any API drift: report it, measure only ours
        return f"nautilus_trader could not be set up ({type(exc).__name__}: {exc})"


def _build_nautilus() -> dict[str, Callable[[], object]]:
    """The two nautilus cases: its pre-trade checks, and the whole command path."""
    risk, instrument, order, command, sent = _nautilus_engine()
    risk.start()
    if not (risk._check_order(instrument, order) and risk._check_orders_risk(instrument, [order])):
        raise RuntimeError("the reference order was denied; the comparison would be meaningless")
    risk.execute(command)
    if len(sent) != 1:
        raise RuntimeError("execute() did not reach the execution endpoint")

    def checks() -> object:
        return risk._check_order(instrument, order) and risk._check_orders_risk(instrument, [order])

    def execute() -> object:
        sent.clear()
        return risk.execute(command)

    return {
        "nautilus: _check_order + _check_orders_risk": checks,
        "nautilus: execute(SubmitOrder)": execute,
    }


def _nautilus_engine() -> tuple[Any, Any, Any, Any, list[object]]:
    """nautilus_trader's RiskEngine built the way its own unit tests build it
    (tests/unit_tests/risk/test_engine.py): test clock, message bus, cache, portfolio, a CASH
    account with a USD balance, the AUD/USD test instrument with a quote in the cache,
    ``max_notional_per_order`` and a submit rate that never throttles. The execution
    endpoint is a no-op, so the command path ends at the hand-off as ours ends at the
    decision."""
    from nautilus_trader.common.component import MessageBus, TestClock
    from nautilus_trader.config import ExecEngineConfig, RiskEngineConfig
    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.execution.engine import ExecutionEngine
    from nautilus_trader.execution.messages import SubmitOrder
    from nautilus_trader.model.enums import OrderSide
    from nautilus_trader.model.objects import Quantity
    from nautilus_trader.portfolio.portfolio import Portfolio
    from nautilus_trader.risk.engine import RiskEngine
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.test_kit.stubs.component import TestComponentStubs
    from nautilus_trader.test_kit.stubs.data import TestDataStubs
    from nautilus_trader.test_kit.stubs.events import TestEventStubs
    from nautilus_trader.test_kit.stubs.identifiers import TestIdStubs
    from nautilus_trader.trading.strategy import Strategy

    clock, trader_id = TestClock(), TestIdStubs.trader_id()
    msgbus = MessageBus(trader_id=trader_id, clock=clock)
    cache = TestComponentStubs.cache()
    portfolio = Portfolio(msgbus=msgbus, cache=cache, clock=clock)
    parts = {"msgbus": msgbus, "cache": cache, "clock": clock}
    exec_engine = ExecutionEngine(config=ExecEngineConfig(), **parts)
    instrument = TestInstrumentProvider.default_fx_ccy("AUD/USD")
    cache.add_instrument(instrument)
    config = RiskEngineConfig(
        max_order_submit_rate="100000000/00:00:01",
        max_notional_per_order={str(instrument.id): 10_000_000},
    )
    risk = RiskEngine(portfolio=portfolio, config=config, **parts)
    portfolio.update_account(TestEventStubs.cash_account_state())
    cache.add_quote_tick(TestDataStubs.quote_tick(instrument, bid_price=0.80, ask_price=0.8001))
    strategy = Strategy()
    strategy.register(trader_id=trader_id, portfolio=portfolio, **parts)
    order = strategy.order_factory.market(instrument.id, OrderSide.BUY, Quantity.from_int(100_000))
    sent: list[object] = []
    msgbus.deregister("ExecEngine.execute", exec_engine.execute)
    msgbus.register("ExecEngine.execute", sent.append)
    command = SubmitOrder(
        trader_id=trader_id, strategy_id=strategy.id, position_id=None, order=order,
        command_id=UUID4(), ts_init=clock.timestamp_ns(),
    )  # fmt: skip
    return risk, instrument, order, command, sent


_PROBE_VALUES = [Decimal(i) / 7 for i in range(100)]


def probe() -> object:
    """A fixed Decimal workload about as long as our check: how fast the machine runs
    Python at this moment, and how long a tail it adds to a call of that length."""
    total = Decimal(0)
    for _ in range(10):
        total += sum(_PROBE_VALUES, Decimal(0))
    return total


def time_interleaved(
    cases: dict[str, Callable[[], object]], iterations: int
) -> tuple[dict[str, list[int]], list[int]]:
    """Every iteration times the probe, then each case once."""
    clock = time.perf_counter_ns
    named = list(cases.items())
    samples: dict[str, list[int]] = {name: [] for name, _ in named}
    probes: list[int] = []
    for _ in range(500):  # warm-up: caches, first-call paths
        for _, fn in named:
            fn()
    for _ in range(iterations):
        start = clock()
        probe()
        probes.append(clock() - start)
        for name, fn in named:
            start = clock()
            fn()
            samples[name].append(clock() - start)
    return samples, probes


def quantile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1_000


def summarise(taken: list[int], quiet: list[bool]) -> dict[str, float]:
    calm = [ns for ns, ok in zip(taken, quiet, strict=True) if ok]
    return {
        "p50": quantile(taken, 0.50),
        "p90": quantile(taken, 0.90),
        "p99": quantile(taken, 0.99),
        "quiet_p99": quantile(calm, 0.99),
        "per_s": 1e9 / statistics.fmean(taken),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=30_000, help="calls per case")
    args = parser.parse_args()

    full, empty = our_world(POSITIONS), our_world(0)
    cases: dict[str, Callable[[], object]] = {
        "ours: market→protected limit, 50 positions": our_case(full, "market"),
        "ours: limit order, 50 positions": our_case(full, "limit"),
        "ours: denied (3 violations), 50 positions": our_case(full, "denied"),
        "ours: market order, empty portfolio": our_case(empty, "market"),
    }
    reference = nautilus_cases()
    if isinstance(reference, dict):
        cases.update(reference)
    gc.collect()
    gc.freeze()  # setup objects out of the collector's way, for every engine alike
    samples, probes = time_interleaved(cases, args.iterations)
    calm = 1.25 * statistics.median(probes)
    quiet = [ns <= calm for ns in probes]
    results = {name: summarise(taken, quiet) for name, taken in samples.items()}
    results["probe: 1,000 Decimal additions (the machine)"] = summarise(probes, quiet)
    print_table(results, reference, args, sum(quiet) / len(quiet))


def print_table(
    results: dict[str, dict[str, float]], reference: Any, args: argparse.Namespace, calm: float
) -> None:
    versions = f"python {platform.python_version()}"
    if isinstance(reference, dict):
        import nautilus_trader

        versions += f", nautilus_trader {nautilus_trader.__version__}"
    print(f"{versions}; {args.iterations} calls per case, interleaved")
    print(f"quiet iterations (probe within 25 % of its median): {calm:.0%}\n")
    heads = ("p50 µs", "p90 µs", "p99 µs", "quiet p99", "calls/s")
    print(f"{'case':52s}" + "".join(f"{h:>10s}" for h in heads))
    for name, r in results.items():
        cells = [f"{r[k]:10.1f}" for k in ("p50", "p90", "p99", "quiet_p99")]
        print(f"{name:52s}" + "".join(cells) + f"{r['per_s']:10,.0f}")
    ours = results["ours: market→protected limit, 50 positions"]
    verdict = "under" if ours["p99"] < 100 else "OVER"
    print(f"\ntarget p99 < 100 µs (50 positions, all checks): {ours['p99']:.1f} µs — {verdict}"
          f"; quiet p99 {ours['quiet_p99']:.1f} µs")  # fmt: skip
    if not isinstance(reference, dict):
        print(f"\nreference: {reference}; only our check was measured")
        return
    checks = results["nautilus: _check_order + _check_orders_risk"]
    command = results["nautilus: execute(SubmitOrder)"]
    small = results["ours: market order, empty portfolio"]
    print("\nratios (p50, ours ÷ nautilus; > 1 means nautilus is faster):")
    print(
        f"  ours, 50 positions  ÷ nautilus pre-trade checks : {ours['p50'] / checks['p50']:5.1f}×"
    )
    print(
        f"  ours, 50 positions  ÷ nautilus execute()        : {ours['p50'] / command['p50']:5.1f}×"
    )
    print(
        f"  ours, no positions  ÷ nautilus pre-trade checks : {small['p50'] / checks['p50']:5.1f}×"
    )


if __name__ == "__main__":
    main()
