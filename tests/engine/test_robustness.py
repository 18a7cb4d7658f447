"""Hostile and broken requests to a spawned engine (with --debug): each gets an answer, and the
server keeps serving: after every one of them /status answers and a real write and read work."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from conftest import FIND_MANY_USERS, EngineProcess, create_database, create_user_query

_emails = itertools.count()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    folder = tmp_path_factory.mktemp("robustness")
    process = EngineProcess(workdir=folder, database=create_database(folder / "robust.db"), debug=True)
    yield process
    process.stop()


def assert_alive(engine: EngineProcess) -> None:
    assert engine.alive(), engine.stderr()[-3000:]
    assert engine.http.get("/status").json() == {"status": "ok"}
    email = f"alive{next(_emails)}@example.com"
    created = engine.graphql(create_user_query(email)).json()
    assert created["data"]["result"]["email"] == email, created
    found = engine.graphql(
        "query {\n  result: findUniqueUser(where: {email: " + json.dumps(email) + "}) {\n    email\n  }\n}"
    ).json()
    assert found == {"data": {"result": {"email": email}}}


def assert_validation_error(response: httpx.Response) -> dict[str, Any]:
    """The Rust server's answer to a request it cannot read: 422 with a P2009 error."""
    assert response.status_code == 422, (response.status_code, response.text[:500])
    body: dict[str, Any] = response.json()
    assert body["errors"][0]["user_facing_error"]["error_code"] == "P2009"
    assert body["errors"][0]["user_facing_error"]["is_panic"] is False
    return body


def test_the_engine_serves(engine: EngineProcess) -> None:
    assert_alive(engine)
    assert engine.http.get("/server_info").json()["version"] == "5.17.0"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   \n ",
        b"{",
        b"{'query': 'x'}",
        b'{"query": "query { result: findManyUser { id } }"',
        b"\xff\xfe\x00\x01",
        b"nul\x00byte",
        b"[]",
        b"[{}]",
        b'"just a string"',
        b"42",
        b"null",
        b"true",
        b"{}",
    ],
    ids=lambda c: repr(c)[:30],
)
def test_unreadable_bodies(engine: EngineProcess, content: bytes) -> None:
    assert_validation_error(engine.post("/", content=content))
    assert_alive(engine)


@pytest.mark.parametrize(
    "body",
    [
        {"query": 1},
        {"query": None},
        {"query": ["query { result: findManyUser { id } }"]},
        {"query": FIND_MANY_USERS, "variables": []},
        {"query": FIND_MANY_USERS, "variables": "x"},
        {"batch": "x"},
        {"batch": []},
        {"batch": [1, 2]},
        {"batch": [{"query": 5}]},
        {"batch": [{"query": FIND_MANY_USERS}, None]},
        {"batch": [{"query": FIND_MANY_USERS}], "transaction": True, "isolationLevel": 5},
        {"action": 1},
        {"unrelated": "fields"},
    ],
    ids=lambda b: json.dumps(b)[:40],
)
def test_wrong_types(engine: EngineProcess, body: Any) -> None:
    assert_validation_error(engine.post("/", body))
    assert_alive(engine)


@pytest.mark.parametrize(
    "query",
    [
        "query {",
        "query { result: findManyUser { id }",
        "not graphql at all",
        "",
        "query { result: findManyNothing { id } }",
        "query { result: findManyUserOrThrow { id } }",
        "query { result: doSomething { id } }",
        "mutation { result: dropDatabase }",
        "query { a: findManyUser { id } b: findManyUser { id } }",
        "query A { result: findManyUser { id } } query B { result: findManyUser { id } }",
        "query { result: findManyUser { ...F } } fragment F on User { id }",
        "query { result: findManyUser(where: {email: $undefined}) { id } }",
        "{ __schema { types { name } } }",
    ],
)
def test_invalid_graphql(engine: EngineProcess, query: str) -> None:
    response = engine.graphql(query)
    if response.status_code == 200:
        # a well-formed operation the engine itself rejects: Prisma's error, never data
        assert "errors" in response.json() and "data" not in response.json(), response.text[:500]
    else:
        assert_validation_error(response)
    assert_alive(engine)


def test_arguments_the_engine_rejects(engine: EngineProcess) -> None:
    for query in [
        "query { result: findManyUser(where: {nope: 1}) { id } }",
        "query { result: findManyUser(take: \"ten\") { id } }",
        "query { result: findManyUser { nope } }",
        "mutation { result: createOneUser(data: {}) { id } }",
        "mutation { result: createOneUser(data: {email: 5}) { id } }",
    ]:
        response = engine.graphql(query)
        assert response.status_code == 200
        [error] = response.json()["errors"]
        assert error["user_facing_error"]["error_code"] == "P2009", error
        assert_alive(engine)


