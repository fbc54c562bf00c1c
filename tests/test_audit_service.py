"""The audit log service over a real deployment: who may read what, and every proof checks out.

The gateway, the six adapters and the signed log are the ones of ``start_deployment``;
lookups go through the real lookup path, so the log holds what the gateway wrote. Every
answer of the service is checked with the trust core only (``open_checkpoint`` with the
log's public key, ``verify_inclusion``, ``verify_consistency``), never with the store's
own view of itself, except to say which entries exist. Callers present certificates of
the project's own PKI (auditor, agency, adapter, gateway), none, or another CA's.

Lookups (all by passport, about a person nobody holds, so each is audited per target):

- customs asks police and immigration;
- customs asks mpi;
- police asks immigration;
- mpi asks customs.

So mpi is the requester or target of some entries and neither of others.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from itertools import pairwise

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from fedgate.audit.checkpoint import Checkpoint, open_checkpoint
from fedgate.audit.entry import PendingEntry
from fedgate.audit.merkle import leaf_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion
from fedgate.model import AGENCIES
from fedgate.pki import CertPaths, PKILayout
from fedgate.tls import channel_credentials
from fedgate.v1 import audit_pb2, audit_pb2_grpc, common_pb2, gateway_pb2
from gateway.audit_service import MAX_ENTRIES_PER_CALL
from tests.conftest import AUDIT_ORIGIN, Deployment

#: (requester, target agencies) of the lookups every test starts from.
LOOKUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("customs", ("police", "immigration")),
    ("customs", ("mpi",)),
    ("police", ("immigration",)),
    ("mpi", ("customs",)),
)
UINT64_MAX = (1 << 64) - 1
CALL_TIMEOUT_S = 5  # bounds a hung call; never a speed assertion


def lookup_request(agencies: Sequence[str]) -> gateway_pb2.LookupRequest:
    return gateway_pb2.LookupRequest(
        subject=common_pb2.Subject(
            kind=common_pb2.SUBJECT_KIND_PERSON,
            identifiers=[
                common_pb2.Identifier(
                    passport=common_pb2.PassportNumber(number="ZZ0000001", issuing_country="NZL")
                )
            ],
        ),
        purpose="BORDER_RISK_ASSESSMENT",
        case_reference="CASE-1",
        officer_id="OFF-1",
        agencies=list(agencies),
    )


async def make_lookups(dep: Deployment) -> list[gateway_pb2.LookupResponse]:
    responses = []
    for requester, agencies in LOOKUPS:
        async with dep.client(requester) as client:
            responses.append(await client.lookup(lookup_request(agencies)))
    return responses


@pytest.fixture
async def logged(deployment: Deployment) -> Deployment:
    """The deployment after the lookups of ``LOOKUPS``: one audit entry per target agency."""
    await make_lookups(deployment)
    assert deployment.store.size() == sum(len(agencies) for _, agencies in LOOKUPS)
    return deployment


@pytest.fixture
async def auditor(deployment: Deployment) -> AsyncIterator[audit_pb2_grpc.AuditLogServiceAsyncStub]:
    async with audit_channel(deployment, deployment.pki.auditor("oversight")) as channel:
        yield audit_pb2_grpc.AuditLogServiceStub(channel)


def audit_channel(dep: Deployment, paths: CertPaths) -> grpc.aio.Channel:
    """An mTLS channel to the gateway presenting ``paths``, trusting the deployment's CA."""
    return grpc.aio.secure_channel(dep.address, channel_credentials(dep.pki.ca_cert, paths.cert, paths.key))


async def latest_checkpoint(stub: audit_pb2_grpc.AuditLogServiceAsyncStub, dep: Deployment) -> Checkpoint:
    """The service's latest checkpoint, opened with the log's public key."""
    response = await stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=CALL_TIMEOUT_S)
    checkpoint, _ = open_checkpoint(response.checkpoint, AUDIT_ORIGIN, [dep.signer.verifier()])
    assert checkpoint.size == response.tree_size
    return checkpoint


