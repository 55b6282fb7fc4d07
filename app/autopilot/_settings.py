"""The autopilot's own settings (prefix ``TILLER_AUTOPILOT_``), read once per process.

Kept apart from ``core.settings`` because only the autopilot reads them; the main
settings ignore unknown ``TILLER_*`` variables, so both read the same environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AnyHttpUrl, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AutopilotSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TILLER_AUTOPILOT_", env_file=".env", env_file_encoding="utf-8",
        extra="ignore", frozen=True, populate_by_name=True,
    )  # fmt: skip

    live: bool = Field(
        False,
        description="The second switch for live trading: jobs added with --mode live trade "
        "the configured venue only while this is 1 (and TILLER_TRADING_VENUE is not paper).",
    )
    limits_file: Path | None = Field(
        None, description="TOML/JSON limits that tighten the main limits for autopilot runs."
    )
    cycle_s: float = Field(
        10.0, ge=0.05, le=300, description="Seconds between heartbeats and housekeeping."
    )
    mark_every_s: float = Field(
        300.0, ge=0.05, le=86_400, description="Seconds between marks to market."
    )
    full_audit_every_s: float = Field(
        3600.0, ge=0, le=86_400,
        description="Seconds between whole walks of the audit chain; between them each slot "
        "checks only the entries written since the last slot (0: the whole chain every slot).",
    )  # fmt: skip
    notify_webhook: AnyHttpUrl | None = Field(
        None,
        validation_alias="TILLER_NOTIFY_WEBHOOK",
        description="POSTed a JSON event for orders, denials, halts and errors.",
    )


def load_autopilot_settings(**overrides: object) -> AutopilotSettings:
    from pydantic import ValidationError

    from core.errors import ConfigError

    try:
        return AutopilotSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{_env_name(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid autopilot setting: {problems}") from None


def _env_name(loc: tuple[object, ...]) -> str:
    name = ".".join(str(p) for p in loc).upper()
    return name if name.startswith("TILLER_") else f"TILLER_AUTOPILOT_{name}"
