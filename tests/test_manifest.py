"""Manifest screening: each traveller a full audited lookup, streamed as it completes, within caps."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from fedgate.audit.entry import PendingEntry
from fedgate.audit.note import Signer
from fedgate.client import LookupClient
from fedgate.config import ConfigError, load_config
from fedgate.identity import PeerIdentity
from fedgate.model import AGENCIES
from fedgate.pki import PKILayout
from fedgate.policy.bundle import load_bundle
from fedgate.tls import channel_credentials, server_credentials
from fedgate.v1 import adapter_pb2, common_pb2, gateway_pb2
from gateway.audit_store import SQLAuditStore
from gateway.fanout import AdapterPool
from gateway.journal import AuditUnavailable, AuditWriter, Receipt
from gateway.manifest import ManifestLimits, ManifestScreener
from gateway.policy import FailClosedPolicy
from gateway.policy_rego import RegoPolicyEngine
from gateway.server import build_gateway_server
from gateway.validation import PurposeRegister
from tests.conftest import (
    AUDIT_ORIGIN,
    ROOT,
    TAG_KEY,
    TRUST_DOMAIN,
    Deployment,
    start_adapter,
    stop_deployment,
)
from tests.fakes import FakeAdapterService, start_fake_adapter
from tests.lookups import statuses, unknown_passport_request
from tests.test_config import _valid

#: Passport numbers starting with this are held by the gated Police adapter until released.
GATED = "GATE"
#: Guards every wait on the gateway so a broken cap fails the test instead of hanging it.
WAIT_S = 30


# --- Requests ------------------------------------------------------------------------------------


def _traveller(
    item_id: str, number: str, role: gateway_pb2.ManifestRole.ValueType = gateway_pb2.MANIFEST_ROLE_PASSENGER
) -> gateway_pb2.ManifestTraveller:
    passport = common_pb2.PassportNumber(number=number, issuing_country="NZL")
    return gateway_pb2.ManifestTraveller(
        item_id=item_id,
        role=role,
        subject=common_pb2.Subject(
            kind=common_pb2.SUBJECT_KIND_PERSON, identifiers=[common_pb2.Identifier(passport=passport)]
        ),
    )


def _manifest(travellers: Sequence[gateway_pb2.ManifestTraveller]) -> gateway_pb2.ScreenManifestRequest:
    return gateway_pb2.ScreenManifestRequest(
        manifest_reference="NZ103/2025-06-01",
        purpose="BORDER_RISK_ASSESSMENT",
        case_reference="CASE-1",
        officer_id="OFF-1",
        travellers=travellers,
    )


def _crew(prefix: str, count: int) -> list[gateway_pb2.ManifestTraveller]:
    """``count`` travellers no agency holds; ``prefix`` "GATEA" makes them wait at the gated adapter."""
    return [_traveller(f"{prefix}-{i}", f"{prefix}{i:04d}") for i in range(count)]


async def _screen(client: LookupClient, request: gateway_pb2.ScreenManifestRequest) -> list[Any]:
    return [r async for r in client.screen_manifest(request, timeout_s=WAIT_S)]


# --- A Police adapter that holds chosen subjects and counts calls in flight ----------------------


class GatedPolice(FakeAdapterService):
    """Police, answering no match; subjects whose passport starts with GATED wait for ``release()``.

    Counts calls in flight, overall and per group (the passport's fifth character), and the
    most ever seen at once: the gateway's manifest caps, seen from an adapter.
    """

    def __init__(self) -> None:
        super().__init__("police")
        self.gate = asyncio.Event()
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.total_most = 0
        self.cancelled = 0
        self.answered: list[str] = []

    def release(self) -> None:
        self.gate.set()

    @property
    def total(self) -> int:
        return sum(self.in_flight.values())

    async def Query(
        self, request: adapter_pb2.QueryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> adapter_pb2.QueryResponse:
        number = request.subject.identifiers[0].passport.number
        group = number[len(GATED)] if number.startswith(GATED) else ""
        self.in_flight[group] += 1
        self.most[group] = max(self.most[group], self.in_flight[group])
        self.total_most = max(self.total_most, self.total)
        try:
            if group:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight[group] -= 1
        self.answered.append(number)
        return adapter_pb2.QueryResponse(agency="police")


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition`` holds; the deadline guards against hanging, it asserts no speed."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.005)


# --- A deployment with manifest limits and chosen fakes -------------------------------------------


class _Harness:
    def __init__(self, pki: PKILayout, data_dir: Path, tmp_path: Path) -> None:
        self.pki, self.data_dir, self.tmp_path = pki, data_dir, tmp_path
        self.fakes: list[grpc.aio.Server] = []
        self.deployments: list[Deployment] = []

    async def deploy(
        self,
        *,
        limits: ManifestLimits | None = None,
        police: FakeAdapterService | None = None,
        audit_writer: Callable[[SQLAuditStore], AuditWriter] | None = None,
    ) -> Deployment:
        """``tests.conftest.start_deployment`` with ``manifest_limits`` (and Police faked if given)."""
        pki = self.pki
        addresses: dict[str, str] = {}
        if police is not None:
            server, addresses["police"] = await start_fake_adapter(pki, police)
            self.fakes.append(server)
        adapters = {}
        for agency in AGENCIES:
            if agency not in addresses:
                adapters[agency] = await start_adapter(pki, self.data_dir, agency)
                addresses[agency] = f"127.0.0.1:{adapters[agency].port}"
        signer = Signer.generate(AUDIT_ORIGIN)
        store = SQLAuditStore(
            f"sqlite:///{self.tmp_path / 'audit.sqlite'}", signer=signer, origin=AUDIT_ORIGIN
        )
        gw = pki.gateway
        gateway = build_gateway_server(
            listen="127.0.0.1:0",
            credentials=server_credentials(gw.cert, gw.key, pki.ca_cert),
            policy=FailClosedPolicy(RegoPolicyEngine(load_bundle(), engine="embedded")),
            adapters=AdapterPool(
                addresses, channel_credentials(pki.ca_cert, gw.cert, gw.key), trust_domain=TRUST_DOMAIN
            ),
            store=store,
            tag_key=TAG_KEY,
            audit_writer=audit_writer(store) if audit_writer else None,
            purposes=PurposeRegister.load(ROOT / "policies" / "purposes.yaml"),
            trust_domain=TRUST_DOMAIN,
            adapter_timeout_s=WAIT_S,  # a held call waits for release(), never for the clock
            manifest_limits=limits,
        )
        dep = Deployment(
            pki=pki, gateway=gateway, adapters=adapters, store=store, signer=signer, tag_key=TAG_KEY
        )
        self.deployments.append(dep)
        await gateway.start()
        return dep


@pytest.fixture
async def harness(pki: PKILayout, data_dir: Path, tmp_path: Path) -> AsyncIterator[_Harness]:
    h = _Harness(pki, data_dir, tmp_path)
    try:
        yield h
    finally:
        for dep in h.deployments:
            await stop_deployment(dep)
        for server in h.fakes:
            await server.stop(0)


def _receipts_in_log(dep: Deployment, lookup: gateway_pb2.LookupResponse) -> bool:
    leaves = dep.audit_leaves()
    return all(leaves.get(r.audit_receipt.log_index) == r.audit_receipt.leaf_hash for r in lookup.results)


# --- Streaming -----------------------------------------------------------------------------------


async def test_every_traveller_gets_an_audited_lookup(deployment: Deployment) -> None:
    """Each traveller's result is a full lookup: five agencies, each with a receipt that is in the log."""
    travellers = [*_crew("PAX", 5), _traveller("crew-1", "CRW0001", gateway_pb2.MANIFEST_ROLE_CREW)]
    async with deployment.client("customs") as client:
        results = await _screen(client, _manifest(travellers))
    assert sorted(r.item_id for r in results) == sorted(t.item_id for t in travellers)
    assert all(travellers[r.index].item_id == r.item_id for r in results)
    assert len({r.manifest_id for r in results}) == 1
    assert all(r.WhichOneof("outcome") == "lookup" for r in results)
    for r in results:
        assert r.lookup.requester_agency == "customs"
        assert len(r.lookup.results) == 5
        assert _receipts_in_log(deployment, r.lookup)
        assert statuses(r.lookup)["nzsis"] == "REFUSED"
    # Each traveller is its own lookup: its own request id, one entry per target agency.
    entries = deployment.audit_entries()
    assert len(entries) == 5 * len(travellers)
    per_request = Counter(e["request_id"] for e in entries)
    assert set(per_request) == {r.lookup.request_id for r in results}
    assert set(per_request.values()) == {5}
    assert {(e["case_reference"], e["officer_id"], e["purpose"]) for e in entries} == {
        ("CASE-1", "OFF-1", "BORDER_RISK_ASSESSMENT")
    }


async def test_results_stream_in_completion_order_not_manifest_order(harness: _Harness) -> None:
    """A first traveller held up at one agency arrives last; everyone after it is streamed before it."""
    police = GatedPolice()
    dep = await harness.deploy(police=police, limits=ManifestLimits(concurrency=2, max_in_flight=2))
    travellers = [_traveller("slow", f"{GATED}S0001"), *_crew("FAST", 5)]
    received: list[str] = []
    async with dep.client("customs") as client:
        async for result in client.screen_manifest(_manifest(travellers), timeout_s=WAIT_S):
            received.append(result.item_id)
            if len(received) == len(travellers) - 1:
                # Everyone else is through while the first traveller still waits at Police.
                assert police.in_flight["S"] == 1
                police.release()
    assert received[-1] == "slow"
    assert sorted(received[:-1]) == sorted(t.item_id for t in travellers[1:])


async def test_one_bad_traveller_gets_an_error_and_the_others_their_lookups(deployment: Deployment) -> None:
    """A malformed subject, a vessel, or a missing role fails that traveller only, naming the field."""
    bad_country = _traveller("bad-country", "BAD0001")
    bad_country.subject.identifiers[0].passport.issuing_country = "QQQ"
    vessel = _traveller("vessel", "BAD0002")
    vessel.subject.kind = common_pb2.SUBJECT_KIND_VESSEL
    no_role = _traveller("no-role", "BAD0003", gateway_pb2.MANIFEST_ROLE_UNSPECIFIED)
    good = _crew("OK", 3)
    request = _manifest([good[0], bad_country, good[1], vessel, no_role, good[2]])
    async with deployment.client("customs") as client:
        results = {r.item_id: r for r in await _screen(client, request)}
    assert len(results) == 6
    errors = {k: (r.error.code, r.error.field) for k, r in results.items() if r.HasField("error")}
    assert errors == {
        "bad-country": ("INVALID_ARGUMENT", "travellers[1].subject.identifiers[0].passport.issuing_country"),
        "vessel": ("INVALID_ARGUMENT", "travellers[3].subject.kind"),
        "no-role": ("INVALID_ARGUMENT", "travellers[4].role"),
    }
    assert "QQQ" not in results["bad-country"].error.message  # the rule, never the value
    for t in good:
        assert len(results[t.item_id].lookup.results) == 5
    assert len(deployment.audit_entries()) == 5 * len(good)  # bad travellers decided and audited nothing


def _long_manifest() -> gateway_pb2.ScreenManifestRequest:
    return _manifest(_crew("P", 1001))


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: _manifest([]), "travellers"),
        (_long_manifest, "travellers"),
        (
            lambda: _manifest([_traveller("a", "X1"), _traveller("b", "X2"), _traveller("a", "X3")]),
            "travellers[2].item_id",
        ),
        (lambda: _manifest([_traveller("", "X1")]), "travellers[0].item_id"),
        (lambda: _manifest([_traveller("Jane Citizen", "X1")]), "travellers[0].item_id"),
        (lambda: gateway_pb2.ScreenManifestRequest(travellers=[_traveller("a", "X1")]), "manifest_reference"),
    ],
    ids=["empty", "oversized", "repeated_item_id", "empty_item_id", "name_as_item_id", "no_shared_fields"],
)
async def test_whole_request_problems_refuse_the_manifest_before_any_lookup(
    harness: _Harness, build: Callable[[], gateway_pb2.ScreenManifestRequest], field: str
) -> None:
    """An empty or oversized manifest, repeated or malformed item ids: INVALID_ARGUMENT, nothing asked."""
    police = GatedPolice()
    dep = await harness.deploy(police=police)
    async with dep.client("customs") as client:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _screen(client, build())
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(info.value)[0] == field
    assert police.calls == []
    assert dep.store.size() == 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: setattr(r, "purpose", "FISHING_EXPEDITION"), "purpose"),
        (lambda r: setattr(r, "case_reference", ""), "case_reference"),
        (lambda r: setattr(r, "manifest_reference", "NZ103\u202e"), "manifest_reference"),
        (lambda r: r.agencies.extend(["police", "police"]), "agencies[1]"),
    ],
    ids=["unknown_purpose", "no_case_reference", "bidi_in_reference", "repeated_agency"],
)
async def test_bad_shared_field_refuses_the_manifest(
    deployment: Deployment, mutate: Callable[[gateway_pb2.ScreenManifestRequest], None], field: str
) -> None:
    """A shared field is checked once, by the lookup's rules, and refuses the whole manifest."""
    request = _manifest(_crew("P", 3))
    mutate(request)
    async with deployment.client("customs") as client:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _screen(client, request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(info.value)[0] == field
    assert deployment.store.size() == 0


def _violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]  # AioRpcError has the same accessors
    assert status is not None
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return fields


