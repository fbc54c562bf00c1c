"""End to end over real components: six adapters over SQLite, the gateway, mTLS, policy, audit log."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from fedgate.tls import channel_credentials, channel_options_for_adapter
from fedgate.v1 import common_pb2, gateway_pb2
from tests.conftest import Deployment


def _by_key(soi: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(s for s in soi if s["key"] == key)


def _passport(subject: dict[str, Any]) -> common_pb2.Subject:
    c = subject["canonical"]
    return common_pb2.Subject(
        kind=common_pb2.SUBJECT_KIND_PERSON,
        identifiers=[
            common_pb2.Identifier(
                passport=common_pb2.PassportNumber(
                    number=c["passport_number"], issuing_country=c["passport_country"]
                )
            )
        ],
    )


def _name(subject: dict[str, Any], agency_variant: str | None = None) -> common_pb2.Subject:
    c = subject["held_by"][agency_variant]["stored"] if agency_variant else subject["canonical"]
    return common_pb2.Subject(
        kind=common_pb2.SUBJECT_KIND_PERSON,
        identifiers=[
            common_pb2.Identifier(
                name_and_birth_date=common_pb2.NameAndBirthDate(
                    given_names=c["given_names"],
                    family_name=c["family_name"],
                    date_of_birth=c["date_of_birth"],
                )
            )
        ],
    )


def _request(
    subject: common_pb2.Subject, purpose: str = "BORDER_RISK_ASSESSMENT"
) -> gateway_pb2.LookupRequest:
    return gateway_pb2.LookupRequest(
        subject=subject, purpose=purpose, case_reference="CASE-9", officer_id="OFF-9"
    )


def _result(response: gateway_pb2.LookupResponse, agency: str) -> gateway_pb2.AgencyResult:
    return next(r for r in response.results if r.agency == agency)


def _entries(dep: Deployment) -> list[dict[str, Any]]:
    return dep.audit_entries()


async def test_passport_lookup_returns_ground_truth_records(
    deployment: Deployment, soi: list[dict[str, Any]]
) -> None:
    """A passport lookup finds exactly the records the generator put in each permitted agency."""
    subject = _by_key(soi, "soi-01")
    async with deployment.client("customs") as client:
        response = await client.lookup(_request(_passport(subject)))
    police = _result(response, "police")
    assert police.status == gateway_pb2.AGENCY_STATUS_DISCLOSED
    truth = subject["held_by"]["police"]["records"]
    got = {(r.category, r.record_id) for r in police.records}
    assert got == {(c, rid) for c, ids in truth.items() for rid in ids}
    assert {r.match.method for r in police.records} == {common_pb2.MATCH_METHOD_EXACT_IDENTIFIER}
    assert {b.mou_id for b in police.legal_bases} == {"SAMPLE-MOU-CUS-POL"}
    assert _result(response, "nzsis").status == gateway_pb2.AGENCY_STATUS_REFUSED
    assert response.requester_agency == "customs"
    assert "customs" not in {r.agency for r in response.results}


async def test_fuzzy_name_lookup_finds_swapped_dob_with_lower_confidence(
    deployment: Deployment, soi: list[dict[str, Any]]
) -> None:
    """A name+DOB lookup finds a record stored with day and month swapped, with confidence below 1."""
    subject = _by_key(soi, "soi-07")
    async with deployment.client("customs") as client:
        response = await client.lookup(_request(_name(subject)))
    police = _result(response, "police")
    assert police.status == gateway_pb2.AGENCY_STATUS_DISCLOSED
    assert {r.match.method for r in police.records} == {common_pb2.MATCH_METHOD_FUZZY_NAME_DOB}
    assert all(0.0 < r.match.confidence < 1.0 for r in police.records)


async def test_only_granted_fields_are_released(deployment: Deployment, soi: list[dict[str, Any]]) -> None:
    """Released records carry only allow-listed fields; decision-only fields like covert never leave."""
    async with deployment.client("customs") as client:
        response = await client.lookup(_request(_passport(_by_key(soi, "soi-01"))))
    alerts = [r for r in _result(response, "police").records if r.category == "police_alert"]
    assert alerts
    for record in alerts:
        assert {f.name for f in record.fields} <= {"alert_type", "raised_on", "active"}


async def test_covert_alert_is_not_even_hinted(deployment: Deployment, soi: list[dict[str, Any]]) -> None:
    """The covert operation's subject looks to Customs like no Police match; the audit entry records it."""
    subject = _by_key(soi, "soi-08")
    assert "police" in subject["held_by"]
    async with deployment.client("customs") as client:
        response = await client.lookup(_request(_passport(subject)))
    police = _result(response, "police")
    assert police.status in (gateway_pb2.AGENCY_STATUS_NO_MATCH, gateway_pb2.AGENCY_STATUS_DISCLOSED)
    assert not any(w.code == "FG-LAW-COVERT" for w in police.withheld)
    assert "covert" not in str(response).lower()
    entry = next(e for e in _entries(deployment) if e["target_agency"] == "police")
    assert {"category": "police_alert", "code": "FG-LAW-COVERT"} in entry["withheld_silently"]


