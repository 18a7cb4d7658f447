"""Hostile input and the HTTP server's limits (issue 10, findings 5, 8 and part of 4), against a real
`garage serve`. httpx cannot send most of these (a 1 MB URL, a body shorter than its
Content-Length, a connection that never speaks), so those go over raw sockets.

The timeouts are tested on this module's own server with short limits (TIMEOUTS), and so is the
unhandled error, which damages a row of its database; everything else on the session's server
with the default limits (8 KiB URL, 16 KiB of headers).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from garage.routes.endpoint import MAX_JSON_DEPTH
from tests.api.conftest import LiveServer, start_server
from tests.api.parking_data import API, check_in, error_code, new_garage, new_plate

READ_TIMEOUT_S = 2.0
IDLE_TIMEOUT_S = 2.0
TIMEOUTS = {
    "GARAGE_REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT_S),
    "GARAGE_KEEP_ALIVE_TIMEOUT_SECONDS": str(IDLE_TIMEOUT_S),
    "GARAGE_REPLICATION": "false",
}
# How long a test waits for an answer the server owes: far above the limits under test, so a
# loaded machine cannot fail it, and far below "forever", which is what the old server took.
ANSWER_BOUND_S = 15.0


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Short timeouts, and a database these tests may damage."""
    server = start_server(tmp_path_factory.mktemp("hardening"), env=TIMEOUTS)
    yield server
    server.stop()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Connection:
    """One raw HTTP/1.1 connection: send bytes, read whole responses (Content-Length framed)."""

    sock: socket.socket
    pending: bytes = field(default=b"")

    @classmethod
    def to(cls, server: LiveServer) -> Connection:
        host, port = server.url.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=ANSWER_BOUND_S)
        return cls(sock)

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading once it has refused the request; its answer still counts

    def answer(self) -> Answer:
        while b"\r\n\r\n" not in self.pending:
            self._fill()
        head, self.pending = self.pending.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(self.pending) < length:
            self._fill()
        body, self.pending = self.pending[:length], self.pending[length:]
        return Answer(int(status_line.split(" ")[1]), headers, body)

    def closed_by_server(self) -> bool:
        """True once the server has closed (EOF), waiting at most the socket's timeout."""
        try:
            return self.sock.recv(65536) == b""
        except ConnectionResetError:
            return True

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the server closed the connection; unread: {self.pending[:200]!r}")
        self.pending += chunk

    def close(self) -> None:
        self.sock.close()


def request(method: str, target: str, *, key: str | None = None, body: bytes | None = None,
            content_length: int | None = None, extra: bytes = b"") -> bytes:
    """The bytes of one request; `content_length` may lie about the body (a short body)."""
    head = f"{method} {target} HTTP/1.1\r\nHost: garage.test\r\n".encode()
    if key:
        head += f"Authorization: Bearer {key}\r\n".encode()
    if body is not None:
        declared = len(body) if content_length is None else content_length
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % declared
    return head + extra + b"\r\n" + (body or b"")


