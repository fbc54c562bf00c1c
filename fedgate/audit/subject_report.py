"""The subject report: every disclosure and refusal entry about one subject, from a verified export.

An auditor holding the tag key computes a subject's tags (``subject_tags``: the same
``identifier_tag_inputs`` and ``subject_tag`` as the gateway) and scans the log for
every ``disclosure`` and ``refusal`` entry carrying any of them: who asked (agency,
officer, case), for what purpose, of which agency, with what outcome, which fields were
released under which legal basis, and whether the entry's evidence has been erased.

The report is complete by construction: ``subject_report`` first verifies the export
(``verify.verify_export_or_raise``: every entry is covered by a signed checkpoint, none
missing, reordered or changed) and raises ``VerificationError`` unless it verifies, so
the scan runs over exactly the entries the log's key signed, and over all of them.

**Matching is on exact normalised identifiers.** A tag is the HMAC of one normalised
identifier (``fedgate.audit.commitments``): case, spacing, diacritics and the order of
name words do not matter ("Nguyen Van" / "An" finds "An" / "Nguyen Van"), but a variant
spelling (Mohammed / Muhammad), a transposed day and month, another passport or a
middle name on one side only is a *different* tag. An entry made under a variant is
found only by asking for that variant too: query every identifier you know.

The report holds no personal data beyond what the log holds in clear (agencies,
officer ids, case references, field names); the subject's identifiers are never put
into it. No IO here.

Errors::

    Exception
     ├── verify.VerificationError   the export does not verify; nothing was scanned
     └── SubjectReportError         a verified entry's subject tags cannot be read, so
                                    the scan cannot be complete
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fedgate.audit.commitments import identifier_tag_inputs, subject_tag
from fedgate.audit.entry import parse_entry
from fedgate.audit.export import ExportContents
from fedgate.audit.verify import VerificationReport, verify_export_or_raise
from fedgate.model import Subject

__all__ = [
    "MATCHING_NOTE",
    "LegalBasis",
    "ReportedEntry",
    "SubjectReport",
    "SubjectReportError",
    "subject_report",
    "subject_tags",
]

#: Said in every report, table or JSON, so that nobody reads "no entries" as "never looked up".
MATCHING_NOTE = (
    "matching is on exact normalised identifiers (case, spacing, accents and name-word order "
    "ignored); a variant spelling, another date or another document is a different tag, so "
    "query every identifier you know"
)
_LOOKUP_KINDS = frozenset({"disclosure", "refusal"})


class SubjectReportError(Exception):
    """A verified entry cannot be scanned, so a report would not be complete; names the seq."""


def subject_tags(tag_key: bytes, subject: Subject) -> frozenset[str]:
    """The subject's tags as the gateway writes them: lower-case hex, one per normalised identifier."""
    return frozenset(subject_tag(tag_key, text).hex() for text in identifier_tag_inputs(subject))


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """One legal basis an entry cites: the MOU, its clause, and the statutes it rests on."""

    mou_id: str
    clause: str
    statute_refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReportedEntry:
    """What the report says about one entry; values are as logged (strings empty where absent)."""

    seq: int
    time: str
    kind: str
    request_id: str
    requester_agency: str
    officer_id: str
    case_reference: str
    purpose: str
    emergency: bool
    target_agency: str
    status: str
    released_records: int
    released_fields: Mapping[str, tuple[str, ...]]
    legal_basis: tuple[LegalBasis, ...]
    refusal_code: str | None
    #: Openings an ``erasure`` entry names, and the seqs of those erasure entries.
    erased_openings: tuple[str, ...] = ()
    erased_by: tuple[int, ...] = ()
    #: Openings the export still holds (for erased ones the verifier warned).
    openings_held: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "request_id": self.request_id,
            "requester_agency": self.requester_agency,
            "officer_id": self.officer_id,
            "case_reference": self.case_reference,
            "purpose": self.purpose,
            "emergency": self.emergency,
            "target_agency": self.target_agency,
            "status": self.status,
            "released": {
                "records": self.released_records,
                "fields": {category: list(names) for category, names in self.released_fields.items()},
            },
            "legal_basis": [
                {"mou_id": b.mou_id, "clause": b.clause, "statute_refs": list(b.statute_refs)}
                for b in self.legal_basis
            ],
            "refusal_code": self.refusal_code,
            "erased": {"openings": list(self.erased_openings), "by": list(self.erased_by)},
            "openings_held": list(self.openings_held),
        }


