"""What an LLM call costs, from the price table in settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from core.settings import LLMPrice, Settings

_MILLION = Decimal(1_000_000)
_CENT_FRACTION = Decimal("0.00000001")
# A dated or "latest" snapshot of a listed model costs what the model costs
# (gpt-4o-mini-2024-07-18 → gpt-4o-mini); any other suffix is a different model.
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4}|latest)$")


class PriceTable:
    """Model name → price per million tokens. Unknown models return ``None`` (unpriced):
    local servers are usually free, and a made-up price would be worse than none."""

    def __init__(self, prices: Mapping[str, LLMPrice]) -> None:
        self._prices = {name.lower(): price for name, price in prices.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> PriceTable:
        return cls(settings.llm_prices)

    def lookup(self, model: str) -> LLMPrice | None:
        name = model.lower()
        if name in self._prices:
            return self._prices[name]
        base = _SNAPSHOT.sub("", name)
        return self._prices.get(base)

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> Decimal | None:
        price = self.lookup(model)
        if price is None:
            return None
        total = (
            Decimal(prompt_tokens) * price.input_per_mtok
            + Decimal(completion_tokens) * price.output_per_mtok
        ) / _MILLION
        return total.quantize(_CENT_FRACTION)
