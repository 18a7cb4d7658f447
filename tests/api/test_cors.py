"""CORS (API-operations.md "Browser access and abuse limits"), against a real server with
GARAGE_CORS_ORIGINS: a listed origin gets its origin back, Vary: Origin and the exposed headers on
every answer - successes, errors from the routes, the middleware's 413, 429 and 500 - and a 204 to
its preflights; an unlisted origin gets no CORS header at all and its preflight is not answered as
one. Without GARAGE_CORS_ORIGINS (the session's server) there is no CORS at all."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from garage.config import load_settings
from tests.api.conftest import LiveServer, start_server
from tests.api.parking_data import API, new_plate

LISTED = "https://app.example.com"
ALSO_LISTED = "http://localhost:5173"
UNLISTED = "https://evil.example.com"
ENV = {
    # written as an operator might: spaces, capitals; browsers send origins in lower case
    "GARAGE_CORS_ORIGINS": f" HTTPS://App.Example.com , {ALSO_LISTED}",
    "GARAGE_AUTH_FAILURES_PER_MINUTE": "3",
    "GARAGE_REPLICATION": "false",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("cors"), env=ENV)
    yield server
    server.stop()


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("access-control-")}


def vary(response: httpx.Response) -> list[str]:
    return [part.strip().lower() for value in response.headers.get_list("vary") for part in value.split(",")]


def assert_cors_for(response: httpx.Response, origin: str) -> None:
    """What a page of `origin` needs to read `response`, and nothing it must not have."""
    assert cors_headers(response) == {
        "access-control-allow-origin": origin,
        "access-control-expose-headers": "Retry-After, X-Request-ID",
    }, response.headers
    assert "origin" in vary(response)
    assert response.headers["x-request-id"]


def test_a_listed_origin_may_read_successes(server: LiveServer) -> None:
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    for origin in (LISTED, ALSO_LISTED):
        listed = httpx.get(f"{server.url}{API}/garages", headers={**admin, "Origin": origin})
        assert listed.status_code == 200
        assert_cors_for(listed, origin)
    created = httpx.post(
        f"{server.url}{API}/garages",
        json={"name": "CORS", "address": "1 Origin Road", "capacity": 1},
        headers={**admin, "Origin": LISTED},
    )
    assert created.status_code == 201, created.text
    assert_cors_for(created, LISTED)
    assert_cors_for(httpx.get(f"{server.url}/health", headers={"Origin": LISTED}), LISTED)


def test_a_listed_origin_may_read_errors(server: LiveServer) -> None:
    origin = {"Origin": LISTED}
    admin = {"Authorization": f"Bearer {server.admin_key}", **origin}
    answers = {
        401: httpx.get(f"{server.url}{API}/garages", headers=origin),
        400: httpx.post(f"{server.url}{API}/garages", json={"capacity": "many"}, headers=admin),
        404: httpx.get(f"{server.url}{API}/garages/nope", headers=admin),
        405: httpx.put(f"{server.url}{API}/garages", json={}, headers=admin),
        # written by the middleware before any route runs
        413: httpx.post(f"{server.url}{API}/garages", content=b"{" + b" " * (1024 * 1024) + b"}", headers=admin),
    }
    for status, answer in answers.items():
        assert answer.status_code == status, answer.text
        assert set(answer.json()) == {"error"}
        assert_cors_for(answer, LISTED)


def test_a_listed_origin_may_read_the_429_and_its_retry_after(server: LiveServer) -> None:
    """From an address of its own, so that the other tests' 401s do not count."""
    transport = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=server.url, transport=transport, headers={"Origin": LISTED}) as client:
        for _ in range(3):
            assert client.get(f"{API}/garages").status_code == 401
        limited = client.get(f"{API}/garages")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1
    assert_cors_for(limited, LISTED)


def test_a_listed_origin_may_read_the_answer_to_an_unexpected_error(server: LiveServer) -> None:
    """A real fault, as in test_hardening: an owner e-mail damaged in the database file fails to
    decrypt when its vehicle is read; AnswerUnexpectedErrors answers 500 INTERNAL."""
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    vehicle = httpx.post(
        f"{server.url}{API}/vehicles",
        json={"licensePlate": new_plate("C"), "type": "CAR", "ownerEmail": "owner@example.com"},
        headers=admin,
    ).json()
    database = sqlite3.connect(server.database)
    try:
        (stored,) = database.execute('SELECT ownerEmail FROM "Vehicle" WHERE id = ?', (vehicle["id"],)).fetchone()
        flipped = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
        database.execute('UPDATE "Vehicle" SET ownerEmail = ? WHERE id = ?', (flipped, vehicle["id"]))
        database.commit()
    finally:
        database.close()
    failed = httpx.get(f"{server.url}{API}/vehicles/{vehicle['id']}", headers={**admin, "Origin": LISTED})
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "INTERNAL"
    assert_cors_for(failed, LISTED)