# --- Caps and fairness ---------------------------------------------------------------------------


async def test_per_manifest_and_gateway_wide_caps_are_never_exceeded(harness: _Harness) -> None:
    """Two manifests fill the gateway-wide cap between them and neither passes its own cap."""
    police = GatedPolice()
    dep = await harness.deploy(police=police, limits=ManifestLimits(concurrency=3, max_in_flight=4))
    async with dep.client("customs") as client:
        a = asyncio.create_task(_screen(client, _manifest(_crew(f"{GATED}A", 7))))
        b = asyncio.create_task(_screen(client, _manifest(_crew(f"{GATED}B", 7))))
        await _until(lambda: police.total == 4, "four travellers held at Police")
        # Saturated: both manifests are running, the gateway-wide cap holds the rest back.
        assert police.in_flight["A"] >= 1
        assert police.in_flight["B"] >= 1
        police.release()
        results = await asyncio.gather(a, b)
    assert [len(r) for r in results] == [7, 7]
    assert all(r.HasField("lookup") for manifest in results for r in manifest)
    assert police.total_most == 4  # the gateway-wide cap was reached and never passed
    assert police.most["A"] <= 3
    assert police.most["B"] <= 3
    assert max(police.most["A"], police.most["B"]) == 3  # each manifest's own cap applies too


