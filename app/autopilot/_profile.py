"""The autopilot's limits profile: the main limits, tightened for runs nobody watches.

Built-in defaults are taken at most as loose as the main limits; a profile file
(``TILLER_AUTOPILOT_LIMITS_FILE`` or ``tiller autopilot start --limits``) may set any limit
up to the main limits and never beyond: ``policies.risk.load_limits`` with the main
limits as the ceilings refuses a looser value, naming the field and the main value.
"""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from policies.risk import Limits, load_limits

# Unattended runs get smaller orders and positions, fewer orders and earlier breakers.
AUTOPILOT_DEFAULTS: dict[str, Decimal | int] = {
    "max_order_notional": Decimal(10_000),
    "max_position_notional": Decimal(25_000),
    "max_orders_per_minute": 5,
    "max_orders_per_day": 20,
    "max_daily_loss_pct": Decimal(2),
    "reducing_drawdown_pct": Decimal(5),
    "max_drawdown_pct": Decimal(10),
}


def profile_limits(main: Limits, path: Path | None = None) -> Limits:
    """The profile: the defaults (capped at ``main``), then the file's values, checked
    against ``main`` as ceilings."""
    data: dict[str, Any] = {k: min(v, getattr(main, k)) for k, v in AUTOPILOT_DEFAULTS.items()}
    given = _read(path) if path is not None else {}
    if "max_drawdown_pct" in given and "reducing_drawdown_pct" not in given:
        # REDUCING must come before HALTED: follow a tighter halt the file asks for.
        data["reducing_drawdown_pct"] = min(
            Decimal(str(data["reducing_drawdown_pct"])), Decimal(str(given["max_drawdown_pct"]))
        )
    data.update(given)
    try:
        return load_limits(data, ceilings=main)
    except ConfigError as exc:
        where = f"{path}: " if path is not None else ""
        raise ConfigError(
            f"autopilot limits: {where}{exc} (here the ceilings are the main limits: the "
            "autopilot's profile may only tighten them)"
        ) from None


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the autopilot limits file {path}: {exc.strerror or exc}"
        ) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        elif suffix == ".json":
            data = json.loads(raw, parse_float=Decimal)
        else:
            raise ConfigError(f"{path}: an autopilot limits file must end in .toml or .json")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigError(f"{path} is not valid {suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table of limits")
    return data
