"""The parts of webhook delivery that are plain functions: backoff, refused addresses, signatures
(the delivery itself is tested through HTTP: tests/api/test_webhooks.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import timedelta

import pytest

from garage.runtime.webhook_delivery import RETRY_CAP, destination_problem, retry_delay, signature, url_problem


def test_retries_double_from_the_first_delay_up_to_an_hour() -> None:
    first = timedelta(seconds=30)
    assert [retry_delay(first, n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert retry_delay(first, 500) == RETRY_CAP
    assert retry_delay(timedelta(seconds=0.2), 3) == timedelta(seconds=0.8)


def test_the_signature_is_hmac_sha256_over_the_time_a_dot_and_the_body() -> None:
    body = '{"id":"0000000000000001","data":{"é":1}}'.encode()
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1_700_000_000, body) == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "example.com/hook", "http://", "http://user:pw@example.com/", "http://h:99999/"]
)
def test_urls_that_are_not_http_destinations_are_refused(url: str) -> None:
    assert url_problem(url) is not None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "[::1]",
        "[fe80::1]",
        "[fc00::1]",
        "[::ffff:10.0.0.1]",
        "224.0.0.1",
        "100.64.0.1",
    ],
)
def test_private_addresses_are_refused_unless_allowed(address: str) -> None:
    url = f"http://{address}/hook"
    assert asyncio.run(destination_problem(url, allow_private=False)) is not None
    assert asyncio.run(destination_problem(url, allow_private=True)) is None


def test_public_addresses_are_accepted() -> None:
    assert asyncio.run(destination_problem("https://93.184.215.14/hook", allow_private=False)) is None
    assert asyncio.run(destination_problem("http://[2606:4700::1111]:8443/hook", allow_private=False)) is None
