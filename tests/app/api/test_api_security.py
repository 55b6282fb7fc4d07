"""Who may do what: every endpoint without a key is 401, with a key of too low a role
403 (found by walking the app's routes, so a new endpoint is covered too); halting is
open to every key, resuming to admins; revoked keys stop working at once; bodies over
the limit are 413 whether they announce their length or not; a key over its rate limit
gets 429 with Retry-After. Errors are problem+json with the CLI's hints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.services.keys import KeyRequest, authenticate, create_key, list_keys, revoke_key
from tests.app.api.api_support import ROLES, Api, api

# The role each endpoint needs; None: open to anyone (health probes).
NEEDS = {
    ("POST", "/v1/runs"): "trader",
    ("GET", "/v1/runs"): "viewer",
    ("GET", "/v1/runs/{run_id}"): "viewer",
    ("GET", "/v1/runs/{run_id}/events"): "viewer",
    ("POST", "/v1/runs/{run_id}/approval"): "trader",
    ("GET", "/v1/portfolio"): "viewer",
    ("GET", "/v1/orders"): "viewer",
    ("GET", "/v1/risk"): "viewer",
    ("POST", "/v1/risk/halt"): "viewer",
    ("POST", "/v1/risk/resume"): "admin",
    ("GET", "/v1/audit/verify"): "viewer",
    ("GET", "/v1/autopilot"): "viewer",
    ("POST", "/v1/ask"): "viewer",
    ("POST", "/v1/strategies/parse"): "viewer",
    ("POST", "/v1/backtests"): "viewer",
    ("GET", "/v1/market/{symbol}/bars"): "viewer",
    ("POST", "/v1/keys"): "admin",
    ("GET", "/v1/keys"): "admin",
    ("DELETE", "/v1/keys/{key_id}"): "admin",
    ("GET", "/healthz"): None,
    ("GET", "/readyz"): None,
}


@pytest.fixture(scope="module")
def a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api(tmp_path_factory.mktemp("api-security") / "home", api_rate_limit_per_minute=10_000,
             api_max_body_bytes=2_000) as built:  # fmt: skip
        yield built


def endpoints(a: Api) -> set[tuple[str, str]]:
    """Every operation of the app's OpenAPI schema."""
    paths = a.client.get("/openapi.json").json()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def url(path: str) -> str:
    return path.format(run_id="0123abcd", symbol="AAPL", key_id="0123abcd")


def call(a: Api, method: str, path: str, role: str | None) -> int:
    return a.client.request(method, url(path), headers=a.h(role), json={}).status_code


def test_the_table_of_roles_names_every_endpoint(a: Api) -> None:
    assert endpoints(a) == set(NEEDS)


@pytest.mark.parametrize(("method", "path"), [k for k, v in NEEDS.items() if v is not None])
def test_every_endpoint_without_a_key_then_401_problem_with_a_hint(
    a: Api, method: str, path: str
) -> None:
    response = a.client.request(method, url(path), json={})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "tiller keys create" in response.json()["hint"]
    assert response.headers["www-authenticate"].startswith("ApiKey")
    wrong = a.client.request(method, url(path), json={}, headers={"X-API-Key": "tk_00_nope"})
    assert wrong.status_code == 401


@pytest.mark.parametrize(("method", "path"), [k for k, v in NEEDS.items() if v is not None])
def test_every_endpoint_with_a_lower_role_then_403_and_with_its_role_not_401_or_403(
    a: Api, method: str, path: str
) -> None:
    needed = NEEDS[(method, path)]
    assert needed is not None
    rank = ROLES.index(needed)
    for role in ROLES[:rank]:
        response = a.client.request(method, url(path), headers=a.h(role), json={})
        assert response.status_code == 403, (role, response.text)
        assert response.json()["code"] == "forbidden"
    if (method, path) == ("POST", "/v1/risk/halt"):
        return  # halting works (tested elsewhere); here it would halt the module's account
    for role in ROLES[rank:]:
        assert call(a, method, path, role) not in (401, 403), role


def test_health_probes_need_no_key(a: Api) -> None:
    assert a.client.get("/healthz").json()["status"] == "ok"
    ready = a.client.get("/readyz").json()
    assert ready["ready"] is True
    assert {c["name"] for c in ready["checks"]} == {"database", "market_data", "models"}