async def test_single_lookup_is_not_queued_behind_manifests(harness: _Harness) -> None:
    """With every manifest slot of the gateway taken and more waiting, a Lookup is answered at once."""
    police = GatedPolice()
    dep = await harness.deploy(police=police, limits=ManifestLimits(concurrency=2, max_in_flight=4))
    async with dep.client("customs") as screener, dep.client("police") as other:
        manifests = [
            asyncio.create_task(_screen(screener, _manifest(_crew(f"{GATED}{g}", 4)))) for g in "ABC"
        ]
        await _until(lambda: police.total == 4, "four travellers held at Police")
        response = await other.lookup(unknown_passport_request(), timeout_s=WAIT_S)
        assert len(response.results) == 5
        assert not any(m.done() for m in manifests)  # the manifests are still held at Police
        assert police.total == 4
        police.release()
        done = await asyncio.gather(*manifests)
    assert [len(m) for m in done] == [4, 4, 4]


# --- Cancellation, audit failure, identity --------------------------------------------------------


def _manifest_tasks() -> list[asyncio.Task[Any]]:
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and "ManifestScreener" in getattr(t.get_coro(), "__qualname__", "")
    ]


async def test_cancelled_manifest_cancels_its_lookups_and_leaves_no_tasks(harness: _Harness) -> None:
    """A caller that goes away cancels every outstanding traveller lookup, down to the adapter calls."""
    police = GatedPolice()
    dep = await harness.deploy(police=police, limits=ManifestLimits(concurrency=3, max_in_flight=8))
    async with dep.client("customs") as client:
        stream = client.screen_manifest(_manifest(_crew(f"{GATED}A", 10)), timeout_s=WAIT_S)
        first: asyncio.Task[gateway_pb2.ScreenManifestResponse] = asyncio.ensure_future(anext(stream))
        await _until(lambda: police.in_flight["A"] == 3, "three travellers held at Police")
        assert _manifest_tasks()  # the screening's workers are running
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await stream.aclose()  # cancels the call
        await _until(lambda: police.total == 0, "the held Police calls ended")
        await _until(lambda: not _manifest_tasks(), "the screening's tasks ended")
    assert police.cancelled == 3  # the three held calls were cancelled, not released
    assert police.answered == []
    assert dep.store.size() == 0  # nobody reached the audit step: nothing was disclosed


