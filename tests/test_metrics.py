"""Prometheus metrics: the gateway's counters and histograms move as lookups run, and carry no
personal data. Scraped over HTTP from ``serve_metrics`` like Prometheus would."""

from __future__ import annotations

import asyncio
import math
import re
import socket
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fedgate.audit.entry import PendingEntry
from fedgate.audit.note import Signer
from fedgate.metrics import (
    DECISIONS,
    LOOKUP_STATUSES,
    UNKNOWN_REQUESTER,
    GatewayMetrics,
    MetricsServer,
    parse_listen,
    serve_metrics,
)
from fedgate.model import AGENCIES, AgencyStatus
from fedgate.pki import PKILayout
from fedgate.tls import channel_credentials, server_credentials
from fedgate.v1 import common_pb2, gateway_pb2
from gateway.audit_store import SQLAuditStore
from gateway.fanout import AdapterPool
from gateway.group_commit import GroupCommitter
from gateway.journal import AuditUnavailable
from gateway.policy import FailClosedPolicy
from gateway.server import GatewayServer, build_gateway_server
from gateway.validation import PurposeRegister
from tests.conftest import (
    AUDIT_ORIGIN,
    ROOT,
    TAG_KEY,
    TRUST_DOMAIN,
    Deployment,
    start_deployment,
    stop_deployment,
)
from tests.fakes import RaisingPolicy

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

CASE_REFERENCE = "CASE-METRICS-4471"
OFFICER_ID = "OFF-METRICS-9902"
BOGUS_PURPOSE = "WHIMSICAL_CURIOSITY_8812"

#: Label names the gateway may use, and the values each may take (``le`` is the bucket bound).
_ALLOWED_LABELS: dict[str, set[str]] = {
    "requester": {*AGENCIES, UNKNOWN_REQUESTER},
    "agency": set(AGENCIES),
    "status": {*LOOKUP_STATUSES, *(s.value for s in AgencyStatus)},
    "decision": set(DECISIONS),
}


def _scrape(server: MetricsServer) -> str:
    with urllib.request.urlopen(server.url, timeout=5) as response:  # noqa: S310  # our own http endpoint
        assert response.status == 200
        body: bytes = response.read()
    return body.decode("utf-8")


def _samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _by_key(soi: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(s for s in soi if s["key"] == key)


def _request(
    subject: common_pb2.Subject, purpose: str = "BORDER_RISK_ASSESSMENT"
) -> gateway_pb2.LookupRequest:
    return gateway_pb2.LookupRequest(
        subject=subject, purpose=purpose, case_reference=CASE_REFERENCE, officer_id=OFFICER_ID
    )


def _passport(canonical: dict[str, Any]) -> common_pb2.Subject:
    passport = common_pb2.PassportNumber(
        number=canonical["passport_number"], issuing_country=canonical["passport_country"]
    )
    return common_pb2.Subject(
        kind=common_pb2.SUBJECT_KIND_PERSON, identifiers=[common_pb2.Identifier(passport=passport)]
    )


def _name(canonical: dict[str, Any]) -> common_pb2.Subject:
    person = common_pb2.NameAndBirthDate(
        given_names=canonical["given_names"],
        family_name=canonical["family_name"],
        date_of_birth=canonical["date_of_birth"],
    )
    return common_pb2.Subject(
        kind=common_pb2.SUBJECT_KIND_PERSON, identifiers=[common_pb2.Identifier(name_and_birth_date=person)]
    )


def _statuses(response: gateway_pb2.LookupResponse) -> dict[str, str]:
    return {
        r.agency: gateway_pb2.AgencyStatus.Name(r.status).removeprefix("AGENCY_STATUS_")
        for r in response.results
    }


def _personal_values(canonicals: Iterable[dict[str, Any]]) -> list[str]:
    values = [CASE_REFERENCE, OFFICER_ID, BOGUS_PURPOSE]
    for c in canonicals:
        values += [c["given_names"], c["family_name"], c["date_of_birth"], c["passport_number"]]
        values += c["given_names"].split()
    return [v for v in values if v]


def _assert_no_personal_data(text: str, values: Iterable[str]) -> None:
    for value in values:
        assert not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE), value
    # And structurally: every label is one of ours, with a value from its closed set.
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for label, value in sample.labels.items():
                if label == "le":
                    float(value)  # a bucket bound, a number
                    continue
                assert value in _ALLOWED_LABELS[label], (sample.name, label, value)