def test_huge_json_nesting(engine: EngineProcess) -> None:
    depth = 100_000
    response = engine.post("/", content="[" * depth + "]" * depth)
    assert_validation_error(response)
    response = engine.post("/", content='{"a":' * depth + "1" + "}" * depth)
    assert_validation_error(response)
    assert_alive(engine)


def test_huge_graphql_nesting(engine: EngineProcess) -> None:
    for depth in (200, 5_000, 50_000):
        where = "{AND: " * depth + "{email: \"x\"}" + "}" * depth
        response = engine.graphql("query { result: findManyUser(where: " + where + ") { id } }")
        assert response.status_code in (200, 422, 500), response.status_code
        if response.status_code == 200:
            body = response.json()
            assert body.get("errors") or body == {"data": {"result": []}}, response.text[:500]
        assert_alive(engine)


def test_huge_json_protocol_nesting(engine: EngineProcess) -> None:
    """Deep input reaching the wasm engine itself (JSON protocol, no GraphQL parser in front)."""
    for depth in (200, 5_000, 50_000):
        where: Any = {"email": "x"}
        for _ in range(depth):
            where = {"AND": where}
        body = {"modelName": "User", "action": "findMany", "query": {"arguments": {"where": where}, "selection": {"id": True}}}
        text = json.dumps(body) if depth < 900 else _dumps_deep(body)
        response = engine.post("/", content=text)
        assert response.status_code in (200, 422, 500), response.status_code
        if response.status_code == 200:
            data = response.json()
            assert data.get("errors") or data == {"data": {"findManyUser": []}}, response.text[:500]
        assert_alive(engine)


def _dumps_deep(value: Any) -> str:
    """json.dumps without recursion (Python's recursion limit)."""
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and item.startswith("\0"):
            parts.append(item[1:])
        elif isinstance(item, dict):
            parts.append("{")
            entries = list(item.items())
            stack.append("\0}")
            for index in range(len(entries) - 1, -1, -1):
                key, val = entries[index]
                stack.append(val)
                stack.append("\0" + ("," if index else "") + json.dumps(key) + ":")
        else:
            parts.append(json.dumps(item))
    return "".join(parts)


def test_large_body(engine: EngineProcess) -> None:
    big = "x" * (5 * 1024 * 1024)
    response = engine.graphql("mutation { result: createOneUser(data: {email: " + json.dumps(big) + "}) { id } }")
    assert response.status_code == 200
    assert response.json()["data"]["result"]["id"] > 0
    assert_alive(engine)


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", b"42", b'"x"', b'{"max_wait": "soon"}', b'{"timeout": -1}', b'{"timeout": 1.5}',
     b'{"max_wait": 1e100}', b'{"isolation_level": 5}', b'{"timeout": "1000"}'],
    ids=lambda c: c.decode(),
)
def test_transaction_start_with_garbage(engine: EngineProcess, content: bytes) -> None:
    response = engine.post("/transaction/start", content=content)
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.json()["errors"][0]["user_facing_error"]["is_panic"] is False
    assert_alive(engine)
    # no transaction was left open holding the write lock
    ok = engine.post("/transaction/start", {"max_wait": 2000, "timeout": 5000})
    assert ok.status_code == 200
    assert engine.post(f"/transaction/{ok.json()['id']}/rollback").status_code == 200


def test_transaction_paths(engine: EngineProcess) -> None:
    for path in ("/transaction", "/transaction/", "/transaction/a/b/c", "/transaction/x/abort", "/transaction/x/commit/more"):
        response = engine.post(path)
        assert response.status_code in (400, 404), (path, response.status_code)
    for method, path in (("GET", "/"), ("PUT", "/"), ("DELETE", "/transaction/x/commit"), ("GET", "/nothing"), ("POST", "/status")):
        assert engine.http.request(method, path).status_code == 404, (method, path)
    assert_alive(engine)