class _Context:
    """A servicer context for driving ``ManifestScreener`` without gRPC."""

    def __init__(self) -> None:
        self.written: list[gateway_pb2.ScreenManifestResponse] = []

    async def write(self, message: gateway_pb2.ScreenManifestResponse) -> None:
        self.written.append(message)

    def time_remaining(self) -> float | None:
        return None

    async def abort_with_status(self, status: grpc.Status) -> None:
        raise AssertionError(f"aborted: {status.details}")


def _purposes() -> PurposeRegister:
    return PurposeRegister.load(ROOT / "policies" / "purposes.yaml")


async def test_cancelling_the_screening_cancels_each_lookup_and_returns_only_when_they_are_gone() -> None:
    """When the call is cancelled, every running lookup sees the cancellation before the call ends."""
    screener = ManifestScreener(ManifestLimits(concurrency=4, max_in_flight=4), _purposes())
    started: list[int] = []
    cancelled: list[int] = []
    gate = asyncio.Event()

    async def lookup(
        request: gateway_pb2.LookupRequest, context: Any, requester: str
    ) -> gateway_pb2.LookupResponse:
        started.append(1)
        try:
            await gate.wait()
        except asyncio.CancelledError:
            cancelled.append(1)
            raise
        return gateway_pb2.LookupResponse()

    call = asyncio.create_task(
        screener.screen(
            _manifest(_crew("P", 9)),
            cast(Any, _Context()),
            identify=lambda _: PeerIdentity("agency", "customs", "spiffe://x/agency/customs"),
            lookup=lookup,
        )
    )
    await _until(lambda: len(started) == 4, "four lookups started")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert len(cancelled) == 4  # already, not at some later collection
    assert not _manifest_tasks()