def test_a_preflight_from_a_listed_origin_is_204_with_what_the_api_takes(server: LiveServer) -> None:
    for path, method in ((f"{API}/garages", "POST"), (f"{API}/spots/x", "PATCH"), (f"{API}/nowhere", "DELETE")):
        preflight = httpx.options(
            f"{server.url}{path}",
            headers={
                "Origin": LISTED,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization, content-type, last-event-id",
            },
        )
        assert preflight.status_code == 204 and preflight.content == b""
        found = cors_headers(preflight)
        assert found.pop("access-control-allow-origin") == LISTED
        methods = {part.strip() for part in found.pop("access-control-allow-methods").split(",")}
        assert methods == {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
        headers = {part.strip().lower() for part in found.pop("access-control-allow-headers").split(",")}
        assert headers == {"authorization", "content-type", "last-event-id"}
        assert 60 <= int(found.pop("access-control-max-age")) <= 7200  # 7200: the most Chromium honours
        assert found == {}, found  # no credentials
        assert "origin" in vary(preflight)
        assert preflight.headers["x-request-id"]


def test_an_unlisted_origin_gets_no_cors_headers(server: LiveServer) -> None:
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    answers = [
        httpx.get(f"{server.url}{API}/garages", headers={**admin, "Origin": UNLISTED}),
        httpx.get(f"{server.url}{API}/garages/nope", headers={**admin, "Origin": UNLISTED}),
        httpx.get(f"{server.url}{API}/garages", headers={**admin, "Origin": LISTED + "/"}),
        httpx.get(f"{server.url}{API}/garages", headers={**admin, "Origin": "https://app.example.com.evil.com"}),
        httpx.get(f"{server.url}{API}/garages", headers={**admin, "Origin": "null"}),
        # two Origin headers: which one the browser meant is unknown, so neither counts
        httpx.get(f"{server.url}{API}/garages", headers=[*admin.items(), ("Origin", LISTED), ("Origin", UNLISTED)]),
        httpx.get(f"{server.url}{API}/garages", headers=admin),  # no Origin: not a cross-origin request
    ]
    for answer in answers:
        assert answer.status_code in (200, 404)
        assert cors_headers(answer) == {}, answer.headers
        # the answer depends on Origin all the same: a shared cache must not hand it to a listed one
        assert "origin" in vary(answer)


def test_a_preflight_from_an_unlisted_origin_is_not_answered_as_cors(server: LiveServer) -> None:
    preflight = httpx.options(
        f"{server.url}{API}/garages",
        headers={"Origin": UNLISTED, "Access-Control-Request-Method": "POST"},
    )
    # the request goes to the API as any OPTIONS would, which takes none
    assert preflight.status_code == 405 and preflight.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert cors_headers(preflight) == {}


def test_without_listed_origins_there_is_no_cors(live: LiveServer) -> None:
    listed = httpx.get(
        f"{live.url}{API}/garages", headers={"Authorization": f"Bearer {live.admin_key}", "Origin": LISTED}
    )
    assert listed.status_code == 200 and cors_headers(listed) == {}
    assert "origin" not in vary(listed)
    preflight = httpx.options(
        f"{live.url}{API}/garages", headers={"Origin": LISTED, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 405 and cors_headers(preflight) == {}


def test_origins_are_checked_when_the_service_starts() -> None:
    settings = load_settings(GARAGE_ENV="test", GARAGE_CORS_ORIGINS="https://A.example.com:8443, app://local,,")
    assert settings.cors_origins == ("https://a.example.com:8443", "app://local")
    assert load_settings(GARAGE_ENV="test").cors_origins == ()
    for wrong in (
        "*",
        "https://a.example.com/",
        "https://a.example.com/app",
        "a.example.com",
        "null",
        "https://*.x.com",
    ):
        with pytest.raises(ValidationError, match="GARAGE_CORS_ORIGINS"):
            load_settings(GARAGE_ENV="test", GARAGE_CORS_ORIGINS=wrong)