@pytest.fixture
async def metered(
    pki: PKILayout, data_dir: Path, tmp_path: Path
) -> AsyncIterator[tuple[Deployment, MetricsServer]]:
    metrics = GatewayMetrics()
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", metrics=metrics)
    server = serve_metrics(metrics, "127.0.0.1:0")
    try:
        yield dep, server
    finally:
        await server.aclose()
        await stop_deployment(dep)


async def test_lookups_move_the_counters_and_histograms_and_leak_nothing(
    metered: tuple[Deployment, MetricsServer], soi: list[dict[str, Any]]
) -> None:
    """A disclosed, a refused and an invalid lookup: exact counters, moved histograms, no personal data."""
    dep, server = metered
    disclosed_subject = _by_key(soi, "soi-01")["canonical"]
    refused_subject = _by_key(soi, "soi-07")["canonical"]
    invalid_subject = _by_key(soi, "soi-02")["canonical"]
    async with dep.client("customs") as client:
        disclosed = await client.lookup(_request(_passport(disclosed_subject)))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.lookup(_request(_name(invalid_subject), purpose=BOGUS_PURPOSE))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    async with dep.client("mpi") as client:
        refused = await client.lookup(_request(_name(refused_subject)))
    assert "DISCLOSED" in _statuses(disclosed).values()
    assert set(_statuses(refused).values()) == {"REFUSED"}

    text = await asyncio.to_thread(_scrape, server)
    samples = _samples(text)

    # Lookups: exact, per requester and outcome; every other series of the closed sets is zero.
    expected_lookups = {("customs", "ok"): 1, ("customs", "invalid_argument"): 1, ("mpi", "ok"): 1}
    for requester in AGENCIES:
        for status in LOOKUP_STATUSES:
            got = _value(samples, "fedgate_lookups_total", requester=requester, status=status)
            assert got == expected_lookups.get((requester, status), 0), (requester, status)
    assert _value(samples, "fedgate_lookup_latency_seconds_count") == 3
    assert _value(samples, "fedgate_lookup_latency_seconds_sum") > 0

    # Agency results: exactly the statuses the two answered lookups carried.
    results = Counter(
        (agency, status)
        for response in (disclosed, refused)
        for agency, status in _statuses(response).items()
    )
    for agency in AGENCIES:
        for agency_status in AgencyStatus:
            got = _value(samples, "fedgate_agency_results_total", agency=agency, status=agency_status.value)
            assert got == results[(agency, agency_status.value)], (agency, agency_status)

    # Adapter calls: one per agency the plan permitted (the refused ones were never asked).
    called = Counter(a for a, s in _statuses(disclosed).items() if s != "REFUSED")
    for agency in AGENCIES:
        assert _value(samples, "fedgate_agency_latency_seconds_count", agency=agency) == called[agency]
        assert (
            _value(samples, "fedgate_agency_latency_seconds_bucket", agency=agency, le="+Inf")
            == called[agency]
        )

    # Policy: one plan per lookup that reached policy, a release per fetched record, no failures.
    assert _value(samples, "fedgate_policy_decision_seconds_count", decision="plan") == 2
    released = sum(len(r.records) for r in disclosed.results)
    assert _value(samples, "fedgate_policy_decision_seconds_count", decision="release") >= released > 0
    assert _value(samples, "fedgate_policy_failures_total", decision="plan") == 0
    assert _value(samples, "fedgate_policy_failures_total", decision="release") == 0

    # Audit: one batch per answered lookup (they ran one after the other), one entry per target.
    entries = len(disclosed.results) + len(refused.results)
    assert _value(samples, "fedgate_audit_batch_entries_count") == 2
    assert _value(samples, "fedgate_audit_batch_entries_sum") == entries
    assert _value(samples, "fedgate_audit_commit_seconds_count") == 2
    assert _value(samples, "fedgate_audit_log_entries") == dep.store.size() == entries
    assert _value(samples, "fedgate_audit_append_failures_total") == 0

    _assert_no_personal_data(text, _personal_values([disclosed_subject, refused_subject, invalid_subject]))