async def test_audit_failure_fails_that_traveller_and_discloses_nothing_for_it(harness: _Harness) -> None:
    """The audit store refusing one traveller's entries: UNAVAILABLE for it, full lookups for the rest."""

    class FailFirstAppend:
        def __init__(self, store: SQLAuditStore) -> None:
            self.store, self.failed = store, False

        async def append(self, pending: Sequence[PendingEntry]) -> list[Receipt]:
            if not self.failed:
                self.failed = True
                raise AuditUnavailable("audit append failed (OperationalError)")
            return self.store.append_batch(pending)

    dep = await harness.deploy(audit_writer=FailFirstAppend)
    travellers = _crew("P", 4)
    async with dep.client("customs") as client:
        results = await _screen(client, _manifest(travellers))
    failed = [r for r in results if r.HasField("error")]
    assert len(results) == 4
    assert len(failed) == 1
    assert failed[0].error.code == "UNAVAILABLE"
    assert failed[0].error.message == "audit store unavailable; nothing was disclosed"
    assert not failed[0].HasField("lookup")
    answered = [r for r in results if r.HasField("lookup")]
    assert all(len(r.lookup.results) == 5 and _receipts_in_log(dep, r.lookup) for r in answered)
    assert len(dep.audit_entries()) == 5 * 3


async def test_requester_is_the_certificates_agency(deployment: Deployment) -> None:
    """Screening as Police is decided and audited as Police; nothing in the request can say otherwise."""
    async with deployment.client("police") as client:
        results = await _screen(client, _manifest(_crew("P", 2)))
    assert {r.lookup.requester_agency for r in results} == {"police"}
    assert {e["requester_agency"] for e in deployment.audit_entries()} == {"police"}
    for message in (gateway_pb2.ScreenManifestRequest, gateway_pb2.ManifestTraveller):
        names = {f.name for f in message.DESCRIPTOR.fields}
        assert not names & {"requester", "requester_agency", "agency_id", "caller"}


