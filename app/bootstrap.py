"""The composition root: the only place that builds the object graph from settings."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.clock import Clock, SystemClock
from core.errors import ConfigError
from core.settings import Settings, load_settings
from core.types import Instrument, Symbol
from tools.market_data import BarStore, ensure_bundled, open_store

if TYPE_CHECKING:
    from agents.signals import ModelCache
    from app.services.queue import RunQueue
    from core.ledger import Ledger
    from core.llm import ChatModel
    from policies.risk import Limits, TokenSigner
    from rag_index.service import KnowledgeBase
    from tools.executor import Broker, Executor


# Quote currencies an exchange account is counted in, in the order they are preferred
# when the account holds several and no pair says which.
_QUOTE_CURRENCIES = ("USDT", "USDC", "FDUSD", "USD", "EUR", "BTC")


@dataclass
class Container:
    settings: Settings
    clock: Clock

    @cached_property
    def store(self) -> BarStore:
        store = open_store(self.settings.market_data_dir)
        # The offline default is always there, loaded through the same store as imports.
        ensure_bundled(store)
        return store

    @cached_property
    def ledger(self) -> Ledger:
        from core.ledger import open_ledger, secret_values

        self.settings.state_path.mkdir(parents=True, exist_ok=True)
        return open_ledger(
            self.settings.ledger_url, secrets=secret_values(self.settings), clock=self.clock,
            audit_key=self.audit_key, state_dir=self.settings.state_path,
        )  # fmt: skip

    @cached_property
    def audit_key(self) -> bytes:
        """The audit chain's HMAC key, never stored in the database: TILLER_AUDIT_KEY, or
        a random key created once in state_dir/audit.key (mode 0600)."""
        from core.ledger import MIN_AUDIT_KEY_BYTES

        key = self.settings.audit_key
        if key is None:
            return _key_file(
                self.settings.state_path / "audit.key",
                lost="restore the file the chain was keyed with; a new key cannot verify "
                "the entries the old one keyed",
            )
        value = key.get_secret_value().encode()
        if len(value) < MIN_AUDIT_KEY_BYTES:
            raise ConfigError(
                f"TILLER_AUDIT_KEY is too short: {len(value)} bytes, need at least "
                f"{MIN_AUDIT_KEY_BYTES} (make one with python -c "
                "'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @cached_property
    def limits(self) -> Limits:
        from policies.risk import load_limits, load_limits_file

        path = self.settings.risk_limits_file
        return load_limits_file(path) if path is not None else load_limits(None)

    @cached_property
    def signer(self) -> TokenSigner:
        from policies.risk import TokenSigner

        key = self.settings.risk_token_key
        if key is not None:
            return TokenSigner(key.get_secret_value().encode())
        return TokenSigner(_key_file(self.settings.state_path / "risk_token.key"))

    @cached_property
    def broker(self) -> Broker:
        return self.broker_at(self.clock)

    def broker_at(self, clock: Clock) -> Broker:
        """The broker on ``clock`` (an agent run replayed in time has its own clock)."""
        from tools.executor import CcxtBroker, FillModel, PaperBroker
        from tools.market_data import make_exchange

        venue = self.settings.trading_venue.strip().lower()
        if venue != "paper":
            exchange = make_exchange(venue, self.settings, sandbox=self.settings.exchange_sandbox)
            # An exchange lives in real time whatever a run's clock says: fills read "up
            # to" a run's as-of would miss everything it filled since.
            return CcxtBroker(exchange, clock=self.clock)
        return PaperBroker(
            cash=self.paper_balances(),
            instruments=self.paper_instruments(),
            fill_model=FillModel(fee_rate=Decimal("0.001"), slippage=Decimal("0.0005")),
            clock=clock,
        )

    @property
    def live_venue(self) -> bool:
        """Trading on an exchange (not paper): a real account with its own balances."""
        return self.settings.trading_venue.strip().lower() != "paper"

    def account_currency(self, symbols: Iterable[str] = ()) -> str:
        """What cash, equity, notional caps and breakers are counted in: the paper
        currency on paper; on an exchange the quote currency of the pairs traded (USDT for
        BTC/USDT), else of the pairs held there, else the first usual quote currency the
        account holds (its balances as last reconciled)."""
        if not self.live_venue:
            return self.settings.paper_currency
        venue = self.settings.trading_venue.strip().lower()
        quotes = {Symbol(s).quote for s in symbols if Symbol(s).is_pair}
        if not quotes:
            held = self.ledger.positions(venue=venue)
            quotes = {p.symbol.quote for p in held if p.quantity and p.symbol.is_pair}
        quotes.discard(None)
        if len(quotes) > 1:
            raise ConfigError(
                f"pairs quoted in {', '.join(sorted(map(str, quotes)))} trade from one "
                f"{venue} account: run jobs on pairs of one quote currency each"
            )
        if quotes:
            return str(quotes.pop())
        balances = {b.currency: b.free + b.used for b in self.ledger.balances(venue=venue)}
        usual = [c for c in _QUOTE_CURRENCIES if balances.get(c, Decimal(0)) > 0]
        if usual:
            return usual[0]
        raise ConfigError(
            f"cannot tell the currency of the {venue} account: it holds none of "
            f"{', '.join(_QUOTE_CURRENCIES)} and no pair is traded; reconcile it "
            "(`tiller risk status`) after depositing its quote currency"
        )

    def paper_balances(self) -> dict[str, Decimal]:
        """The paper account lives in one process; its balances (cash and the assets bought)
        persist in the ledger, so a new process starts where the last one ended."""
        held = {b.currency: b.free + b.used for b in self.ledger.balances(venue="paper")}
        return held or {self.settings.paper_currency: self.settings.paper_cash}

    def paper_instruments(self) -> dict[Symbol, Instrument]:
        """Every stored symbol trades on paper: shares in whole units, pairs in 1e-5."""
        out = {}
        for info in self.store.catalog():
            lot = Decimal("0.00001") if info.symbol.is_pair else Decimal(1)
            out[info.symbol] = Instrument(
                symbol=info.symbol, venue="paper", tick_size=Decimal("0.01"), lot_size=lot
            )
        return out

    def executor(self) -> Executor:
        from tools.executor import Executor

        return Executor(
            broker=self.broker, ledger=self.ledger, signer=self.signer, limits=self.limits,
            clock=self.clock, initial_equity=self._initial_equity,
        )  # fmt: skip

    def executor_at(self, clock: Clock) -> Executor:
        """An executor (and broker) on ``clock``: how an agent run trades."""
        from tools.executor import Executor

        return Executor(
            broker=self.broker_at(clock), ledger=self.ledger, signer=self.signer,
            limits=self.limits, clock=clock, initial_equity=self._initial_equity,
        )  # fmt: skip

    @property
    def _initial_equity(self) -> Decimal | None:
        """Where a fresh risk state starts: the paper cash, or on an exchange the first
        equity marked (the account's real balance, not a setting)."""
        return None if self.live_venue else self.settings.paper_cash

    @cached_property
    def model_cache(self) -> ModelCache:
        """Loaded forecasters and policies, shared by every run of this process (an API
        or autopilot process would otherwise reload them for each run)."""
        from agents.signals import ModelCache

        return ModelCache()

    @cached_property
    def knowledge_base(self) -> KnowledgeBase:
        from rag_index.service import KnowledgeBase

        kb = KnowledgeBase.open(self.settings)
        # The bundled news is always there for the agents (a no-op once ingested); the
        # primers are ingested by the commands that answer questions from them.
        kb.ensure_bundled_news()
        return kb

    @cached_property
    def run_queue(self) -> RunQueue | None:
        """The task queue agent runs go to (TILLER_WORKER_BROKER); None: they run in the
        process that starts them."""
        broker = self.settings.worker_broker
        if broker is None:
            return None
        from app.services.queue import RunQueue

        return RunQueue(broker.get_secret_value(), self.settings.worker_queue,
                        self.settings.worker_visibility_timeout_s)  # fmt: skip

    @cached_property
    def chat_model(self) -> ChatModel | None:
        """The configured LLM (any OpenAI-compatible endpoint), or None offline. Callers
        wrap it in a ``core.llm.LLMSession`` per run for the budget and the record."""
        if not self.settings.llm_enabled:
            return None
        from agents.llm import build_chat_model

        return build_chat_model(self.settings)


def _key_file(path: Path, *, lost: str = "delete it to make a new one") -> bytes:
    """Read a key, creating a random one (owner-only) the first time. Processes starting
    together (two queue workers on a new state folder) agree on one key: each writes a
    whole key to a file of its own and links it into place, and link() fails for all but
    the first, who then read the winner's key, never a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
                fh.flush()
                os.fsync(fh.fileno())
            # Another process that made the key first wins: its key is read below.
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            draft.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) < 32:
        raise ConfigError(f"{path} holds a key shorter than 32 bytes; {lost}")
    return key


def build(**overrides: Any) -> Container:
    return Container(settings=load_settings(**overrides), clock=SystemClock())


# What the kill switch needs to find the ledger and the risk state to halt: an invalid
# value here cannot be replaced by a default without halting something else.
HALT_NEEDS = frozenset({"home", "state_dir", "database_url", "trading_venue"})


@dataclass(frozen=True)
class LenientBuild:
    """A container built despite invalid settings (``ignored``: replaced by defaults)."""

    container: Container
    problems: list[str]
    ignored: frozenset[str]


def build_lenient(**overrides: Any) -> LenientBuild:
    """The container for the kill switch: every invalid setting is replaced by its
    default and reported instead of refused, except those in ``HALT_NEEDS``
    (``ConfigError``, as ``build`` raises). Callers must not trade with it."""
    from pydantic import ValidationError

    problems: list[str] = []
    ignored: frozenset[str] = frozenset()
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        ignored = frozenset(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        if not ignored or ignored & HALT_NEEDS:
            load_settings(**overrides)  # raises the ConfigError that names the setting
            raise
        for e in exc.errors():
            name = ".".join(str(p) for p in e["loc"]).upper()
            problems.append(f"TILLER_{name}: {e['msg']} (its default is used for this)")
        defaults = {
            name: Settings.model_fields[name].get_default(call_default_factory=True)
            for name in ignored
        }
        settings = Settings(**{**overrides, **defaults})
    try:
        settings.check_secrets()
    except ConfigError as exc:
        problems.append(str(exc))
    return LenientBuild(Container(settings=settings, clock=SystemClock()), problems, ignored)
