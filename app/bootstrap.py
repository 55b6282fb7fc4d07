"""The composition root: the only place that builds the object graph from settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from core.clock import Clock, SystemClock
from core.settings import Settings, load_settings
from tools.market_data import BarStore, ensure_bundled, open_store


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


def build(**overrides: Any) -> Container:
    return Container(settings=load_settings(**overrides), clock=SystemClock())
