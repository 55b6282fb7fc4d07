"""``tiller backtest`` and the readable report ``tiller demo`` prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from app.cli._common import container, handle_errors, out, print_json, safe
from core.errors import ConfigError, NotFoundError
from core.timeutil import parse_utc

if TYPE_CHECKING:
    from app.services.backtests import BacktestResultView


def load_spec(spec_path: Path | None, preset_name: str | None, fee: float | None) -> Any:
    from tools.strategy import parse_spec, preset

    if (spec_path is None) == (preset_name is None):
        raise ConfigError("pass exactly one of --spec FILE.json or --preset NAME")
    overrides: dict[str, Any] = {} if fee is None else {"fee_rate": fee}
    if preset_name is not None:
        return preset(preset_name, **overrides)
    assert spec_path is not None
    data = _read_spec_json(spec_path)
    if not isinstance(data, dict):
        raise ConfigError(f"{spec_path}: a spec is a JSON object with at least an 'entry'")
    return parse_spec({**data, **overrides})


MAX_SPEC_BYTES = 1_000_000


def _read_spec_json(path: Path) -> Any:
    """The spec file's JSON, or a one-line error saying what the file is instead."""
    if not path.exists():
        raise NotFoundError(f"{path}: no such spec file")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file; --spec takes a JSON file")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size:,} bytes is too large for a spec")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (a spec is UTF-8 JSON)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise ConfigError(f"{path}: JSON nested too deeply to be a strategy spec") from None


def backtest(
    symbol: Annotated[str, typer.Option(help="e.g. AAPL or BTC/USDT")] = "AAPL",
    timeframe: Annotated[str, typer.Option(help="e.g. 1d, 4h, 1h")] = "1d",
    spec: Annotated[Path | None, typer.Option(help="Strategy spec JSON file.")] = None,
    preset: Annotated[
        str | None, typer.Option(help="sma-cross, rsi-reversion, buy-hold, macd-trend")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First bar (UTC).")] = None,
    end: Annotated[str | None, typer.Option(help="Last bar (UTC).")] = None,
    fee: Annotated[float | None, typer.Option(help="Fee rate per fill, e.g. 0.001.")] = None,
    equity_curve: Annotated[bool, typer.Option(help="Include the equity curve in JSON.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Backtest a strategy: signals at each close, fills at the next open, costs included."""
    _backtest(symbol, timeframe, spec, preset, start, end, fee, equity_curve, json_)


@handle_errors
def _backtest(
    symbol: str, timeframe: str, spec_path: Path | None, preset_name: str | None,
    start: str | None, end: str | None, fee: float | None, curve: bool, json_: bool,
) -> None:  # fmt: skip
    from app.services.backtests import run_spec

    strategy = load_spec(spec_path, preset_name, fee)
    result = run_spec(
        container(), strategy, symbol, timeframe, equity_curve=curve,
        start=parse_utc(start, name="--start") if start else None,
        end=parse_utc(end, name="--end") if end else None,
    )  # fmt: skip
    if json_:
        print_json(result.model_dump(mode="json", exclude=None if curve else {"equity_curve"}))
    else:
        print_report(result)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:,.2f}%"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def print_report(result: BacktestResultView, title: str | None = None) -> None:
    m = result.model_dump()
    table = Table(
        title=title
        or f"{safe(result.strategy, one_line=True)} on {result.symbol} {result.timeframe}",
        caption=f"{result.start:%Y-%m-%d} → {result.end:%Y-%m-%d}, {result.bars:,} bars; "
        "fills at next open; fee "
        f"{result.assumptions['fee_rate'] * 100:g}%, slippage "
        f"{result.assumptions['slippage'] * 100:g}%",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("initial → final equity", f"{result.initial_cash:,.2f} → {result.final_equity:,.2f}"),
        ("total return", _pct(m["total_return"])),
        ("annualised return", _pct(m["annualized_return"])),
        ("volatility (ann.)", _pct(m["volatility"])),
        ("Sharpe / Sortino", f"{_num(m['sharpe'])} / {_num(m['sortino'])}"),
        ("max drawdown", _pct(m["max_drawdown"])),
        (
            "longest drawdown",
            f"{m['max_drawdown_duration_days']:,.0f} days "
            f"({m['max_drawdown_duration_bars']:,} bars)",
        ),
        ("Calmar", _num(m["calmar"])),
        ("trades / win rate", f"{m['n_trades']} / {_pct(m['win_rate'])}"),
        ("exposure", _pct(m["exposure"])),
        ("turnover", f"{_num(m['turnover'])}×"),
        ("fees paid", _num(m["fees_paid"])),
    ]
    for row in rows:
        table.add_row(*row)
    out.print(table)
