"""Reading limits from a mapping or a TOML/JSON file. Overrides may only tighten.

A limit that is missing from the input takes its ceiling. A limit that is present must
be a real value: ``null``, NaN, infinity or a negative number is a configuration
error, never "no limit". Anything looser than the ceiling is refused at start-up with
the field, the value and the ceiling, so a typo cannot silently open the gates.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import Field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.errors import ConfigError
from core.types import OrderType, Symbol
from policies.risk._limits import CEILINGS, Ceilings, Kind, Limits, limit_fields

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_UNIT_SECONDS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600)}
_UNIT_SECONDS["d"] = Decimal(86_400)


def load_limits(data: Mapping[str, Any] | None, ceilings: Ceilings = CEILINGS) -> Limits:
    """Build ``Limits`` from ``data`` (field name → value); missing fields take the ceiling.

    Raises ``ConfigError`` naming the field for an unknown key (with a suggestion), a
    malformed value, an unset/NaN/infinite/negative value, or a value looser than
    ``ceilings``. When ``ceilings`` is itself a ``Limits``, allow-lists must be subsets.
    """
    data = dict(data or {})
    _refuse_unknown_keys(data)
    values: dict[str, Any] = {}
    for f in limit_fields(Limits):
        if f.name in data:
            values[f.name] = _parse_field(f, data[f.name], ceilings)
        else:
            values[f.name] = _default(f.name, ceilings)
    return Limits(**values)


def load_limits_file(path: str | Path) -> Limits:
    """Read limits from a ``.toml`` or ``.json`` file whose top level holds the fields."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the limits file {path}: {exc.strerror}") from exc
    data = _decode(path, raw)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table of limits")
    try:
        return load_limits(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _decode(path: Path, raw: bytes) -> Any:
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(raw.decode("utf-8"))
        if suffix == ".json":
            # Decimal, not float: 0.1 in a limits file means exactly 0.1.
            return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # JSON and Unicode errors included
        raise ConfigError(f"{path} is not valid {suffix[1:].upper()}: {exc}") from exc
    raise ConfigError(f"{path}: a limits file must end in .toml or .json")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a limit: every limit needs a finite value")


def _refuse_unknown_keys(data: Mapping[str, Any]) -> None:
    names = [f.name for f in limit_fields(Limits)]
    for key in data:
        if key in names:
            continue
        close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known limits: {', '.join(names)}"
        raise ConfigError(f"unknown limit {key!r}{hint}")


def _default(name: str, ceilings: Ceilings) -> Any:
    if hasattr(ceilings, name):
        return getattr(ceilings, name)
    return getattr(Limits, name)  # an allow-list the ceilings do not have: Limits' default


def _parse_field(f: Field[Any], raw: Any, ceilings: Ceilings) -> Any:
    name = f.name
    if raw is None:
        raise ConfigError(
            f"{name} is unset (null): a limit is never 'no limit'; "
            f"omit {name} to use the ceiling {_show(_default(name, ceilings))}"
        )
    kind: Kind = f.metadata["kind"]
    ceiling = _default(name, ceilings)
    if kind is Kind.DECIMAL_MAX:
        return _at_most(name, _decimal(name, raw), ceiling)
    if kind is Kind.INT_MAX:
        return _at_most(name, _integer(name, raw), ceiling)
    if kind is Kind.DURATION_MAX:
        return _at_most(name, _duration(name, raw), ceiling)
    if kind is Kind.DURATION_MIN:
        value = _duration(name, raw)
        if value < ceiling:
            raise _looser(name, _show(value), _show(ceiling), "it may only be longer")
        return value
    if kind is Kind.FLAG_OFF:
        return _flag(name, raw, ceiling)
    if kind is Kind.ORDER_TYPES:
        return _order_types(name, raw, ceiling)
    if kind is Kind.QTY_BY_SYMBOL:
        return _qty_by_symbol(name, raw, ceilings)
    # Allow-lists are bounded only when the ceilings are themselves deployment limits.
    bound = getattr(ceilings, name) if isinstance(ceilings, Limits) else None
    if kind is Kind.SYMBOLS:
        return _symbols(name, raw, bound)
    return _venues(name, raw, bound)


def _at_most(name: str, value: Any, ceiling: Any) -> Any:
    if value > ceiling:
        raise _looser(name, _show(value), _show(ceiling), "it may only be lower")
    return value


def _looser(name: str, value: str, ceiling: str, how: str) -> ConfigError:
    return ConfigError(
        f"{name} = {value} is looser than the hard ceiling {ceiling}; limits may only "
        f"tighten the ceilings ({how}). Use a tighter value or omit {name} to use the ceiling."
    )


def _show(value: Any) -> str:
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}s"
    if isinstance(value, frozenset | set):
        return "[" + ", ".join(sorted(str(v) for v in value)) + "]"
    return str(value)