def assert_envelope(answer: Answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code and error["message"] and isinstance(error["details"], dict), error
    return dict(error)


# Finding 5: deep nesting, strict JSON, bodies on endpoints without one, duplicate Authorization


def test_a_deeply_nested_array_is_400_not_500(admin: httpx.Client) -> None:
    response = admin.post(f"{API}/garages", content=b"[" * 200_000, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert error_code(response) == "VALIDATION_ERROR"
    assert "nested more than" in response.json()["error"]["message"]


def test_a_deep_object_in_a_field_is_400_and_the_limit_is_max_json_depth(admin: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])

    def nested(objects: int) -> str:
        return '{"a":' * objects + "1" + "}" * objects

    deep = '{"licensePlate": ' + nested(100_000) + ', "vehicleType": "CAR"}'
    response = admin.post(f"{API}/garages/{garage_id}/check-in", content=deep.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "nested more than" in response.json()["error"]["message"]
    # one level past the limit is refused for its depth; at the limit it is only the wrong type
    # (the body itself is the first level)
    for levels, refused_for_depth in ((MAX_JSON_DEPTH, False), (MAX_JSON_DEPTH + 1, True)):
        body = '{"licensePlate": ' + nested(levels - 1) + ', "vehicleType": "CAR"}'
        response = admin.post(f"{API}/garages/{garage_id}/check-in", content=body.encode(), headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert ("nested more than" in response.json()["error"]["message"]) is refused_for_depth
    assert admin.get(f"{API}/garages/{garage_id}/occupancy").json()["occupied"] == 0


def test_a_malformed_body_on_refund_is_400_and_nothing_is_refunded(admin: httpx.Client, operator: httpx.Client) -> None:
    garage_id, _ = new_garage(admin, [(0, "1", "STANDARD")])
    entry = check_in(operator, garage_id, licensePlate=new_plate(), vehicleType="CAR")
    out = operator.post(f"{API}/sessions/{entry.json()['session']['id']}/check-out", json={"paymentMethod": "CASH"})
    payment_id = out.json()["payment"]["id"]
    refund = f"{API}/payments/{payment_id}/refund"
    for body in (b'{"reason": ', b"not json", b'{"reason": "broken gate"}', b"[]", b"null", "{}".encode("utf-16")):
        response = admin.post(refund, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (body, response.text)
        assert error_code(response) == "VALIDATION_ERROR"
        assert admin.get(f"{API}/payments/{payment_id}").json()["status"] == "COMPLETED"
    # an empty object is no body at all
    refunded = admin.post(refund, content=b"{}", headers={"Content-Type": "application/json"})
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "REFUNDED"


def test_only_utf8_json_is_accepted(admin: httpx.Client) -> None:
    garage = {"name": f"utf {new_plate()}", "address": "1 Test Road", "capacity": 5}
    text = json.dumps(garage)
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        response = admin.post(f"{API}/garages", content=text.encode(encoding), headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (encoding, response.text)
        assert error_code(response) == "VALIDATION_ERROR"
    names = {g["name"] for g in admin.get(f"{API}/garages", params={"limit": 200}).json()["items"]}
    assert garage["name"] not in names
    # A UTF-8 byte order mark is tolerated (RFC 8259 section 8.1): the text is still UTF-8.
    with_bom = admin.post(f"{API}/garages", content=text.encode("utf-8-sig"), headers={"Content-Type": "application/json"})
    assert with_bom.status_code == 201, with_bom.text


def test_json_that_python_would_bend_is_400(admin: httpx.Client) -> None:
    for body in (b'{"name": "x", "address": "y", "capacity": NaN}',
                 b'{"name": "x", "name": "y", "address": "y", "capacity": 5}',
                 b'{"name": "x", "address": "y", "capacity": ' + b"9" * 5000 + b"}",
                 b'{"name": "\xed\xa0\x80", "address": "y", "capacity": 5}'):  # an encoded lone surrogate
        response = admin.post(f"{API}/garages", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (body[:60], response.text)
        assert error_code(response) == "VALIDATION_ERROR"


def test_two_authorization_headers_are_400(live: LiveServer, viewer: httpx.Client) -> None:
    viewer_key = str(viewer.headers["Authorization"]).removeprefix("Bearer ")
    for keys in ((viewer_key, live.admin_key), (live.admin_key, live.admin_key)):
        response = httpx.post(
            f"{live.url}{API}/garages", json={"name": "two keys", "address": "x", "capacity": 1},
            headers=[("Authorization", f"Bearer {key}") for key in keys],
        )
        assert response.status_code == 400, response.text
        assert error_code(response) == "VALIDATION_ERROR"
        assert "Authorization" in response.json()["error"]["details"]["fields"]


def test_head_is_the_get_without_its_body(live: LiveServer, admin: httpx.Client) -> None:
    response = admin.head(f"{API}/garages")
    assert response.status_code == 200 and response.content == b""


# Finding 5 (the 1 MB URL) and 8: the server's limits


def test_a_huge_url_is_414_with_the_envelope(live: LiveServer) -> None:
    connection = Connection.to(live)
    try:
        connection.send(request("GET", f"{API}/garages?pad=" + "a" * 1_000_000, key=live.admin_key))
        answer = connection.answer()
        assert_envelope(answer, 414, "URI_TOO_LONG")
        assert answer.headers["connection"] == "close"
        assert connection.closed_by_server()
    finally:
        connection.close()
    assert httpx.get(f"{live.url}/health", params={"pad": "a" * 7000}).status_code == 200


def test_huge_headers_are_431_with_the_envelope(live: LiveServer) -> None:
    one_huge = b"X-Huge: " + b"a" * 100_000 + b"\r\n"
    many = b"".join(b"X-Many-%d: %s\r\n" % (n, b"b" * 100) for n in range(300))
    for extra in (one_huge, many):
        connection = Connection.to(live)
        try:
            connection.send(request("GET", "/health", extra=extra))
            answer = connection.answer()
            assert_envelope(answer, 431, "HEADERS_TOO_LARGE")
            assert answer.headers["connection"] == "close"
        finally:
            connection.close()
    assert httpx.get(f"{live.url}/health", headers={"X-Fair": "c" * 10_000}).status_code == 200


def test_a_request_that_is_not_http_gets_the_envelope(live: LiveServer) -> None:
    connection = Connection.to(live)
    try:
        connection.send(b"HELLO THERE\r\n\r\n")
        assert_envelope(connection.answer(), 400, "VALIDATION_ERROR")
    finally:
        connection.close()


def test_a_body_shorter_than_its_content_length_gets_408(own_server: LiveServer) -> None:
    server = own_server
    connection = Connection.to(server)
    try:
        started = time.monotonic()
        connection.send(request("POST", f"{API}/garages", key=server.admin_key, body=b'{"name": ', content_length=100))
        answer = connection.answer()
        assert_envelope(answer, 408, "REQUEST_TIMEOUT")
        assert answer.headers["connection"] == "close"
        assert time.monotonic() - started >= READ_TIMEOUT_S * 0.9  # the read timeout answered, nothing else
        assert connection.closed_by_server()
    finally:
        connection.close()


def test_a_head_that_never_ends_gets_408(own_server: LiveServer) -> None:
    connection = Connection.to(own_server)
    try:
        connection.send(b"GET /health HTTP/1.1\r\nHost: garage.test\r\nX-Slow: ")
        answer = connection.answer()
        assert_envelope(answer, 408, "REQUEST_TIMEOUT")
        assert connection.closed_by_server()
    finally:
        connection.close()


def test_a_slow_client_within_the_read_timeout_is_served(own_server: LiveServer) -> None:
    server = own_server
    body = json.dumps({"name": "slow but in time", "address": "1 Test Road", "capacity": 3}).encode()
    connection = Connection.to(server)
    try:
        connection.send(request("POST", f"{API}/garages", key=server.admin_key, body=body)[:-10])
        time.sleep(READ_TIMEOUT_S / 4)
        connection.send(body[-10:])
        assert connection.answer().status == 201
    finally:
        connection.close()


def test_idle_connections_are_closed(own_server: LiveServer) -> None:
    # uvicorn's own keep-alive default is 5 s: waiting less than that shows the setting is applied.
    bound = IDLE_TIMEOUT_S * 2
    silent = Connection.to(own_server)  # never sends a request (the old server kept it forever)
    silent.sock.settimeout(bound)
    after_answer = Connection.to(own_server)
    after_answer.sock.settimeout(bound)
    try:
        after_answer.send(request("GET", "/health"))
        assert after_answer.answer().status == 200
        assert silent.closed_by_server()
        assert after_answer.closed_by_server()
    finally:
        silent.close()
        after_answer.close()


# Finding 4 (part): a 500 keeps the connection usable and is logged once


def test_an_unhandled_error_is_answered_500_logged_once_and_the_connection_stays_usable(own_server: LiveServer) -> None:
    """A real fault: an encrypted owner e-mail damaged in the database file (one flipped character
    of its ciphertext) fails authentication when the vehicle is read, an error no handler maps."""
    live = own_server
    plate = new_plate("T")
    admin = live.client(live.admin_key)
    vehicle = admin.post(f"{API}/vehicles", json={"licensePlate": plate, "type": "CAR", "ownerEmail": "owner@example.com"}).json()
    database = sqlite3.connect(live.database)
    try:
        (stored,) = database.execute('SELECT ownerEmail FROM "Vehicle" WHERE id = ?', (vehicle["id"],)).fetchone()
        flipped = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
        database.execute('UPDATE "Vehicle" SET ownerEmail = ? WHERE id = ?', (flipped, vehicle["id"]))
        database.commit()
    finally:
        database.close()
    log_before = live.log.read_text()
    connection = Connection.to(live)
    try:
        connection.send(request("GET", f"{API}/vehicles/{vehicle['id']}", key=live.admin_key))
        failed = connection.answer()
        error = assert_envelope(failed, 500, "INTERNAL")
        assert "failed authentication" not in json.dumps(error)  # no internals in the body
        assert failed.headers.get("connection", "keep-alive") != "close"
        # the same connection serves the next request (the old server had closed it, unannounced)
        connection.send(request("GET", "/health"))
        assert connection.answer().status == 200
    finally:
        connection.close()
    logged = live.log.read_text()[len(log_before):]
    assert logged.count("DecryptionFailed: a stored Vehicle.ownerEmail failed authentication") == 1, logged
    assert "Exception in ASGI application" not in logged


def test_the_openapi_document_states_the_limits(live: LiveServer) -> None:
    description = httpx.get(f"{live.url}/openapi.json").json()["info"]["description"]
    for stated in ("nested at most 32 levels", "414 URI_TOO_LONG", "431 HEADERS_TOO_LARGE", "408 REQUEST_TIMEOUT",
                   "Authorization must be sent once", "accept none or {}"):
        assert stated in description