@dataclass(frozen=True)
class SubjectReport:
    """The entries carrying any of the subject's tags, in seq order, and the verification behind them."""

    verification: VerificationReport
    tags_searched: int
    entries: tuple[ReportedEntry, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """JSON-ready values (what ``fedgate audit subject-report --json`` prints)."""
        return {
            "ok": True,
            "exit_code": 0,
            "origin": self.verification.origin,
            "entries_scanned": self.verification.entries,
            "tags_searched": self.tags_searched,
            "matching": MATCHING_NOTE,
            "matches": len(self.entries),
            "entries": [entry.to_json() for entry in self.entries],
            "warnings": list(self.verification.warnings),
        }


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _released(entry: Mapping[str, Any]) -> tuple[int, dict[str, tuple[str, ...]]]:
    released = entry.get("released")
    if not isinstance(released, dict):
        return 0, {}
    records = released.get("records")
    fields = released.get("fields")
    by_category = {
        str(category): tuple(name for name in names if isinstance(name, str))
        for category, names in (fields.items() if isinstance(fields, dict) else ())
        if isinstance(names, list)
    }
    return (records if type(records) is int else 0), dict(sorted(by_category.items()))


def _legal_basis(entry: Mapping[str, Any]) -> tuple[LegalBasis, ...]:
    # One item per granted category in the log; the report lists each basis once.
    bases: dict[LegalBasis, None] = {}
    items = entry.get("legal_basis")
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            refs = item.get("statute_refs")
            statutes = tuple(ref for ref in refs if isinstance(ref, str)) if isinstance(refs, list) else ()
            bases[LegalBasis(_text(item.get("mou_id")), _text(item.get("clause")), statutes)] = None
    return tuple(sorted(bases, key=lambda b: (b.mou_id, b.clause, b.statute_refs)))


def _tags(seq: int, entry: Mapping[str, Any]) -> list[str]:
    subject = entry.get("subject")
    tags = subject.get("tags") if isinstance(subject, dict) else None
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise SubjectReportError(f"entry {seq} ({entry['kind']}) has no readable subject tags")
    return tags


def _reported(
    seq: int,
    entry: Mapping[str, Any],
    erasures: Mapping[int, Sequence[tuple[int, str]]],
    held: Mapping[int, Sequence[str]],
) -> ReportedEntry:
    records, fields = _released(entry)
    refusal_code = entry.get("refusal_code")
    erased = erasures.get(seq, ())
    return ReportedEntry(
        seq=seq,
        time=_text(entry.get("time")),
        kind=_text(entry.get("kind")),
        request_id=_text(entry.get("request_id")),
        requester_agency=_text(entry.get("requester_agency")),
        officer_id=_text(entry.get("officer_id")),
        case_reference=_text(entry.get("case_reference")),
        purpose=_text(entry.get("purpose")),
        emergency=entry.get("emergency") is True,
        target_agency=_text(entry.get("target_agency")),
        status=_text(entry.get("status")),
        released_records=records,
        released_fields=fields,
        legal_basis=_legal_basis(entry),
        refusal_code=refusal_code if isinstance(refusal_code, str) else None,
        erased_openings=tuple(sorted({name for _, name in erased})),
        erased_by=tuple(sorted({by for by, _ in erased})),
        openings_held=tuple(sorted(held.get(seq, ()))),
    )


def subject_report(contents: ExportContents, trusted_key: str, tags: Collection[str]) -> SubjectReport:
    """Verify ``contents`` against the log's first key, then report every entry carrying any of ``tags``.

    ``tags`` are lower-case hex (``subject_tags``). Raises ``verify.VerificationError``
    (with the verifier's report) unless the export verifies; ``note.MalformedKeyError``
    for a malformed ``trusted_key``; ``SubjectReportError`` if a disclosure or refusal
    entry has no readable tags. Matching is exact (see the module docstring).
    """
    verification = verify_export_or_raise(contents, trusted_key)
    wanted = frozenset(tags)
    # Every line verified, so every line parses; erasure entries always follow what they erase.
    matched: list[tuple[int, dict[str, Any]]] = []
    erasures: dict[int, list[tuple[int, str]]] = {}
    for seq, line in enumerate(contents.entries):
        entry = parse_entry(line)
        if entry["kind"] == "erasure":
            erases = entry["erases"]
            erasures.setdefault(erases["seq"], []).extend((seq, name) for name in erases["openings"])
        elif entry["kind"] in _LOOKUP_KINDS and not wanted.isdisjoint(_tags(seq, entry)):
            matched.append((seq, entry))
    held: dict[int, list[str]] = {}
    for row in contents.evidence:
        held.setdefault(row.seq, []).append(row.name)
    return SubjectReport(
        verification=verification,
        tags_searched=len(wanted),
        entries=tuple(_reported(seq, entry, erasures, held) for seq, entry in matched),
    )
