"""Metrics (GET /metrics) through client.get_metrics(): JSON and Prometheus formats."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import EngineProcess, FIND_MANY_USERS
from engine_test_client import Metric, Prisma

pytestmark = pytest.mark.asyncio(loop_scope="session")


def counters(metrics: Any) -> dict[str, int]:
    return {metric.key: metric.value for metric in metrics.counters}


def histograms(metrics: Any) -> dict[str, Any]:
    return {metric.key: metric.value for metric in metrics.histograms}


async def test_json_metrics_shape(client: Prisma) -> None:
    metrics = await client.get_metrics()
    assert {
        "prisma_client_queries_total",
        "prisma_datasource_queries_total",
        "prisma_pool_connections_opened_total",
        "prisma_pool_connections_closed_total",
    } <= set(counters(metrics))
    assert {"prisma_client_queries_active", "prisma_pool_connections_open"} <= {g.key for g in metrics.gauges}
    assert {
        "prisma_client_queries_duration_histogram_ms",
        "prisma_client_queries_wait_histogram_ms",
        "prisma_datasource_queries_duration_histogram_ms",
    } <= set(histograms(metrics))
    every: list[Metric[Any]] = [*metrics.counters, *metrics.gauges, *metrics.histograms]
    for metric in every:
        assert metric.description
    assert counters(metrics)["prisma_pool_connections_opened_total"] >= 1
    assert {g.key: g.value for g in metrics.gauges}["prisma_pool_connections_open"] >= 1


async def test_counters_increase_by_the_queries_run(client: Prisma) -> None:
    before = await client.get_metrics()
    user = await client.user.create(data={"email": "m@example.com"})
    await client.user.find_unique(where={"id": user.id})
    await client.user.find_many(where={"email": {"contains": "m"}})
    await client.user.count()
    await client.query_raw("SELECT 1 AS one")
    after = await client.get_metrics()

    run = 5
    delta = {key: counters(after)[key] - counters(before)[key] for key in counters(before)}
    assert delta["prisma_client_queries_total"] == run
    # every client query runs at least one SQL statement (the create: INSERT + SELECT)
    assert delta["prisma_datasource_queries_total"] >= run

    h_before, h_after = histograms(before), histograms(after)
    duration = h_after["prisma_client_queries_duration_histogram_ms"]
    assert duration.count - h_before["prisma_client_queries_duration_histogram_ms"].count == run
    assert duration.count > 0 and duration.sum >= 0
    assert sum(bucket.total_count for bucket in duration.buckets) <= duration.count
    datasource = h_after["prisma_datasource_queries_duration_histogram_ms"]
    assert datasource.count - h_before["prisma_datasource_queries_duration_histogram_ms"].count == delta[
        "prisma_datasource_queries_total"
    ]
    # the metrics request itself is not a query
    again = await client.get_metrics()
    assert counters(again)["prisma_client_queries_total"] == counters(after)["prisma_client_queries_total"]


async def test_batches_and_transactions_count_each_query(client: Prisma) -> None:
    before = counters(await client.get_metrics())
    async with client.batch_() as batcher:
        for i in range(4):
            batcher.user.create(data={"email": f"b{i}@example.com"})
    async with client.tx() as tx:
        await tx.user.count()
        await tx.user.create(data={"email": "tx@example.com"})
    after = counters(await client.get_metrics())
    assert after["prisma_client_queries_total"] - before["prisma_client_queries_total"] == 4 + 2


async def test_failed_queries_are_counted(client: Prisma) -> None:
    before = counters(await client.get_metrics())
    with pytest.raises(Exception):
        await client.query_raw("SELECT * FROM no_such_table")
    after = counters(await client.get_metrics())
    assert after["prisma_client_queries_total"] - before["prisma_client_queries_total"] == 1


async def test_global_labels_in_json(client: Prisma) -> None:
    metrics = await client.get_metrics(global_labels={"service": "garage", "zone": "eu-1"})
    every: list[Metric[Any]] = [*metrics.counters, *metrics.gauges, *metrics.histograms]
    for metric in every:
        assert metric.labels == {"service": "garage", "zone": "eu-1"}
    plain = await client.get_metrics()
    assert all(metric.labels == {} for metric in plain.counters)


async def test_prometheus_format(client: Prisma) -> None:
    await client.user.count()
    text = await client.get_metrics(format="prometheus", global_labels={"service": "garage"})
    assert isinstance(text, str)
    assert "# TYPE prisma_client_queries_total counter" in text
    assert "# HELP prisma_client_queries_total " in text
    match = re.search(r'^prisma_client_queries_total\{service="garage"\} (\d+)$', text, re.M)
    assert match and int(match.group(1)) > 0
    assert re.search(r'^prisma_client_queries_duration_histogram_ms_bucket\{service="garage",le="[^"]+"\} \d+$', text, re.M)
    count = re.search(r'^prisma_client_queries_duration_histogram_ms_count\{service="garage"\} (\d+)$', text, re.M)
    assert count and int(count.group(1)) > 0
    # the same numbers as the JSON format (no query ran in between)
    json_metrics = await client.get_metrics()
    assert int(match.group(1)) == counters(json_metrics)["prisma_client_queries_total"]


async def test_prometheus_counter_increases(client: Prisma) -> None:
    def total(text: str) -> int:
        found = re.search(r"^prisma_client_queries_total (\d+)$", text, re.M)
        assert found, text[:500]
        return int(found.group(1))

    before = total(await client.get_metrics(format="prometheus"))
    for _ in range(3):
        await client.user.find_many()
    assert total(await client.get_metrics(format="prometheus")) - before == 3


async def test_metrics_over_http_with_label_escaping(
    spawn_engine: Callable[..., EngineProcess], new_database: Callable[..., Path]
) -> None:
    engine = spawn_engine(database=new_database())
    engine.graphql(FIND_MANY_USERS)
    response = engine.http.request("GET", "/metrics?format=prometheus", content='{"label": "a\\"b\\\\c\\nd"}')
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'prisma_client_queries_total{label="a\\"b\\\\c\\nd"} 1' in response.text
    as_json = engine.http.get("/metrics?format=json").json()
    assert {c["key"]: c["value"] for c in as_json["counters"]}["prisma_client_queries_total"] == 1