async def test_auditor_certificate_cannot_screen(deployment: Deployment, pki: PKILayout) -> None:
    """A valid auditor certificate is refused before any lookup: screening is for agency systems."""
    paths = pki.auditor("oversight")
    async with LookupClient(deployment.address, ca=pki.ca_cert, cert=paths.cert, key=paths.key) as client:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _screen(client, _manifest(_crew("P", 2)))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert deployment.store.size() == 0


async def test_undecodable_manifest_body_is_invalid_argument(deployment: Deployment, pki: PKILayout) -> None:
    """A body that is not a ScreenManifestRequest (a corrupt wire format) is INVALID_ARGUMENT, like a
    malformed Lookup body, not UNKNOWN naming the parser's exception; nothing is looked up."""
    paths = pki.agency_client("customs")
    creds = channel_credentials(pki.ca_cert, paths.cert, paths.key)
    async with grpc.aio.secure_channel(deployment.address, creds) as channel:
        call: Any = channel.unary_stream("/fedgate.v1.FederatedLookupService/ScreenManifest")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in call(b"\x0a\xff\xff\xff\xff\x0f", timeout=10):
                pass
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "DecodeError" not in (info.value.details() or "")
    assert deployment.store.size() == 0


# --- Limits and configuration ---------------------------------------------------------------------


def test_manifest_limits_reject_a_per_manifest_cap_above_the_gateway_wide_one() -> None:
    """A manifest may never be allowed more than all manifests together, nor a cap below one."""
    with pytest.raises(ValueError, match="must not exceed"):
        ManifestLimits(concurrency=9, max_in_flight=8)
    with pytest.raises(ValueError, match="at least 1"):
        ManifestLimits(concurrency=0)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("manifest_concurrency = 0", r"gateway\.manifest_concurrency: must be 1\.\.256"),
        ("manifest_max_in_flight = 5000", r"gateway\.manifest_max_in_flight: must be 1\.\.4096"),
        ("manifest_concurrency = 16\nmanifest_max_in_flight = 8", r"must not exceed manifest_max_in_flight"),
        ("manifest_max_travellers = 0", r"gateway\.manifest_max_travellers: must be 1\.\.10000"),
        ("manifest_max_travellers = 'many'", r"must be a int"),
    ],
)
def test_manifest_config_is_validated(tmp_path: Path, lines: str, message: str) -> None:
    """Manifest caps out of range, or a per-manifest cap above the gateway-wide one, name the key."""
    path = tmp_path / "f.toml"
    path.write_text(
        _valid(tmp_path).replace("adapter_timeout_ms = 2000", f"adapter_timeout_ms = 2000\n{lines}")
    )
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_manifest_config_defaults_and_overrides(tmp_path: Path) -> None:
    """Without the keys the defaults hold (8 / 32 / 1000); the file and the environment set them."""
    path = tmp_path / "f.toml"
    text = _valid(tmp_path)
    path.write_text(text)
    gw = load_config(path, environ={}).gateway
    assert (gw.manifest_concurrency, gw.manifest_max_in_flight, gw.manifest_max_travellers) == (8, 32, 1000)
    assert ManifestLimits() == ManifestLimits(8, 32, 1000)
    path.write_text(
        text.replace("adapter_timeout_ms = 2000", "adapter_timeout_ms = 2000\nmanifest_concurrency = 4")
    )
    env: Mapping[str, str] = {"FEDGATE__GATEWAY__MANIFEST_MAX_TRAVELLERS": "400"}
    gw = load_config(path, environ=env).gateway
    assert (gw.manifest_concurrency, gw.manifest_max_travellers) == (4, 400)


def test_example_config_documents_the_manifest_keys() -> None:
    """docs/fedgate.example.toml names every manifest key, with the default the code uses."""
    text = (ROOT / "docs" / "fedgate.example.toml").read_text()
    for line in ("manifest_concurrency = 8", "manifest_max_in_flight = 32", "manifest_max_travellers = 1000"):
        assert line in text
