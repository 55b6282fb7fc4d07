"""Settings, read once from the environment (prefix ``TILLER_``) and an optional ``.env``.

Secrets are ``SecretStr`` so they never print in reprs, logs or ``--json`` output.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

_BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "pyamqp"}
_PLACEHOLDERS = {"changeme", "change-me", "your-key-here", "xxx", "secret", "todo"}


class LLMPrice(BaseModel):
    """What a model costs, in US dollars per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)


def _price(input_per_mtok: str, output_per_mtok: str) -> LLMPrice:
    return LLMPrice(
        input_per_mtok=Decimal(input_per_mtok), output_per_mtok=Decimal(output_per_mtok)
    )


# Published list prices (USD per million tokens) of common OpenAI models when this table
# was written; check your provider's page and override with TILLER_LLM_PRICES.
DEFAULT_LLM_PRICES: dict[str, LLMPrice] = {
    "gpt-4o": _price("2.50", "10.00"),
    "gpt-4o-mini": _price("0.15", "0.60"),
    "gpt-4.1": _price("2.00", "8.00"),
    "gpt-4.1-mini": _price("0.40", "1.60"),
    "gpt-4.1-nano": _price("0.10", "0.40"),
    "o3-mini": _price("1.10", "4.40"),
    "o4-mini": _price("1.10", "4.40"),
    "gpt-5": _price("1.25", "10.00"),
    "gpt-5-mini": _price("0.25", "2.00"),
    "gpt-5-nano": _price("0.05", "0.40"),
}


def _default_home() -> Path:
    return Path.home() / ".tiller"


