"""Orders per second through the whole path: risk check → executor (token verify, ledger,
audit permit) → paper broker → fill booked in the ledger, on SQLite and PostgreSQL.

    .venv/bin/python bench/executor.py [--orders 200] [--postgres URL]

Per order this is what production does: one risk check, several audit appends
(order_sent, ack, fill, ...) and ledger transactions, every one committed durably. No
competitor runs this path, so the numbers are absolute; bench/ledger.py compares the
ledger layer alone with the bare database driver.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.clock import FixedClock  # noqa: E402
from core.ledger import open_ledger  # noqa: E402
from core.types import Bar, Instrument, OrderIntent, Quote, Side, Symbol  # noqa: E402
from policies.risk import (  # noqa: E402
    Approved,
    MarketView,
    PortfolioView,
    TokenSigner,
    check,
    load_limits,
)
from tools.executor import Executor, FillModel, PaperBroker, startup  # noqa: E402

AAPL = Symbol("AAPL")
T0 = datetime(2024, 1, 2, 15, tzinfo=UTC)
SIGNER = TokenSigner(b"bench-key-0123456789abcdef012345")
LIMITS = load_limits({"allowed_symbols": ["AAPL"], "max_orders_per_day": 500})


def run(url: str, n: int) -> tuple[float, float]:
    clock = FixedClock(T0)
    instrument = Instrument(symbol=AAPL, tick_size=Decimal("0.01"), lot_size=Decimal(1))
    broker = PaperBroker({"USD": Decimal(10_000_000)}, [instrument],
                         FillModel(Decimal("0.001"), Decimal(0)), clock)  # fmt: skip
    with open_ledger(url, clock=clock) as ledger:
        executor = Executor(broker=broker, ledger=ledger, signer=SIGNER, limits=LIMITS,
                            clock=clock, initial_equity=Decimal(10_000_000))  # fmt: skip
        startup(executor)
        check_s = 0.0
        start = time.perf_counter()
        for i in range(n):
            clock.advance(timedelta(seconds=4))  # stay under 20 orders a minute
            now = clock.now()
            price = Decimal(100) + Decimal(i % 7)
            broker.on_quote(Quote(symbol=AAPL, timestamp=now, last=price))
            side = Side.BUY if i % 2 == 0 else Side.SELL
            proposal = OrderIntent(intent_id=f"b{i}", symbol=AAPL, side=side,
                                   quantity=Decimal(10), created_at=now)  # fmt: skip
            held = {p.symbol: p.quantity for p in ledger.positions()}
            book = PortfolioView(cash=Decimal(10_000_000), positions=held)
            view = MarketView({AAPL: Quote(symbol=AAPL, timestamp=now, last=price)},
                              {AAPL: instrument})  # fmt: skip
            risk_state = executor.risk_state()
            t = time.perf_counter()
            decision = check(proposal, book, view, LIMITS, risk_state, now, signer=SIGNER)
            check_s += time.perf_counter() - t
            assert isinstance(decision, Approved), decision
            executor.submit(decision)
            clock.advance(timedelta(seconds=1))
            bar = Bar(symbol=AAPL, timeframe="1m", open_time=clock.now(), open=price,
                      high=price * 2, low=price / 2, close=price, volume=Decimal(1000))  # fmt: skip
            executor.record_fills(broker.on_bar(bar))
            executor.sync()
        total = time.perf_counter() - start
        assert ledger.audit.verify().ok
    return n / total, check_s / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite (WAL)", *run(f"sqlite:///{Path(tmp) / 'l.sqlite3'}", args.orders)))
    try:
        admin = psycopg.connect(args.postgres, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL skipped: {exc}")
    else:
        name = f"tiller_bench_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(args.postgres).set(database=name).render_as_string(False)
            rows.append(("PostgreSQL 15", *run(url, args.orders)))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
    print(f"\n{args.orders} orders, each: risk check -> executor -> paper fill -> ledger")
    print(f"{'backend':<16} {'orders/s':>9} {'ms/order':>9} {'risk check µs':>14}")
    for name, rate, check_s in rows:
        print(f"{name:<16} {rate:9.1f} {1000 / rate:9.2f} {check_s * 1e6:14.1f}")


if __name__ == "__main__":
    main()