def violated_fields(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """The (field, description) pairs that the BadRequest details of an error name."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]  # AioRpcError has the same accessors
    assert status is not None
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [(v.field, v.description) for v in bad.field_violations]
    return fields


# -- checkpoints and entries ------------------------------------------------------------------


@pytest.mark.parametrize("reader", ["auditor", "agency"])
async def test_reader_gets_the_latest_checkpoint_signed_with_the_log_key(
    logged: Deployment, reader: str
) -> None:
    """Auditors and agencies get the newest checkpoint; it opens with the log key and covers every entry."""
    paths = logged.pki.auditor("oversight") if reader == "auditor" else logged.pki.agency_client("mpi")
    async with audit_channel(logged, paths) as channel:
        checkpoint = await latest_checkpoint(audit_pb2_grpc.AuditLogServiceStub(channel), logged)
    size = logged.store.size()
    assert checkpoint.size == size
    assert checkpoint.root_hash == root_from_leaf_hashes(logged.store.leaf_hashes(size))


async def test_auditor_gets_every_entry_in_the_range(
    logged: Deployment, auditor: audit_pb2_grpc.AuditLogServiceAsyncStub
) -> None:
    """GetEntries as an auditor returns each entry of [start, end), byte for byte, with its index."""
    size = logged.store.size()
    for start, end in ((0, size), (1, size - 1), (size - 1, size)):
        response = await auditor.GetEntries(
            audit_pb2.GetEntriesRequest(start=start, end=end), timeout=CALL_TIMEOUT_S
        )
        assert [e.index for e in response.entries] == list(range(start, end))
        assert [e.entry for e in response.entries] == logged.store.entries(start, end)


async def test_end_past_the_log_is_clamped_to_its_size(
    logged: Deployment, auditor: audit_pb2_grpc.AuditLogServiceAsyncStub
) -> None:
    """A range reaching past the log returns the entries there are (a follower polls this way)."""
    size = logged.store.size()
    response = await auditor.GetEntries(
        audit_pb2.GetEntriesRequest(start=2, end=UINT64_MAX), timeout=CALL_TIMEOUT_S
    )
    assert [e.index for e in response.entries] == list(range(2, size))


@pytest.mark.parametrize("agency", AGENCIES)
async def test_agency_gets_only_entries_it_requested_or_was_asked_in(logged: Deployment, agency: str) -> None:
    """An agency system sees exactly the entries naming it as requester or target; the others are omitted."""
    size = logged.store.size()
    async with audit_channel(logged, logged.pki.agency_client(agency)) as channel:
        stub = audit_pb2_grpc.AuditLogServiceStub(channel)
        response = await stub.GetEntries(
            audit_pb2.GetEntriesRequest(start=0, end=size), timeout=CALL_TIMEOUT_S
        )
    stored = logged.store.entries(0, size)
    expected = [
        index
        for index, data in enumerate(stored)
        if agency in (json.loads(data)["requester_agency"], json.loads(data)["target_agency"])
    ]
    assert [e.index for e in response.entries] == expected
    assert [e.entry for e in response.entries] == [stored[i] for i in expected]
    if agency == "mpi":  # the lookups were chosen so that this one is a strict, non-empty subset
        assert 0 < len(expected) < size
    if agency == "nzsis":  # never asked and never asking
        assert expected == []


# -- proofs -----------------------------------------------------------------------------------


async def test_every_inclusion_proof_of_the_current_tree_verifies(
    logged: Deployment, auditor: audit_pb2_grpc.AuditLogServiceAsyncStub
) -> None:
    """For each index of the latest checkpoint, the proof and leaf hash verify against its signed root."""
    checkpoint = await latest_checkpoint(auditor, logged)
    entries = logged.store.entries(0, checkpoint.size)
    for index in range(checkpoint.size):
        response = await auditor.GetInclusionProof(
            audit_pb2.GetInclusionProofRequest(index=index, tree_size=checkpoint.size), timeout=CALL_TIMEOUT_S
        )
        assert (response.index, response.tree_size) == (index, checkpoint.size)
        assert response.leaf_hash == leaf_hash(entries[index])
        verify_inclusion(
            leaf_hash(entries[index]), index, checkpoint.size, list(response.hashes), checkpoint.root_hash
        )


async def test_consistency_proofs_between_checkpoints_verify(
    logged: Deployment, auditor: audit_pb2_grpc.AuditLogServiceAsyncStub
) -> None:
    """The first stored checkpoint and every later one are proven prefixes of the latest, and of the next."""
    verifiers = [logged.signer.verifier()]
    stored = [open_checkpoint(note, AUDIT_ORIGIN, verifiers)[0] for _, note in logged.store.checkpoints()]
    latest = await latest_checkpoint(auditor, logged)
    assert len(stored) == len(LOOKUPS)  # one batch per lookup: the requests were sequential
    pairs = [(stored[0], latest), *pairwise(stored)]
    for old, new in pairs:
        response = await auditor.GetConsistencyProof(
            audit_pb2.GetConsistencyProofRequest(old_size=old.size, new_size=new.size), timeout=CALL_TIMEOUT_S
        )
        assert (response.old_size, response.new_size) == (old.size, new.size)
        verify_consistency(old.size, new.size, old.root_hash, new.root_hash, list(response.hashes))


async def test_lookup_receipt_has_an_inclusion_proof_that_verifies(deployment: Deployment) -> None:
    """With only the service and the log key, the requester proves each receipt is in the signed log."""
    (response, *_) = await make_lookups(deployment)
    async with audit_channel(deployment, deployment.pki.agency_client("customs")) as channel:
        stub = audit_pb2_grpc.AuditLogServiceStub(channel)
        checkpoint = await latest_checkpoint(stub, deployment)
        assert len(response.results) == len(LOOKUPS[0][1])
        for result in response.results:
            receipt = result.audit_receipt
            assert receipt.log_origin == checkpoint.origin
            proof = await stub.GetInclusionProof(
                audit_pb2.GetInclusionProofRequest(index=receipt.log_index, tree_size=checkpoint.size),
                timeout=CALL_TIMEOUT_S,
            )
            assert proof.leaf_hash == receipt.leaf_hash
            verify_inclusion(
                receipt.leaf_hash,
                receipt.log_index,
                checkpoint.size,
                list(proof.hashes),
                checkpoint.root_hash,
            )


# -- who may call ------------------------------------------------------------------------------


async def call_every_method(stub: audit_pb2_grpc.AuditLogServiceAsyncStub) -> list[grpc.StatusCode]:
    """The status code of one call of each method (OK if it answered)."""
    calls = (
        lambda: stub.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=CALL_TIMEOUT_S),
        lambda: stub.GetEntries(audit_pb2.GetEntriesRequest(start=0, end=1), timeout=CALL_TIMEOUT_S),
        lambda: stub.GetInclusionProof(
            audit_pb2.GetInclusionProofRequest(index=0, tree_size=1), timeout=CALL_TIMEOUT_S
        ),
        lambda: stub.GetConsistencyProof(
            audit_pb2.GetConsistencyProofRequest(old_size=1, new_size=1), timeout=CALL_TIMEOUT_S
        ),
    )
    codes = []
    for call in calls:
        try:
            await call()
        except grpc.aio.AioRpcError as error:
            codes.append(error.code())
        else:
            codes.append(grpc.StatusCode.OK)
    return codes


async def test_gateway_certificate_is_permission_denied(logged: Deployment) -> None:
    """An authenticated peer of another role is refused every method: the log is for auditors and agencies."""
    async with audit_channel(logged, logged.pki.gateway) as channel:
        codes = await call_every_method(audit_pb2_grpc.AuditLogServiceStub(channel))
    assert codes == [grpc.StatusCode.PERMISSION_DENIED] * 4


async def test_adapter_certificate_is_refused_before_the_service(logged: Deployment) -> None:
    """An adapter's certificate is for serving only (no clientAuth usage): the handshake refuses it."""
    async with audit_channel(logged, logged.pki.adapter_server("police")) as channel:
        codes = await call_every_method(audit_pb2_grpc.AuditLogServiceStub(channel))
    assert codes == [grpc.StatusCode.UNAVAILABLE] * 4


async def test_connection_without_a_client_certificate_is_unavailable(logged: Deployment) -> None:
    """A TLS client presenting no certificate never reaches the service."""
    creds = grpc.ssl_channel_credentials(root_certificates=logged.pki.ca_cert.read_bytes())
    async with grpc.aio.secure_channel(logged.address, creds) as channel:
        codes = await call_every_method(audit_pb2_grpc.AuditLogServiceStub(channel))
    assert codes == [grpc.StatusCode.UNAVAILABLE] * 4


async def test_auditor_certificate_from_another_ca_is_unavailable(
    logged: Deployment, other_pki: PKILayout
) -> None:
    """A certificate naming the same auditor, issued by a foreign CA, fails the handshake."""
    async with audit_channel(logged, other_pki.auditor("oversight")) as channel:
        codes = await call_every_method(audit_pb2_grpc.AuditLogServiceStub(channel))
    assert codes == [grpc.StatusCode.UNAVAILABLE] * 4


# -- bad requests -----------------------------------------------------------------------------


RangeRequest = (
    audit_pb2.GetEntriesRequest | audit_pb2.GetInclusionProofRequest | audit_pb2.GetConsistencyProofRequest
)


async def call(stub: audit_pb2_grpc.AuditLogServiceAsyncStub, request: RangeRequest) -> object:
    """Send ``request`` to the method that takes it."""
    if isinstance(request, audit_pb2.GetEntriesRequest):
        return await stub.GetEntries(request, timeout=CALL_TIMEOUT_S)
    if isinstance(request, audit_pb2.GetInclusionProofRequest):
        return await stub.GetInclusionProof(request, timeout=CALL_TIMEOUT_S)
    return await stub.GetConsistencyProof(request, timeout=CALL_TIMEOUT_S)


async def test_bad_ranges_are_invalid_argument_naming_the_field(
    logged: Deployment, auditor: audit_pb2_grpc.AuditLogServiceAsyncStub
) -> None:
    """Empty, reversed, out-of-log and oversized ranges: INVALID_ARGUMENT naming the field, never INTERNAL."""
    # More entries than one call may return, so that the per-call limit is reachable.
    bulk = [
        PendingEntry(
            {"kind": "policy_activation", "bundle_digest": f"sha256:{i:064x}", "activated_by": "test"}
        )
        for i in range(MAX_ENTRIES_PER_CALL)
    ]
    logged.store.append_batch(bulk)
    size = logged.store.size()
    assert size > MAX_ENTRIES_PER_CALL
    entries, inclusion, consistency = (
        audit_pb2.GetEntriesRequest,
        audit_pb2.GetInclusionProofRequest,
        audit_pb2.GetConsistencyProofRequest,
    )
    # Each case: the request and the field names an answer may give (the service names
    # old_size for any bad consistency range, saying in the description that new_size is
    # bounded too; naming new_size would be better, and is accepted).
    either = {"old_size", "new_size"}
    cases: list[tuple[RangeRequest, set[str]]] = [
        (entries(start=3, end=3), {"start"}),
        (entries(start=5, end=2), {"start"}),
        (entries(start=size, end=size + 5), {"start"}),
        (entries(start=UINT64_MAX, end=UINT64_MAX), {"start"}),
        (entries(start=0, end=MAX_ENTRIES_PER_CALL + 1), {"end"}),
        (inclusion(index=0, tree_size=0), {"tree_size"}),
        (inclusion(index=0, tree_size=size + 1), {"tree_size"}),
        (inclusion(index=0, tree_size=UINT64_MAX), {"tree_size"}),
        (inclusion(index=size - 1, tree_size=size - 1), {"index"}),
        (inclusion(index=UINT64_MAX, tree_size=1), {"index"}),
        (consistency(old_size=0, new_size=size), {"old_size"}),
        (consistency(old_size=3, new_size=2), either),
        (consistency(old_size=1, new_size=size + 1), either),
        (consistency(old_size=1, new_size=UINT64_MAX), either),
    ]
    problems = []
    for request, named in cases:
        label = f"{type(request).__name__}({request})".replace("\n", " ")
        try:
            await call(auditor, request)
        except grpc.aio.AioRpcError as error:
            fields = violated_fields(error)
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT or not {f for f, _ in fields} & named:
                problems.append(f"{label}: {error.code().name} {fields}")
        else:
            problems.append(f"{label}: answered")
    assert problems == []
    # The largest range one call may ask for is answered.
    response = await auditor.GetEntries(
        audit_pb2.GetEntriesRequest(start=0, end=MAX_ENTRIES_PER_CALL), timeout=CALL_TIMEOUT_S
    )
    assert len(response.entries) == MAX_ENTRIES_PER_CALL


async def test_empty_log_has_no_checkpoint_and_no_range(
    deployment: Deployment, auditor: audit_pb2_grpc.AuditLogServiceAsyncStub
) -> None:
    """Before any lookup: no checkpoint is UNAVAILABLE, and every range is INVALID_ARGUMENT."""
    assert deployment.store.size() == 0
    codes = await call_every_method(auditor)
    assert codes == [grpc.StatusCode.UNAVAILABLE] + [grpc.StatusCode.INVALID_ARGUMENT] * 3
