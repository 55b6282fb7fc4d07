"""The whole OpenAPI schema, exercised by schemathesis with keys of each role (taking
turns across examples): no 500s, every answer matches its documented schema, status codes
and content type, and input the schema forbids is refused. Bounded examples per
operation so it stays in the normal suite.

One check is left out: that every schema-valid request is accepted. Input can be valid in
form and still name nothing (a symbol that is not stored: 404), or be English that is
not a strategy (422 with the reason): the schema cannot say which.

The app is built when the module is collected (schemathesis reads the schema then); its
container does nothing heavy until a request needs it."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import positive_data_acceptance

from app.api import create_app
from app.bootstrap import build
from app.services.keys import KeyRequest, create_key
from tests.app.api.api_support import ROLES

EXAMPLES = 6  # per operation; the keys take turns (role rules are test_api_security's)

_c = build(home=Path(tempfile.mkdtemp(prefix="tiller-api-schema-")) / "home",
           api_rate_limit_per_minute=1_000_000)  # fmt: skip
APP = create_app(_c, recover=False)
KEYS: dict[str, str] = {}
_turns = itertools.cycle(ROLES)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _keys() -> Iterator[None]:
    KEYS.update({r: create_key(_c, KeyRequest(name=f"{r}-key", role=r)).key for r in ROLES})  # type: ignore[arg-type]
    yield
    _c.ledger.close()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True,
    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
)  # fmt: skip
def test_every_operation_with_each_role_answers_as_documented(case: schemathesis.Case) -> None:
    role = next(_turns)
    # The first question loads the embedding model and ingests the primers: a long wait.
    case.call_and_validate(headers={"X-API-Key": KEYS[role]}, timeout=120,
                           excluded_checks=[positive_data_acceptance])  # fmt: skip
