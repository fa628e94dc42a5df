"""Several clients at the same time: concurrent POSTs are each created, with distinct ids, and all listed
afterwards, ``count`` growing by as many; the same GET sent in parallel gets identical answers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from . import claims
from .checks import Expect, claim
from .client import ApiClient
from .discovery import Device, Inventory
from .exchange import Exchange
from .invariants import count_grows_by_writes, unrefreshed_difference
from .paging import get_page, page_count
from .phases import SuiteOptions
from .posting import created_echoes_fields_sent
from .records import Search, find_records
from .runconfig import RunConfig, WriteBudget

T = TypeVar("T")
PARALLEL_READERS = 6
READ_ATTEMPTS = 3
START_SECONDS = 30.0
#: Against a write budget, the concurrent writes take at most this share of it.
BUDGET_SHARE = 0.4


def plan_writes(options: SuiteOptions, budget: WriteBudget) -> tuple[int, int]:
    """(threads, POSTs per thread): the options' shape, cut down to a share of a limited budget."""
    threads, per_thread = options.writer_threads, options.posts_per_thread
    if budget.total is not None:
        affordable = min(int(budget.total * BUDGET_SHARE), budget.remaining or 0)
        threads = min(threads, affordable)
        per_thread = min(per_thread, affordable // threads) if threads else 0
    if threads < 2 or per_thread < 1 or not budget.reserve(threads * per_thread):
        return 0, 0
    return threads, per_thread


def at_once(api: ApiClient, base_url: str, run: RunConfig, count: int,
            task: Callable[[ApiClient, int], T]) -> list[T]:
    """``task(client, 0..count-1)`` in as many threads, each with its own client, released together;
    the first failure is raised. Each client is connected first, so that the requests meet at the server."""
    clients = [twin(api, base_url, run) for _ in range(count)]
    barrier = threading.Barrier(count)

    def released(index: int) -> T:
        barrier.wait(timeout=START_SECONDS)
        return task(clients[index], index)

    try:
        for client in clients:
            get_page(client, {"limit": 1})  # opens the connection the task will reuse
        with ThreadPoolExecutor(count, thread_name_prefix="contract-client") as pool:
            futures = [pool.submit(released, index) for index in range(count)]
            return [future.result() for future in futures]
    finally:
        for client in clients:
            client.close()


def twin(api: ApiClient, base_url: str, run: RunConfig) -> ApiClient:
    """Another client of the same run (a session of its own), checked by the same invariants."""
    client = ApiClient(base_url, run.token, strict=run.strict)
    client.observers = api.observers
    return client


@claim
def concurrent_ids_unique(exchange: Exchange, ids: list[Any]) -> str | None:
    repeated = sorted({str(record_id) for record_id in ids if ids.count(record_id) > 1})
    if repeated:
        return f"{len(ids)} records created at the same time share ids: {repeated[:5]}"
    return None


@claim
def concurrent_writes_all_listed(exchange: Exchange, ids: list[str], search: Search) -> str | None:
    missing = [record_id for record_id in ids if record_id not in search.found]
    if missing and search.complete:
        return f"{len(missing)} of {len(ids)} records created at the same time are not listed: {missing[:5]}"
    return None


@pytest.mark.posts
@pytest.mark.writes
def test_concurrent_writes_are_all_created_and_listed(api: ApiClient, base_url: str, run: RunConfig,
                                                      target: Device, write_budget: WriteBudget,
                                                      options: SuiteOptions) -> None:
    threads, per_thread = plan_writes(options, write_budget)
    if not threads:
        pytest.skip("the write budget (--max-writes) cannot afford concurrent writes")
    before = page_count(get_page(api, {"id": target.id, "limit": 1}))
    created = Expect(201, rule=claims.CONCURRENT_WRITES_ALL_CREATED,
                     why=f"one of {threads} x {per_thread} valid POSTs sent at the same time")

    def writer(client: ApiClient, index: int) -> list[tuple[dict[str, Any], Exchange]]:
        sent = []
        for number in range(per_thread):
            body = {"device_id": target.id, "diagnostic_type": "maintenance", "status": "completed",
                    "details": {"writer": index, "number": number},
                    "notes": f"{run.tag} concurrent writer {index} post {number}"}
            sent.append((body, client.post(body, expect=created)))
        return sent

    results = [pair for batch in at_once(api, base_url, run, threads, writer) for pair in batch]
    for body, exchange in results:
        created_echoes_fields_sent(exchange, body)
    ids = [str(exchange.payload.get("id")) for _, exchange in results]
    last = results[-1][1]
    concurrent_ids_unique(last, ids)
    api.seen_ids.update(ids)
    search = find_records(api, target.id, set(ids))
    concurrent_writes_all_listed(search.first, ids, search)
    count_grows_by_writes(search.first, before, len(ids), options.sole_writer and run.worker_count == 1)
    if not search.complete:
        pytest.skip("the device has too many records to find every new one in its first and last pages")


@claim
def parallel_reads_agree(exchange: Exchange, answers: list[Exchange]) -> str | None:
    differing = [(answer, difference) for answer in answers
                 if (difference := unrefreshed_difference(exchange, answer)) is not None]
    if not differing:
        return None
    other, difference = differing[0]
    return (f"{len(differing)} of {len(answers)} identical GETs sent at the same time answered otherwise "
            f"than the same GET alone ({page_count(exchange)} records, {len(exchange.results)} on the page), "
            f"e.g. {len(other.results)} results on the page in parallel: {difference}")


def test_parallel_reads_give_identical_answers(api: ApiClient, base_url: str, run: RunConfig,
                                               inventory: Inventory) -> None:
    busy = [{"id": device.id} for device in inventory.devices if device.count > 1]
    for params in [{}, *busy[:1]]:
        def reader(client: ApiClient, index: int, params: dict[str, Any] = params) -> Exchange:
            return get_page(client, params)

        for _ in range(READ_ATTEMPTS):
            alone = get_page(api, params)
            answers = at_once(api, base_url, run, PARALLEL_READERS, reader)
            if len({page_count(answer) for answer in [alone, *answers]}) == 1:
                parallel_reads_agree(alone, answers)
                break
        else:
            pytest.skip(f"count kept changing while reading {params} in parallel: other clients are writing")
