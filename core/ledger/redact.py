"""Keep secrets out of everything the ledger stores or prints.

Two nets, applied before hashing: a key whose *name* looks secret has its value masked,
and any known secret *value* (from settings) is masked wherever it appears in a string.
An approval token (an HMAC output) is safe to log and is kept; the key that signs it
is a secret and must be passed in ``secrets``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

MASK = "[REDACTED]"

# Matched against the key with everything but letters and digits removed, lower-cased,
# so ``api_key``, ``API-Key`` and ``apiKey`` are the same name. ``token`` alone is not a
# secret here: the approval token is meant to be logged.
_SECRET_NAME_PARTS = (
    "secret",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "privatekey",
    "signingkey",
    "tokenkey",
    "hmackey",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "bearer",
    "authorization",
    "cookie",
    "signature",
    "credential",
)
_NAME_RE = re.compile("|".join(_SECRET_NAME_PARTS))
# ``secret=...``, ``"apiKey": "..."`` and ``signature=...`` inside free text (ccxt errors
# quote request URLs and bodies).
_INLINE_RE = re.compile(
    r"(?i)(\"?(?:[a-z_\-]*(?:secret|password|passphrase|api[_\-]?key|signature|"
    r"private[_\-]?key|signing[_\-]?key|access[_\-]?token|auth[_\-]?token)[a-z_\-]*)\"?"
    r"\s*[=:]\s*\"?)([^\s&\"',}]+)"
)
_MIN_SUBSTRING = 4  # shorter secrets are masked only where a value equals them exactly


def looks_secret(name: str) -> bool:
    return bool(_NAME_RE.search(re.sub(r"[^a-z0-9]", "", name.lower())))


class Redactor:
    """Masks secrets in JSON-like data (dicts, lists, strings)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s for s in secrets if s}
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted(values, key=len, reverse=True)

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        return Redactor([*self._secrets, *secrets])

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if value == secret:
                return MASK
            if len(secret) >= _MIN_SUBSTRING and secret in value:
                value = value.replace(secret, MASK)
        return _INLINE_RE.sub(lambda m: m.group(1) + MASK, value)

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                name = self.text(key) if isinstance(key, str) else key
                hide = isinstance(key, str) and looks_secret(key) and item is not None
                out[name] = MASK if hide else self.data(item)
            return out
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if isinstance(value, SecretStr):
            return MASK
        return value


def secret_values(settings: BaseModel) -> list[str]:
    """Every ``SecretStr`` value set on a settings object (API keys, signing keys)."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            found.append(value.get_secret_value())
    return found