@pytest.mark.parametrize(
    "tx_id",
    ["x", "1", "0", "null", "undefined", "-", "a" * 36, "00000000-0000-0000-0000-000000000000", "z" * 5000, "ä", "../status"],
    ids=lambda t: t[:20],
)
def test_unknown_transaction_id_header(engine: EngineProcess, tx_id: str) -> None:
    """An id the engine never issued is P2028 "not found" -- it must never reach the wasm engine,
    where an unknown id panics."""
    response = engine.post("/", {"query": FIND_MANY_USERS, "variables": {}}, headers={b"X-transaction-id": tx_id.encode()})
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["user_facing_error"]["error_code"] == "P2028"
    assert "Transaction not found" in error["user_facing_error"]["message"]
    batch = {"batch": [{"query": FIND_MANY_USERS, "variables": {}}], "transaction": True}
    response = engine.post("/", batch, headers={b"X-transaction-id": tx_id.encode()})
    assert response.json()["errors"][0]["user_facing_error"]["error_code"] == "P2028"
    assert_alive(engine)
    metrics = engine.http.get("/metrics?format=json").json()
    assert {c["key"]: c["value"] for c in metrics["counters"]}["query_engine_panics_total"] == 0


def test_empty_transaction_id_header(engine: EngineProcess) -> None:
    response = engine.post("/", {"query": FIND_MANY_USERS, "variables": {}}, headers={"X-transaction-id": ""})
    assert response.status_code == 200
    assert response.json()["errors"][0]["user_facing_error"]["error_code"] == "P2028"
    assert_alive(engine)


def test_real_panic_replaces_the_engine_instance(engine: EngineProcess) -> None:
    def panics() -> int:
        counters = engine.http.get("/metrics?format=json").json()["counters"]
        return int({c["key"]: c["value"] for c in counters}["query_engine_panics_total"])

    before = panics()
    tx = engine.post("/transaction/start", {"max_wait": 2000, "timeout": 30000})
    assert tx.status_code == 200
    tx_id = tx.json()["id"]
    assert engine.graphql(create_user_query("in-doomed-tx@example.com"), tx_id=tx_id).status_code == 200

    response = engine.post("/", {"query": FIND_MANY_USERS, "variables": {}}, headers={"x-debug-non-fatal": "1"})
    assert response.status_code == 500
    [error] = response.json()["errors"]
    assert error["user_facing_error"]["is_panic"] is True
    assert panics() == before + 1

    # the server serves queries on a fresh instance
    assert_alive(engine)
    # the transaction opened before the panic is closed, for queries and for commit
    late = engine.graphql(create_user_query("late@example.com"), tx_id=tx_id).json()
    [error] = late["errors"]
    assert error["user_facing_error"]["error_code"] == "P2028"
    assert error["error"].startswith("Transaction already closed")
    assert "panicked" in error["error"]
    commit = engine.post(f"/transaction/{tx_id}/commit")
    assert commit.status_code == 422
    assert commit.json()["error_code"] == "P2028"
    # its write was rolled back, and the write lock it held is free again
    gone = engine.graphql('query {\n  result: findUniqueUser(where: {email: "in-doomed-tx@example.com"}) {\n    id\n  }\n}')
    assert gone.json() == {"data": {"result": None}}
    tx2 = engine.post("/transaction/start", {"max_wait": 5000, "timeout": 5000})
    assert tx2.status_code == 200, tx2.text
    assert engine.graphql(create_user_query("after-panic@example.com"), tx_id=tx2.json()["id"]).status_code == 200
    assert engine.post(f"/transaction/{tx2.json()['id']}/commit").status_code == 200
    assert_alive(engine)


def test_repeated_panics(engine: EngineProcess) -> None:
    for _ in range(3):
        response = engine.post("/", {"query": FIND_MANY_USERS, "variables": {}}, headers={"x-debug-non-fatal": "1"})
        assert response.status_code == 500
        assert response.json()["errors"][0]["user_facing_error"]["is_panic"] is True
        assert_alive(engine)


def test_debug_panic_header_is_ignored_without_debug(
    spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]
) -> None:
    plain = spawn_engine(database=new_database(), env={"ENGINE_MAX_BODY_BYTES": "4096"})
    response = plain.post("/", {"query": FIND_MANY_USERS, "variables": {}}, headers={"x-debug-non-fatal": "1"})
    assert response.status_code == 200
    assert response.json() == {"data": {"result": []}}
    # and a body over ENGINE_MAX_BODY_BYTES is refused, not read into memory
    too_big = plain.graphql(create_user_query("x" * 10_000))
    assert_validation_error(too_big)
    assert plain.graphql(create_user_query("small@example.com")).json()["data"]["result"]["email"] == "small@example.com"


def test_many_hostile_requests_in_a_row(engine: EngineProcess) -> None:
    errors_before = engine.stderr().count("request failed")
    bodies: list[bytes] = [b"{", b"[]", b'{"batch": 1}', json.dumps({"query": "query {"}).encode()] * 25
    for body in bodies:
        assert engine.post("/", content=body).status_code == 422
    assert_alive(engine)
    # answered as client errors, not as failures of the server
    assert engine.stderr().count("request failed") == errors_before