async def test_policy_failures_are_counted_through_build_gateway_server(
    pki: PKILayout, data_dir: Path, tmp_path: Path, soi: list[dict[str, Any]]
) -> None:
    """A FailClosedPolicy handed to the gateway without metrics gets the gateway's: denials count."""
    metrics = GatewayMetrics()
    dep = await start_deployment(
        pki, data_dir, tmp_path / "audit.sqlite", policy=FailClosedPolicy(RaisingPolicy()), metrics=metrics
    )
    try:
        async with dep.client("customs") as client:
            response = await client.lookup(_request(_passport(_by_key(soi, "soi-01")["canonical"])))
    finally:
        await stop_deployment(dep)
    assert set(_statuses(response).values()) == {"REFUSED"}
    samples = _samples(metrics.exposition().decode())
    assert _value(samples, "fedgate_policy_failures_total", decision="plan") == 1
    assert _value(samples, "fedgate_policy_decision_seconds_count", decision="plan") == 1
    assert _value(samples, "fedgate_lookups_total", requester="customs", status="ok") == 1
    assert _value(samples, "fedgate_agency_results_total", agency="police", status="REFUSED") == 1


async def test_a_broken_metric_never_breaks_a_lookup(
    pki: PKILayout, data_dir: Path, tmp_path: Path, soi: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every recording method failing: the lookup still answers, and is still audited."""
    metrics = GatewayMetrics()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("metrics backend on fire")

    for metric in (
        metrics.lookups,
        metrics.agency_results,
        metrics.agency_latency,
        metrics.policy_decision,
        metrics.policy_failures,
    ):
        monkeypatch.setattr(metric, "labels", broken)
    for metric in (metrics.lookup_latency, metrics.audit_batch_entries, metrics.audit_commit):
        monkeypatch.setattr(metric, "observe", broken)
    monkeypatch.setattr(metrics.audit_log_entries, "set", broken)
    dep = await start_deployment(pki, data_dir, tmp_path / "audit.sqlite", metrics=metrics)
    try:
        async with dep.client("customs") as client:
            response = await client.lookup(_request(_passport(_by_key(soi, "soi-01")["canonical"])))
        assert "DISCLOSED" in _statuses(response).values()
        assert dep.store.size() == len(response.results)
    finally:
        await stop_deployment(dep)


def _pending(n: int, tag: str) -> list[PendingEntry]:
    return [
        PendingEntry({"kind": "policy_activation", "bundle_digest": f"{tag}:{i}", "activated_by": "t"})
        for i in range(n)
    ]


async def test_audit_batches_and_log_size_are_measured(tmp_path: Path) -> None:
    """Batch sizes and commit times are observed per batch; the gauge follows the log, from start."""
    store = SQLAuditStore(
        f"sqlite:///{tmp_path / 'audit.sqlite'}", signer=Signer.generate(AUDIT_ORIGIN), origin=AUDIT_ORIGIN
    )
    store.append_batch(_pending(3, "before"))  # written before the gateway started
    metrics = GatewayMetrics()
    committer = GroupCommitter(store, metrics=metrics)
    try:
        await committer.start()
        assert metrics.registry.get_sample_value("fedgate_audit_log_entries") == 3
        sizes = [1, 2, 3, 2, 1, 4, 5, 2]
        await asyncio.gather(*(committer.append(_pending(n, f"c{i}")) for i, n in enumerate(sizes)))
        await committer.close()
        with pytest.raises(AuditUnavailable):
            await committer.append(_pending(1, "late"))
        samples = _samples(metrics.exposition().decode())
        batches = committer.stats.batches
        assert batches >= 1
        assert _value(samples, "fedgate_audit_batch_entries_count") == batches
        assert _value(samples, "fedgate_audit_batch_entries_sum") == sum(sizes)
        assert _value(samples, "fedgate_audit_commit_seconds_count") == batches
        assert _value(samples, "fedgate_audit_commit_seconds_sum") > 0
        assert _value(samples, "fedgate_audit_log_entries") == store.size() == 3 + sum(sizes)
        assert _value(samples, "fedgate_audit_append_failures_total") == 1
        # 20 entries in all, so every batch falls in the 32 bucket.
        assert _value(samples, "fedgate_audit_batch_entries_bucket", le="32.0") == batches
        assert _value(samples, "fedgate_audit_batch_entries_bucket", le="+Inf") == batches
    finally:
        await committer.close()
        store.close()


async def test_failed_audit_batches_are_counted_per_caller(tmp_path: Path) -> None:
    """A store failure counts each caller whose append raised, and observes no committed batch."""

    class FailingStore(SQLAuditStore):
        def append_batch(self, pending: Any, *, now: Any = None) -> Any:
            raise AuditUnavailable("audit append failed (OperationalError)")

    store = FailingStore(
        f"sqlite:///{tmp_path / 'audit.sqlite'}", signer=Signer.generate(AUDIT_ORIGIN), origin=AUDIT_ORIGIN
    )
    metrics = GatewayMetrics()
    committer = GroupCommitter(store, metrics=metrics)
    await committer.start()
    try:
        outcomes = await asyncio.gather(
            *(committer.append(_pending(1, f"c{i}")) for i in range(3)), return_exceptions=True
        )
    finally:
        await committer.close()
        store.close()
    assert all(isinstance(o, AuditUnavailable) for o in outcomes)
    samples = _samples(metrics.exposition().decode())
    assert _value(samples, "fedgate_audit_append_failures_total") == 3
    assert _value(samples, "fedgate_audit_batch_entries_count") == 0
    assert _value(samples, "fedgate_audit_log_entries") == 0


def test_serve_metrics_reports_the_port_and_closes() -> None:
    """Port 0 binds a free port the server reports; after close nothing listens there."""
    metrics = GatewayMetrics(process=False)
    server = serve_metrics(metrics, "127.0.0.1:0")
    try:
        assert server.port > 0
        assert server.address == f"127.0.0.1:{server.port}"
        text = _scrape(server)
        assert "fedgate_lookups_total" in text
        assert "process_" not in text
    finally:
        server.close()
    server.close()  # idempotent
    with pytest.raises(urllib.error.URLError):
        _scrape(server)


def test_serve_metrics_names_an_address_it_cannot_bind() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(OSError, match=re.escape(f"cannot serve metrics on {listen}")):
            serve_metrics(GatewayMetrics(process=False), listen)


@pytest.mark.parametrize("listen", ["9464", ":9464", "localhost:http", "127.0.0.1:70000", "127.0.0.1:"])
def test_malformed_metrics_address_is_refused(listen: str) -> None:
    with pytest.raises(ValueError, match="metrics listen address"):
        parse_listen(listen)


def test_parse_listen_accepts_ipv6_in_brackets() -> None:
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    assert parse_listen("0.0.0.0:0") == ("0.0.0.0", 0)  # noqa: S104  # parsing only


def test_two_registries_do_not_collide() -> None:
    """Each GatewayMetrics has its own registry: two in one process count separately."""
    a, b = GatewayMetrics(process=False), GatewayMetrics(process=False)
    a.lookup_done("customs", "ok", 0.01)
    assert a.registry.get_sample_value("fedgate_lookups_total", {"requester": "customs", "status": "ok"}) == 1
    assert b.registry.get_sample_value("fedgate_lookups_total", {"requester": "customs", "status": "ok"}) == 0


def test_labels_outside_their_closed_sets_are_clamped() -> None:
    """A value that is not an agency, status or decision is never a label: it becomes ``other``."""
    metrics = GatewayMetrics(process=False)
    metrics.lookup_done("Jane Citizen", "weird", 0.01)
    metrics.lookup_done(None, "unauthenticated", 0.01)
    metrics.adapter_call("LA123456", 0.01)
    text = metrics.exposition().decode()
    assert "Jane" not in text
    assert "LA123456" not in text
    get = metrics.registry.get_sample_value
    assert get("fedgate_lookups_total", {"requester": "other", "status": "other"}) == 1
    assert get("fedgate_lookups_total", {"requester": "unknown", "status": "unauthenticated"}) == 1
    assert get("fedgate_agency_latency_seconds_count", {"agency": "other"}) == 1


async def test_gateway_serves_metrics_while_running(pki: PKILayout, tmp_path: Path) -> None:
    """``metrics_listen`` serves from start to stop; a taken port stops the start with the address."""
    gw = pki.gateway

    def build(listen: str, name: str) -> GatewayServer:
        store = SQLAuditStore(
            f"sqlite:///{tmp_path / name}",
            signer=Signer.generate(AUDIT_ORIGIN),
            origin=AUDIT_ORIGIN,
        )
        return build_gateway_server(
            listen="127.0.0.1:0",
            credentials=server_credentials(gw.cert, gw.key, pki.ca_cert),
            policy=FailClosedPolicy(RaisingPolicy()),
            adapters=AdapterPool(
                {}, channel_credentials(pki.ca_cert, gw.cert, gw.key), trust_domain=TRUST_DOMAIN
            ),
            store=store,
            tag_key=TAG_KEY,
            purposes=PurposeRegister.load(ROOT / "policies" / "purposes.yaml"),
            trust_domain=TRUST_DOMAIN,
            metrics_listen=listen,
        )

    gateway = build("127.0.0.1:0", "first.sqlite")
    assert gateway.metrics is not None
    await gateway.start()
    try:
        assert gateway.metrics_server is not None
        server = gateway.metrics_server
        text = await asyncio.to_thread(_scrape, server)
        assert "fedgate_audit_log_entries 0.0" in text
        taken = f"127.0.0.1:{server.port}"
        second = build(taken, "second.sqlite")
        with pytest.raises(OSError, match=re.escape(f"cannot serve metrics on {taken}")):
            await second.start()
        await second.stop(0)
    finally:
        await gateway.stop(0)
    assert gateway.metrics_server is None
    with pytest.raises(urllib.error.URLError):
        await asyncio.to_thread(_scrape, server)


# -- gauges counted at scrape time: event loop tasks and adapter channels ---------------------


async def test_event_loop_tasks_and_adapter_channels_are_counted_when_scraped(pki: PKILayout) -> None:
    """The two leak gauges read 0 until watched, then follow tasks and channels as they come and go."""
    metrics = GatewayMetrics(process=False)
    server = serve_metrics(metrics, "127.0.0.1:0")
    gw = pki.gateway
    pool = AdapterPool(
        {"police": "127.0.0.1:1", "mpi": "127.0.0.1:1"},
        channel_credentials(pki.ca_cert, gw.cert, gw.key),
        trust_domain=TRUST_DOMAIN,
    )

    async def gauges() -> tuple[float, float]:
        samples = _samples(await asyncio.to_thread(_scrape, server))
        return _value(samples, "fedgate_event_loop_tasks"), _value(samples, "fedgate_adapter_channels")

    try:
        assert await gauges() == (0.0, 0.0)
        loop = asyncio.get_running_loop()
        metrics.watch_event_loop(loop)
        metrics.watch_adapter_channels(loop, pool.open_channels)
        tasks, channels = await gauges()
        assert channels == 2
        assert tasks >= 1  # this test's own task at least
        release = asyncio.Event()
        waiting = [asyncio.create_task(release.wait()) for _ in range(7)]
        assert await gauges() == (tasks + 7, 2)
        release.set()
        await asyncio.gather(*waiting)
        await pool.close()
        assert await gauges() == (tasks, 0)
        # Read from the loop itself (no scrape thread), the count is taken in place.
        assert metrics.registry.get_sample_value("fedgate_event_loop_tasks") == tasks
    finally:
        await pool.close()
        await server.aclose()


async def test_a_count_that_fails_reads_nan_and_the_scrape_still_answers() -> None:
    """A count that raises, or a loop that is gone, reads NaN; the other series are still served."""
    metrics = GatewayMetrics(process=False)
    server = serve_metrics(metrics, "127.0.0.1:0")

    def broken() -> int:
        raise RuntimeError("no count")

    closed = asyncio.new_event_loop()
    closed.close()
    try:
        metrics.watch_adapter_channels(asyncio.get_running_loop(), broken)
        metrics.watch_event_loop(closed)
        samples = _samples(await asyncio.to_thread(_scrape, server))
        assert math.isnan(_value(samples, "fedgate_adapter_channels"))
        assert math.isnan(_value(samples, "fedgate_event_loop_tasks"))
        assert _value(samples, "fedgate_audit_log_entries") == 0
    finally:
        await server.aclose()


async def test_a_started_gateway_reports_its_loop_tasks_and_adapter_channels(
    metered: tuple[Deployment, MetricsServer],
) -> None:
    """``GatewayServer.start`` points the gauges at its loop and its pool: six agencies, six channels."""
    _, server = metered
    samples = _samples(await asyncio.to_thread(_scrape, server))
    assert _value(samples, "fedgate_adapter_channels") == len(AGENCIES)
    assert _value(samples, "fedgate_event_loop_tasks") >= 1
