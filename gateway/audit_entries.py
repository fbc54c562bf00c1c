"""Turn one lookup's per-agency answers into audit log entries (``docs/audit-log.md``).

One entry per target agency, refusals included. Personal data never enters an
entry in clear: the subject's normalised identifiers, the released records and
the justification are *committed* (salted SHA-256) and the openings returned
for the evidence store; the subject also gets keyed tags so an auditor holding
the tag key can find every entry about a person. Field *names*, decision codes,
legal basis and policy digest are in clear: they are what oversight reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fedgate.audit.canonical import canonical_bytes
from fedgate.audit.commitments import Opening, commit, identifier_tag_inputs, subject_tag
from fedgate.audit.entry import PendingEntry
from fedgate.model import AgencyStatus, Record
from gateway.answer import AgencyAnswer
from gateway.policy import Plan
from gateway.validation import LookupQuery

__all__ = ["CONFIDENCE_SCALE", "lookup_entries", "released_records_bytes"]

#: Match confidence is logged as an integer in 1/10000 (canonical JSON carries no floats).
CONFIDENCE_SCALE = 10_000


def released_records_bytes(records: Sequence[Record]) -> bytes:
    """The canonical bytes committed to for the records released to the requester."""
    return canonical_bytes(
        [
            {
                "category": r.category,
                "record_id": r.record_id,
                "fields": dict(r.fields),
                "confidence": round(r.confidence * CONFIDENCE_SCALE),
                "method": r.method.value,
            }
            for r in records
        ]
    )


def _released_fields(records: Sequence[Record]) -> dict[str, list[str]]:
    names: dict[str, set[str]] = {}
    for r in records:
        names.setdefault(r.category, set()).update(r.fields)
    return {category: sorted(fields) for category, fields in sorted(names.items())}


def lookup_entries(
    *,
    request_id: str,
    requester: str,
    query: LookupQuery,
    plan: Plan,
    answers: Sequence[AgencyAnswer],
    tag_key: bytes,
) -> list[PendingEntry]:
    """One pending entry (with its openings) per agency answer, in answer order."""
    identifiers = identifier_tag_inputs(query.subject)
    subject_value = canonical_bytes(identifiers)
    tags = sorted({subject_tag(tag_key, s).hex() for s in identifiers})
    identifier_kinds = sorted({i.kind for i in query.subject.identifiers})
    entries = []
    for answer in answers:
        openings: dict[str, Opening] = {}
        subject_commitment, openings["subject"] = commit(subject_value)
        released_commitment = None
        if answer.records:
            released_commitment, openings["released"] = commit(released_records_bytes(answer.records))
        justification = None
        if query.justification:
            justification_commitment, openings["justification"] = commit(query.justification.encode())
            justification = {"commitment": justification_commitment.hex()}
        grants = answer.plan.grants if answer.plan else ()
        body: dict[str, Any] = {
            "kind": "refusal" if answer.status is AgencyStatus.REFUSED else "disclosure",
            "request_id": request_id,
            "requester_agency": requester,
            "officer_id": query.officer_id,
            "case_reference": query.case_reference,
            "purpose": query.purpose,
            "emergency": query.emergency,
            "target_agency": answer.agency,
            "status": answer.status.value,
            "subject": {
                "kind": query.subject.kind.value,
                "identifier_kinds": identifier_kinds,
                "commitment": subject_commitment.hex(),
                "tags": tags,
            },
            "justification": justification,
            "released": {
                "records": len(answer.records),
                "fields": _released_fields(answer.records),
                "commitment": released_commitment.hex() if released_commitment else None,
            },
            "withheld": [{"category": w.category, "field": w.field, "code": w.code} for w in answer.withheld],
            "withheld_silently": [{"category": c, "code": code} for c, code in answer.withheld_silently],
            "legal_basis": [
                {
                    "mou_id": b.mou_id,
                    "clause": b.clause,
                    "statute_refs": list(b.statute_refs),
                    "decision_code": b.decision_code,
                    "category": g.category,
                }
                for g in grants
                for b in g.bases
            ],
            "policy": {"bundle_digest": plan.bundle_digest, "decision_id": plan.decision_id},
            "refusal_code": answer.refusal[0] if answer.refusal else None,
        }
        entries.append(PendingEntry(body=body, openings=openings))
    return entries
