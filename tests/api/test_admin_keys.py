"""API keys and roles through HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from tests.api.conftest import LiveServer


def test_requests_without_a_key_are_unauthenticated(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/v1/admin/api-keys")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


def test_an_unknown_key_is_unauthenticated(live: LiveServer) -> None:
    response = live.client("gk_000000000000_nope").get("/api/v1/admin/api-keys")
    assert response.status_code == 401


def test_created_key_is_shown_once_and_listed_without_secret(admin: httpx.Client) -> None:
    created = admin.post("/api/v1/admin/api-keys", json={"name": "pay station 3", "role": "operator"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "role", "validatorId", "key", "createdAt"}
    assert body["validatorId"] is None  # only a validator key has one
    assert body["createdAt"].endswith("Z")
    listed = admin.get("/api/v1/admin/api-keys", params={"limit": 200}).json()["items"]
    entry = next(item for item in listed if item["id"] == body["id"])
    assert entry == {"id": body["id"], "name": "pay station 3", "role": "operator", "validatorId": None,
                     "createdAt": body["createdAt"], "revokedAt": None}


def test_admin_routes_refuse_operator_and_viewer(operator: httpx.Client, viewer: httpx.Client) -> None:
    for client in (operator, viewer):
        response = client.get("/api/v1/admin/api-keys")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "FORBIDDEN"


def test_revoked_key_stops_working_and_is_audited(live: LiveServer, admin: httpx.Client) -> None:
    created = admin.post("/api/v1/admin/api-keys", json={"name": "to revoke", "role": "admin"}).json()
    client = live.client(created["key"])
    assert client.get("/api/v1/admin/api-keys").status_code == 200
    revoked = admin.delete(f"/api/v1/admin/api-keys/{created['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revokedAt"] is not None
    # the revoking worker forgets its cache at once; other workers within a few seconds
    assert client.get("/api/v1/admin/api-keys").status_code == 401
    audit = admin.get("/api/v1/admin/audit", params={"entity": "ApiKey", "entityId": created["id"]}).json()["items"]
    assert [entry["action"] for entry in audit] == ["REVOKE", "CREATE"]
    assert audit[0]["before"]["revokedAt"] is None and audit[0]["after"]["revokedAt"] is not None
    assert "hash" not in audit[0]["after"]


def test_revoking_an_unknown_key_is_not_found(admin: httpx.Client) -> None:
    response = admin.delete("/api/v1/admin/api-keys/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_bad_bodies_are_validation_errors_naming_fields(admin: httpx.Client) -> None:
    cases = [
        (b"{", "body"),
        (b'{"name": "x", "role": "superuser"}', "role"),
        (b'{"name": "", "role": "viewer"}', "name"),
        (b'{"name": "x", "role": "viewer", "extra": 1}', "extra"),
        (b'{"role": "viewer"}', "name"),
        (b'[]', "body"),
    ]
    for raw, field in cases:
        response = admin.post("/api/v1/admin/api-keys", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 400, raw
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert any(field in name for name in error["details"]["fields"]), (raw, error)


def test_pagination_walks_every_key_once(admin: httpx.Client) -> None:
    for index in range(5):
        admin.post("/api/v1/admin/api-keys", json={"name": f"walk {index}", "role": "viewer"}).raise_for_status()
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = admin.get("/api/v1/admin/api-keys", params=params).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    everything = admin.get("/api/v1/admin/api-keys", params={"limit": 200}).json()["items"]
    assert seen == [item["id"] for item in everything]
    assert len(seen) == len(set(seen))


def test_bad_list_parameters(admin: httpx.Client) -> None:
    for params in ({"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"cursor": "garbage!"}):
        assert admin.get("/api/v1/admin/api-keys", params=params).status_code == 400, params


def test_oversized_body_is_413(admin: httpx.Client) -> None:
    response = admin.post("/api/v1/admin/api-keys", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_revoked_key_is_refused_by_every_worker_once_the_revocation_answered(
    make_server: Callable[..., LiveServer],
) -> None:
    """Two uvicorn workers, each with its own cache of verified keys; the key is used on many
    connections (spread over both workers) while it is revoked: nothing sent after the DELETE
    answered may be accepted, whichever worker serves it."""
    server = make_server(workers=2)
    admin = server.client(server.admin_key)
    created = admin.post("/api/v1/admin/api-keys", json={"name": "revoked under load", "role": "admin"}).json()
    clients = [server.client(created["key"]) for _ in range(16)]
    for client in clients:  # every connection's worker now holds the key in its cache
        assert client.get("/api/v1/admin/api-keys").status_code == 200
    revoked_at: list[float] = []
    accepted_after_revocation: list[tuple[float, int]] = []
    refused = threading.Event()
    stop = threading.Event()

    def hammer(client: httpx.Client) -> None:
        while not stop.is_set():
            sent = time.monotonic()
            # a write as in the finding: the revoked admin key trying to mint a new admin key
            response = client.post("/api/v1/admin/api-keys", json={"name": "minted", "role": "admin"})
            if response.status_code in (401, 429):  # refused; 429 once the throttle counts them
                refused.set()
            elif revoked_at and sent > revoked_at[0]:
                accepted_after_revocation.append((sent - revoked_at[0], response.status_code))

    threads = [threading.Thread(target=hammer, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        revocation = admin.delete(f"/api/v1/admin/api-keys/{created['id']}")
        revoked_at.append(time.monotonic())
        assert revocation.status_code == 200
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert refused.is_set()
    assert accepted_after_revocation == []
