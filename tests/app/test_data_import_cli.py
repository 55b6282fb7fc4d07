"""``tiller data import`` never rewrites history silently, and ``data restore`` undoes
the last write (issue 10, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _three_bars_near_100(tmp_path: Path) -> Path:
    path = tmp_path / "my-bars.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:00:00Z,100,101,99,100.5,10\n"
        "2024-01-02T00:00:00Z,100.5,102,100,101,10\n"
        "2024-01-03T00:00:00Z,101,101.5,99.5,100,10\n"
    )
    return path


def _closes(day_from: str, day_to: str) -> list[float]:
    code, out, _ = invoke("data", "show", "BTC/USDT", "1d", "--as-of", day_to, "--json",
                          "--tail", "3")  # fmt: skip
    assert code == 0
    return [bar["close"] for bar in json.loads(out) if bar["open_time"] >= day_from]


def test_importing_bars_near_100_over_real_btc_bars_then_refused_with_count_and_change(
    market_dir: Path, tmp_path: Path
) -> None:
    assert invoke("data", "import", str(market_dir / "crypto_1d" / "BTCUSDT_1d.csv"))[0] == 0
    real = _closes("2024-01-01", "2024-01-04")
    assert real == [44179.55, 44946.91, 42845.23]

    code, out, err = invoke(
        "data", "import", str(_three_bars_near_100(tmp_path)), "--symbol", "BTC/USDT"
    )

    assert code == 3 and "updated" not in out
    assert "3 stored bar(s) of BTC/USDT 1d would change by more than 5%" in err
    assert "largest:" in err and "-99.8%" in err and "--replace" in err
    assert _closes("2024-01-01", "2024-01-04") == real


def test_importing_with_replace_overwrites_and_restore_brings_the_real_bars_back(
    market_dir: Path, tmp_path: Path
) -> None:
    invoke("data", "import", str(market_dir / "crypto_1d" / "BTCUSDT_1d.csv"))
    real = _closes("2024-01-01", "2024-01-04")

    code, out, _ = invoke("data", "import", str(_three_bars_near_100(tmp_path)),
                          "--symbol", "BTC/USDT", "--replace", "--json")  # fmt: skip

    assert code == 0
    report = json.loads(out)["imported"][0]
    assert report["updated"] == 3 and report["largest_change"]["relative"] < -0.99
    assert _closes("2024-01-01", "2024-01-04") == [100.5, 101.0, 100.0]

    code, out, _ = invoke("data", "restore", "BTC/USDT", "1d")
    assert code == 0 and "restored" in out
    assert _closes("2024-01-01", "2024-01-04") == real
    assert invoke("data", "restore", "BTC/USDT", "1d")[0] == 0  # and back again: a redo
    assert _closes("2024-01-01", "2024-01-04") == [100.5, 101.0, 100.0]


def test_restore_with_nothing_to_restore_exits_4() -> None:
    code, _, err = invoke("data", "restore", "DOGE/USDT", "1d")
    assert code == 4 and "no previous version" in err


def test_keep_stored_and_replace_together_are_refused(tmp_path: Path) -> None:
    code, _, err = invoke("data", "import", str(_three_bars_near_100(tmp_path)),
                          "--symbol", "BTC/USDT", "--keep-stored", "--replace")  # fmt: skip
    assert code == 2 and "contradict" in err