def _decimal(name: str, raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise ConfigError(f"{name} must be a number, got {raw!r}")
    try:
        if isinstance(raw, float):
            value = Decimal(repr(raw)) if math.isfinite(raw) else Decimal(str(raw))
        elif isinstance(raw, int | Decimal):
            value = Decimal(raw)
        elif isinstance(raw, str):
            value = Decimal(raw.strip())
        else:
            raise ConfigError(f"{name} must be a number, got {type(raw).__name__}")
    except InvalidOperation as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not value.is_finite():
        raise ConfigError(f"{name} = {raw!r} is not finite: a limit is never 'no limit'")
    if value < 0:
        raise ConfigError(f"{name} = {raw!r} is negative: limits are zero or more")
    return value


def _integer(name: str, raw: Any) -> int:
    value = _decimal(name, raw)
    if value != value.to_integral_value():
        raise ConfigError(f"{name} must be a whole number, got {raw!r}")
    return int(value)


def _duration(name: str, raw: Any) -> timedelta:
    """Seconds as a number, or a string with a unit: ``250ms``, ``30s``, ``5m``, ``1h``, ``1d``."""
    if isinstance(raw, str) and not _DURATION_RE.match(raw.strip()):
        hint = "use seconds (30) or a number with a unit: 250ms, 30s, 5m, 1h, 1d"
        if raw.strip().lower() in ("nan", "inf", "infinity", "-inf"):
            hint = "a limit is never 'no limit'"
        raise ConfigError(f"{name} = {raw!r} is not a duration: {hint}")
    if isinstance(raw, str):
        match = _DURATION_RE.match(raw.strip())
        assert match is not None
        seconds = Decimal(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    else:
        seconds = _decimal(name, raw)
    try:
        return timedelta(microseconds=int(seconds * 1_000_000))
    except OverflowError as exc:
        raise ConfigError(f"{name} = {raw!r} is too long to be a duration") from exc


def _flag(name: str, raw: Any, ceiling: bool) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    if raw and not ceiling:
        raise _looser(name, "true", "false", "it is off in code and may not be switched on")
    return raw


def _strings(name: str, raw: Any) -> list[str]:
    if isinstance(raw, str) or not isinstance(raw, Iterable):
        raise ConfigError(f"{name} must be a list of strings, got {raw!r}")
    items = list(raw)
    if not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{name} must be a list of strings, got {raw!r}")
    return items


def _order_types(name: str, raw: Any, ceiling: frozenset[OrderType]) -> frozenset[OrderType]:
    chosen: set[OrderType] = set()
    for item in _strings(name, raw):
        try:
            chosen.add(OrderType(item.strip().lower()))
        except ValueError:
            options = [t.value for t in OrderType]
            raise ConfigError(
                f"{name}: unknown order type {item!r}; use one of {options}"
            ) from None
    extra = chosen - ceiling
    if extra:
        raise _looser(name, _show(chosen), _show(ceiling), "it may only drop order types")
    return frozenset(chosen)


def _symbol(name: str, text: Any) -> Symbol:
    try:
        return Symbol(text)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def _qty_by_symbol(name: str, raw: Any, ceilings: Ceilings) -> Mapping[Symbol, Decimal]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{name} must be a table of symbol = quantity, got {raw!r}")
    caps: dict[Symbol, Decimal] = dict(ceilings.max_order_qty_by_symbol)
    for key, value in raw.items():
        symbol = _symbol(name, key)
        if value is None:
            raise ConfigError(f"{name}[{symbol}] is unset (null): a limit is never 'no limit'")
        caps[symbol] = _at_most(
            f"{name}[{symbol}]",
            _decimal(f"{name}[{symbol}]", value),
            ceilings.order_qty_cap(symbol),
        )
    return MappingProxyType(caps)


def _symbols(name: str, raw: Any, bound: frozenset[Symbol] | None) -> frozenset[Symbol] | None:
    if raw == "*":
        if bound is not None:
            raise _looser(name, "*", _show(bound), "it may only list fewer symbols")
        return None
    chosen = frozenset(_symbol(name, item) for item in _strings(name, raw))
    if bound is not None and not chosen <= bound:
        raise _looser(name, _show(chosen), _show(bound), "it may only list fewer symbols")
    return chosen


def _venues(name: str, raw: Any, bound: frozenset[str] | None) -> frozenset[str]:
    items = [item.strip().lower() for item in _strings(name, raw)]
    if "*" in items or "" in items:
        raise ConfigError(f"{name}: name each venue that may receive orders ('*' is not allowed)")
    chosen = frozenset(items)
    if bound is not None and not chosen <= bound:
        raise _looser(name, _show(chosen), _show(bound), "it may only list fewer venues")
    return chosen
