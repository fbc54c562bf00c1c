"""Lookup answers become audit entries with commitments, tags and openings, and nothing personal in clear."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from fedgate.audit.commitments import identifier_tag_inputs, subject_tag, verify_opening
from fedgate.audit.entry import format_time, parse_entry, sequenced_bytes
from fedgate.model import (
    AgencyStatus,
    MatchMethod,
    NameAndBirthDate,
    PassportNumber,
    Record,
    Subject,
    SubjectKind,
)
from fedgate.v1 import gateway_pb2
from gateway.answer import AgencyAnswer
from gateway.audit_entries import lookup_entries, released_records_bytes
from gateway.policy import AgencyPlan, CategoryGrant, LegalBasis, Plan, Refusal
from gateway.validation import LookupQuery

TAG_KEY = bytes(range(32))
SUBJECT = Subject(
    SubjectKind.PERSON,
    (
        PassportNumber("PAF448210", "ESP"),
        NameAndBirthDate("José", "Núñez García", "1979-03-14"),
    ),
)
QUERY = LookupQuery(
    subject=SUBJECT,
    purpose="BORDER_RISK_ASSESSMENT",
    case_reference="CASE-1",
    officer_id="OFF-1",
    justification="Tip-off naming José Núñez",
    agencies=(),
    categories=(),
    emergency=False,
)
GRANT = CategoryGrant(
    "warrant", ("warrant_type", "status"), LegalBasis("MOU-1", "3.2", ("Act s 1",), "FG-ALLOW-X")
)
PLAN = Plan(
    "decision-1",
    "sha256:abc",
    (AgencyPlan("police", (GRANT,)), AgencyPlan("nzsis", refusal=Refusal("C", "m"))),
)
RECORD = Record(
    "warrant", "W-7", {"warrant_type": "ARREST", "status": "ACTIVE"}, 0.9, MatchMethod.FUZZY_NAME_DOB
)


def _answers() -> list[AgencyAnswer]:
    police = AgencyAnswer("police", AgencyStatus.PARTIAL, records=[RECORD], plan=PLAN.agencies[0])
    police.withheld.append(
        gateway_pb2.WithheldField(category="warrant", record_id="W-8", field="offence", code="X")
    )
    police.withheld_silently.append(("police_alert", "FG-COVERT-FLAG"))
    nzsis = AgencyAnswer("nzsis", AgencyStatus.REFUSED, refusal=("C", "m"), plan=PLAN.agencies[1])
    return [police, nzsis]


def _entries() -> list[dict[str, object]]:
    pending = lookup_entries(
        request_id=uuid.uuid4().hex,
        requester="customs",
        query=QUERY,
        plan=PLAN,
        answers=_answers(),
        tag_key=TAG_KEY,
    )
    now = format_time(datetime.now(UTC))
    return [parse_entry(sequenced_bytes(p, i, now)) for i, p in enumerate(pending)]


def test_one_entry_per_agency_with_kind_by_outcome() -> None:
    """A disclosure entry for the agency that answered, a refusal entry for the one policy refused."""
    police, nzsis = _entries()
    assert (police["kind"], police["target_agency"], police["status"]) == ("disclosure", "police", "PARTIAL")
    assert (nzsis["kind"], nzsis["refusal_code"]) == ("refusal", "C")
    assert nzsis["released"] == {"records": 0, "fields": {}, "commitment": None}


def test_entries_hold_no_personal_data_in_clear() -> None:
    """Names, date of birth, passport number, justification text and released values appear nowhere."""
    pending = lookup_entries(
        request_id="r", requester="customs", query=QUERY, plan=PLAN, answers=_answers(), tag_key=TAG_KEY
    )
    text = b"".join(
        sequenced_bytes(p, i, "2026-01-01T00:00:00.000000Z") for i, p in enumerate(pending)
    ).decode()
    for value in (
        "PAF448210",
        "José",
        "Jose",
        "Núñez",
        "nunez",
        "1979-03-14",
        "Tip-off",
        "ARREST",
        "ACTIVE",
        "W-7",
    ):
        assert value.lower() not in text.lower(), value


def test_openings_verify_against_their_commitments() -> None:
    """The subject, released and justification openings reproduce the entry's commitments."""
    pending = lookup_entries(
        request_id="r", requester="customs", query=QUERY, plan=PLAN, answers=_answers(), tag_key=TAG_KEY
    )
    police = pending[0]
    body = police.body
    verify_opening(bytes.fromhex(body["subject"]["commitment"]), police.openings["subject"])
    verify_opening(bytes.fromhex(body["released"]["commitment"]), police.openings["released"])
    verify_opening(bytes.fromhex(body["justification"]["commitment"]), police.openings["justification"])
    assert json.loads(police.openings["subject"].value) == identifier_tag_inputs(SUBJECT)
    assert police.openings["released"].value == released_records_bytes([RECORD])
    assert set(pending[1].openings) == {"subject", "justification"}


def test_subject_tags_are_keyed_and_shared_but_commitments_are_salted() -> None:
    """Every entry of a lookup carries the same tags, while each commitment uses a fresh salt."""
    police, nzsis = _entries()
    expected = sorted(subject_tag(TAG_KEY, s).hex() for s in identifier_tag_inputs(SUBJECT))
    assert police["subject"]["tags"] == nzsis["subject"]["tags"] == expected  # type: ignore[index]
    assert police["subject"]["commitment"] != nzsis["subject"]["commitment"]  # type: ignore[index]
    other_key = lookup_entries(
        request_id="r", requester="customs", query=QUERY, plan=PLAN, answers=_answers()[:1], tag_key=bytes(32)
    )
    assert other_key[0].body["subject"]["tags"] != expected


def test_entry_records_names_codes_and_basis_for_oversight() -> None:
    """Field names released and withheld, silent withholdings, legal basis and policy digest are in clear."""
    police, _ = _entries()
    assert police["released"]["fields"] == {"warrant": ["status", "warrant_type"]}  # type: ignore[index]
    assert police["withheld"] == [{"category": "warrant", "field": "offence", "code": "X"}]
    assert police["withheld_silently"] == [{"category": "police_alert", "code": "FG-COVERT-FLAG"}]
    assert police["legal_basis"][0]["mou_id"] == "MOU-1"  # type: ignore[index]
    assert police["policy"] == {"bundle_digest": "sha256:abc", "decision_id": "decision-1"}