async def test_refer_only_intelligence_flag_reveals_nothing_but_referral(
    deployment: Deployment, soi: list[dict[str, Any]]
) -> None:
    """For national security NZSIS answers PARTIAL: whole records withheld, refer to agency, no fields."""
    async with deployment.client("customs") as client:
        response = await client.lookup(_request(_name(_by_key(soi, "soi-02")), "NATIONAL_SECURITY"))
    nzsis = _result(response, "nzsis")
    assert nzsis.status == gateway_pb2.AGENCY_STATUS_PARTIAL
    assert not nzsis.records
    assert nzsis.withheld
    assert all(w.refer_to_agency and not w.field and not w.record_id for w in nzsis.withheld)


async def test_every_agency_asked_gets_one_audit_entry_with_receipt(
    deployment: Deployment, soi: list[dict[str, Any]]
) -> None:
    """Each per-agency result carries a distinct receipt whose leaf hash is the log's leaf hash."""
    async with deployment.client("customs") as client:
        response = await client.lookup(_request(_passport(_by_key(soi, "soi-01"))))
    stored = deployment.audit_leaves()
    receipts = [(r.audit_receipt.log_index, r.audit_receipt.leaf_hash) for r in response.results]
    assert len({i for i, _ in receipts}) == len(response.results) == 5
    for index, leaf in receipts:
        assert stored[index] == leaf
    kinds = {e["target_agency"]: e["kind"] for e in _entries(deployment)}
    assert kinds["nzsis"] == "refusal"
    assert kinds["police"] == "disclosure"


async def test_audit_entries_hold_no_personal_data(deployment: Deployment, soi: list[dict[str, Any]]) -> None:
    """No name, date of birth or passport number of the subject appears in any audit entry."""
    subject = _by_key(soi, "soi-01")
    async with deployment.client("customs") as client:
        await client.lookup(_request(_passport(subject)))
        await client.lookup(_request(_name(subject)))
    raw = b"".join(deployment.store.entries(0, deployment.store.size())).decode()
    c = subject["canonical"]
    for value in (c["passport_number"], c["family_name"], c["given_names"], c["date_of_birth"]):
        assert value not in raw


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.ClearField("subject"), "subject"),
        (lambda r: setattr(r, "purpose", "FISHING_EXPEDITION"), "purpose"),
        (
            lambda r: r.subject.identifiers[0].passport.__setattr__("issuing_country", "QQQ"),
            "subject.identifiers[0].passport.issuing_country",
        ),
        (
            lambda r: r.subject.identifiers[0].passport.__setattr__("number", "AB'; DROP TABLE x;--"),
            "subject.identifiers[0].passport.number",
        ),
        (lambda r: setattr(r, "officer_id", "x" * 10_000), "officer_id"),
        (lambda r: r.agencies.extend(["customs", "customs"]), "agencies[1]"),
        (
            lambda r: [
                r.subject.identifiers.add().imo_number.__setattr__("number", str(9074729)) for _ in range(20)
            ],
            "subject.identifiers",
        ),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(
    deployment: Deployment, soi: list[dict[str, Any]], mutate: Any, field: str
) -> None:
    """Malformed requests get INVALID_ARGUMENT with a BadRequest naming the field; nothing is audited."""
    request = _request(_passport(_by_key(soi, "soi-01")))
    mutate(request)
    async with deployment.client("customs") as client:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await client.lookup(request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(info.value)  # type: ignore[arg-type]  # AioRpcError has the same accessors
    assert status is not None
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [v.field for v in bad.field_violations]
    assert violations
    assert violations[0].startswith(field)
    assert deployment.store.size() == 0


async def test_gateway_and_adapters_serve_health_and_reflection(deployment: Deployment) -> None:
    """Health says SERVING and reflection lists the service, on the gateway and on every adapter."""
    pki = deployment.pki
    gw = pki.gateway
    creds = channel_credentials(pki.ca_cert, gw.cert, gw.key)
    targets: list[tuple[str, list[tuple[str, Any]], str]] = [
        (deployment.address, [], "fedgate.v1.FederatedLookupService")
    ] + [
        (f"127.0.0.1:{s.port}", channel_options_for_adapter(a), "fedgate.v1.AgencyAdapterService")
        for a, s in deployment.adapters.items()
    ]
    for address, options, service in targets:
        async with grpc.aio.secure_channel(address, creds, options=options) as channel:
            health: Any = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            stub: Any = reflection_pb2_grpc.ServerReflectionStub(channel)  # type: ignore[arg-type]  # aio channel works
            names: set[str] = set()
            async for answer in stub.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            ):
                names |= {s.name for s in answer.list_services_response.service}
            assert service in names
            assert "grpc.health.v1.Health" in names