def test_a_revoked_key_is_refused_at_once_and_keys_are_stored_hashed(a: Api) -> None:
    created = create_key(a.c, KeyRequest(name="temp", role="viewer"))
    assert a.client.get("/v1/portfolio", headers={"X-API-Key": created.key}).status_code == 200
    revoke_key(a.c, created.id)
    assert a.client.get("/v1/portfolio", headers={"X-API-Key": created.key}).status_code == 401
    assert authenticate(a.c, created.key) is None
    with a.c.ledger.engine.connect() as conn:
        dump = str(conn.exec_driver_sql("SELECT * FROM api_keys").all())
    secret = created.key.split("_", 2)[2]  # tk_<id>_<secret>; the secret may hold "_" itself
    assert created.key not in dump and secret not in dump
    assert "temp" in [k.name for k in list_keys(a.c)]


def test_an_admin_creates_a_key_over_the_api_and_it_works(a: Api) -> None:
    created = a.client.post("/v1/keys", json={"name": "bot", "role": "trader"},
                            headers=a.h("admin"))  # fmt: skip
    assert created.status_code == 201
    key = created.json()["key"]
    assert a.client.get("/v1/orders", headers={"X-API-Key": key}).status_code == 200
    listed = a.client.get("/v1/keys", headers=a.h("admin")).json()["keys"]
    assert "key" not in listed[0] and "bot" in [k["name"] for k in listed]


def test_a_body_over_the_limit_is_refused_with_413_announced_or_streamed(a: Api) -> None:
    big = b'{"question": "' + b"x" * 5_000 + b'"}'
    announced = a.client.post("/v1/ask", content=big, headers=a.h("viewer"))
    assert announced.status_code == 413
    assert announced.headers["content-type"] == "application/problem+json"
    assert "TILLER_API_MAX_BODY_BYTES" in announced.json()["hint"]

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 500):
            yield big[start : start + 500]

    streamed = a.client.post("/v1/ask", content=chunks(), headers=a.h("viewer"))
    assert streamed.status_code == 413


def test_invalid_input_is_a_422_problem_naming_the_field(a: Api) -> None:
    response = a.client.post("/v1/runs", json={"symbols": [], "mode": "yolo"},
                             headers=a.h("trader"))  # fmt: skip
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "config_error" and "symbols" in body["detail"]
    assert {tuple(e["loc"][-1:]) for e in body["errors"]} >= {("symbols",), ("mode",)}


def test_a_run_on_an_unknown_symbol_is_a_404_problem_saying_how_to_fix_it(a: Api) -> None:
    response = a.client.post("/v1/runs", json={"symbols": ["NOSUCH"]}, headers=a.h("trader"))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and "NOSUCH" in response.json()["detail"]


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    with api(tmp_path_factory.mktemp("api-rate") / "home", api_rate_limit_per_minute=3) as b:
        codes = [b.client.get("/v1/orders", headers=b.h("viewer")).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        limited = b.client.get("/v1/orders", headers=b.h("viewer"))
        assert int(limited.headers["retry-after"]) >= 1
        assert b.client.get("/v1/orders", headers=b.h("trader")).status_code == 200  # per key


def test_with_an_llm_a_key_past_its_daily_budget_gets_429_before_anything_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("api-budget") / "home"
    # One run may spend $0.40 and the key may spend $0.30 a day: nothing can start. (No
    # model is reached: the budget is checked first.)
    llm = {
        "llm_base_url": "http://127.0.0.1:9/v1",
        "llm_model": "m",
        "llm_max_cost_per_run_usd": "0.40",
        "api_llm_budget_per_key_usd_per_day": "0.30",
    }
    with api(home, **llm) as b:
        for path, body in (("/v1/ask", {"question": "what is a stop?"}),
                           ("/v1/runs", {"symbols": ["MSFT"]})):  # fmt: skip
            refused = b.client.post(path, json=body, headers=b.h("trader"))
            assert refused.status_code == 429, refused.text
            assert refused.json()["code"] == "throttled"
            assert "TILLER_API_LLM_BUDGET_PER_KEY_USD_PER_DAY" in refused.json()["hint"]
            assert 0 < int(refused.headers["retry-after"]) <= 86_400
        assert b.client.get("/v1/runs", headers=b.h("viewer")).json()["runs"] == []