class Settings(BaseSettings):
    """Every knob Tiller has. Construct once (``load_settings``) and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="TILLER_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    env: Literal["development", "test", "production"] = "development"
    home: Path = Field(default_factory=_default_home, description="Root of data and state.")
    data_dir: Path | None = Field(None, description="Market data store (default HOME/data).")
    state_dir: Path | None = Field(None, description="Ledger, models, caches (default HOME/state).")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the ledger; default SQLite under state_dir."
    )

    # Exchanges (ccxt). Empty means "no live exchange access".
    exchange_id: str = "binance"
    exchange_api_key: SecretStr | None = None
    exchange_api_secret: SecretStr | None = None
    exchange_sandbox: bool = True
    exchange_timeout_ms: int = Field(10_000, gt=0, le=120_000)
    exchange_max_retries: int = Field(3, ge=0, le=10)
    exchange_api_urls: dict[str, str] | None = Field(
        None,
        description="JSON object replacing entries of ccxt's urls['api'] for exchange_id "
        "(a proxy, a regional endpoint, a local test server).",
    )

    # Trading: where approved orders go, and the risk officer's configuration.
    trading_venue: str = Field(
        "paper", description="'paper' or a ccxt exchange id (uses the exchange_* settings)."
    )
    paper_cash: Decimal = Field(Decimal(100_000), gt=0, description="Paper account cash.")
    paper_currency: str = "USD"
    risk_limits_file: Path | None = Field(
        None, description="TOML/JSON file that tightens the built-in risk ceilings."
    )
    risk_token_key: SecretStr | None = Field(
        None,
        description="HMAC key for approval tokens (>= 32 bytes). Unset: a random key is "
        "created once in state_dir/risk_token.key (mode 0600).",
    )
    audit_key: SecretStr | None = Field(
        None,
        description="HMAC key of the audit chain (>= 32 bytes), kept out of the database. "
        "Unset: a random key is created once in state_dir/audit.key (mode 0600).",
    )

    # Knowledge base and retrieval.
    vector_store: Literal["local", "weaviate"] = Field(
        "local", description="Where chunks and vectors live: the embedded store or Weaviate."
    )
    weaviate_url: str | None = Field(None, description="e.g. http://weaviate.internal:8080")
    weaviate_grpc_port: int = Field(50051, gt=0, lt=65536)
    weaviate_api_key: SecretStr | None = None
    embedding_model: str | None = Field(
        None,
        description="A sentence-transformers model name or folder; unset means the "
        "bundled all-MiniLM-L6-v2.",
    )
    sec_user_agent: str | None = Field(
        None,
        description='SEC EDGAR asks every client to identify itself: "Name email@example.com".',
    )
    edgar_base_url: str = Field(
        "https://www.sec.gov", description="SEC EDGAR archive base URL (tests point it elsewhere)."
    )
    edgar_data_url: str = Field("https://data.sec.gov", description="SEC EDGAR JSON API base URL.")

    # Any OpenAI-compatible endpoint; unset means the offline reasoner.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_s: float = Field(60.0, gt=0, le=600, description="Per-call LLM timeout.")
    llm_max_retries: int = Field(
        2, ge=0, le=10, description="Retries after a 429, a 5xx or a timeout (never a 4xx)."
    )
    llm_max_completion_tokens: int = Field(
        1024, gt=0, le=100_000, description="Cap on the tokens of one LLM answer."
    )
    llm_max_tokens_per_run: int = Field(
        50_000, gt=0, description="LLM tokens (prompt + answer) one run may spend."
    )
    llm_max_cost_per_run_usd: Decimal = Field(
        Decimal("0.50"), ge=0, description="US dollars one run may spend on LLM calls."
    )
    llm_prices: dict[str, LLMPrice] = Field(
        default_factory=lambda: dict(DEFAULT_LLM_PRICES),
        description="JSON object model -> {input_per_mtok, output_per_mtok} in USD per "
        "million tokens; entries add to (or replace) the built-in table. A model in no "
        "table costs 0 and its calls are marked unpriced.",
    )
    llm_structured_method: Literal["function_calling", "json_schema", "json_mode"] = Field(
        "function_calling",
        description="How structured answers are asked for: function_calling works with "
        "most local servers (Ollama, llama.cpp, vLLM); json_schema is OpenAI's "
        "structured outputs; json_mode only asks for a JSON object.",
    )

    # Logs of the long-lived processes (tiller serve, the autopilot, the chat).
    log_format: Literal["text", "json"] = Field(
        "text", description="text lines, or one JSON object per line"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # The API (tiller serve).
    api_rate_limit_per_minute: int = Field(
        600, gt=0, le=1_000_000, description="Requests one API key may make per minute."
    )
    api_max_body_bytes: int = Field(
        1_000_000, gt=0, le=100_000_000, description="Largest request body the API reads."
    )
    api_workers: int = Field(2, ge=1, le=64, description="Agent runs executing at once.")
    api_queue_size: int = Field(
        16, ge=0, le=10_000, description="Agent runs waiting for a worker before 503."
    )
    api_llm_budget_per_key_usd_per_day: Decimal = Field(
        Decimal("5.00"),
        ge=0,
        description="US dollars of LLM calls one API key may spend "
        "per UTC day (each run reserves TILLER_LLM_MAX_COST_PER_RUN_USD up front).",
    )

    # Agent runs on a task queue (`tiller worker`); unset, runs execute where they start.
    worker_broker: SecretStr | None = Field(
        None,
        description="Celery broker of the run queue: redis://host:6379/0 or "
        "amqp://user:password@host:5672//. Set, the API, the autopilot and `tiller run "
        "--queue` enqueue agent runs and `tiller worker` processes run them.",
    )
    worker_queue: str = Field(
        "tiller.runs",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Queue name on the broker (deployments sharing one broker use their own).",
    )
    worker_visibility_timeout_s: int = Field(
        3600,
        ge=1,
        le=7 * 86400,
        description="Redis broker: a run taken by a worker that has not finished it this "
        "long after is handed to another worker (how a killed worker's run is picked up "
        "again). Keep it above the longest run; RabbitMQ hands it over at once.",
    )
    worker_wait_s: float = Field(
        3600, gt=0, le=7 * 86400, description="How long the autopilot waits for a queued run."
    )

    @field_validator("worker_broker", mode="after")
    @classmethod
    def _broker_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        scheme = value.get_secret_value().split("://", 1)[0].lower()
        if scheme not in _BROKER_SCHEMES:
            raise ValueError(
                f"unsupported broker {scheme!r}: use redis://host:6379/0 (Redis) or "
                "amqp://guest:guest@host:5672// (RabbitMQ)"
            )
        return value

    @field_validator("llm_prices", mode="before")
    @classmethod
    def _merge_prices(cls, value: Any) -> Any:
        # A user who prices one local model keeps the built-in table for the others.
        if isinstance(value, dict):
            return {**DEFAULT_LLM_PRICES, **value}
        return value

    @field_validator("home", "data_dir", "state_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = value.expanduser().resolve()
        if path.exists() and not path.is_dir():
            # Found here, not as a NotADirectoryError deep inside the first write.
            raise ValueError(f"{path} is a file; point it at a folder (created if missing)")
        return path

    @property
    def market_data_dir(self) -> Path:
        return self.data_dir or self.home / "data"

    @property
    def state_path(self) -> Path:
        return self.state_dir or self.home / "state"

    @property
    def ledger_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_path / 'ledger.sqlite3'}"

    @property
    def kb_path(self) -> Path:
        """The embedded knowledge-base store (SQLite + vectors)."""
        return self.state_path / "kb"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    def check_secrets(self) -> None:
        """Refuse placeholder secrets outside development."""
        if self.env == "development":
            return
        for name in (
            "exchange_api_key",
            "exchange_api_secret",
            "llm_api_key",
            "risk_token_key",
            "audit_key",
            "weaviate_api_key",
        ):
            value: SecretStr | None = getattr(self, name)
            if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
                raise ConfigError(
                    f"TILLER_{name.upper()} holds a placeholder; set the real value or unset it"
                )


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation failures into a ``ConfigError`` that names the
    environment variable to fix (and never echoes a secret's value)."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            problems.append(f"TILLER_{field.upper()}: {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
    settings.check_secrets()
    return settings
