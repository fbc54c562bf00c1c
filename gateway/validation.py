"""Validation of a ``LookupRequest`` into a normalised ``LookupQuery``, and the purpose register.

``validate_lookup`` is the gateway's one check of what a caller sent. It
accepts a request or raises ``InvalidArgument`` naming the first problem: the
field path (``subject.identifiers[2].passport.issuing_country``) and the rule
broken, never the value, which may be personal data. Fields are checked in
field-number order (subject, purpose, case_reference, officer_id,
justification, agencies, categories, emergency), repeated fields by index and
an identifier's parts in their field order, so the same request always gets the
same answer. Purpose codes and agency names may be listed as valid choices;
they are not personal data.

Every string is first checked to be text at all (no NUL, no lone surrogate).
Case is folded only after a value is known to be ASCII, because Python folds
some non-ASCII letters into ASCII ones (``"ı".upper() == "I"``,
``"ﬁ".upper() == "FI"``), and digits are matched as ``[0-9]`` because
``str.isdigit`` and ``\\d`` accept Arabic-Indic and fullwidth digits.

``validate_manifest`` checks what a ``ScreenManifestRequest``'s travellers
share (the same fields, by the same rules, as a lookup's) and the travellers'
count and item ids; ``traveller_lookup`` checks one traveller's role and
subject kind and makes its ``LookupRequest``, which then goes through
``validate_lookup`` like any other, so a traveller is held to exactly the rules
of a single lookup.

Left out: whether the caller may ask (policy), whether the officer exists, and
anything about agencies' answers. No IO except ``PurposeRegister.load``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType

from fedgate.convert import subject_kind_from_proto
from fedgate.countries import TRAVEL_DOCUMENT_STATES
from fedgate.model import (
    AGENCIES,
    NZBN,
    CallSign,
    ConsignmentId,
    CustomsClientCode,
    Identifier,
    ImoNumber,
    NameAndBirthDate,
    OrganisationName,
    PassportNumber,
    Subject,
    SubjectKind,
)
from fedgate.policy.purposes import DEFAULT_PURPOSES_PATH, Purpose, PurposeRegister, PurposeRegisterError
from fedgate.v1 import common_pb2, gateway_pb2
from gateway.errors import InvalidArgument

__all__ = [
    "ALLOWED_IDENTIFIERS",
    "DEFAULT_PURPOSES_PATH",
    "MAX_AGENCIES",
    "MAX_CATEGORIES",
    "MAX_ITEM_ID_LENGTH",
    "MAX_JUSTIFICATION_LENGTH",
    "MAX_MANIFEST_REFERENCE_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_ORG_NAME_LENGTH",
    "MAX_REFERENCE_LENGTH",
    "MAX_SUBJECT_IDENTIFIERS",
    "MIN_BIRTH_YEAR",
    "LookupQuery",
    "ManifestQuery",
    "Purpose",
    "PurposeRegister",
    "PurposeRegisterError",
    "traveller_lookup",
    "validate_lookup",
    "validate_manifest",
]

MAX_SUBJECT_IDENTIFIERS = 16  # bounds adapter fan-out and matching cost of one lookup
MAX_NAME_LENGTH = 100  # per name part; well above ICAO 9303's 39-character MRZ name field
MAX_ORG_NAME_LENGTH = 200  # generous for registered and trading names; bounds fuzzy-matching cost
MAX_REFERENCE_LENGTH = 64  # case references and officer ids are keys, not prose; bounds audit rows
MAX_JUSTIFICATION_LENGTH = 1000  # a paragraph for the audit trail, not a case file
MAX_AGENCIES = len(AGENCIES)  # one entry per agency; more can only be duplicates
MAX_CATEGORIES = 64  # bounds policy evaluation per agency
MIN_BIRTH_YEAR = 1900  # nobody alive was born earlier; earlier years are typing errors
MAX_MANIFEST_REFERENCE_LENGTH = 64  # a flight or voyage designator and date, not prose
MAX_ITEM_ID_LENGTH = 64  # a caller's correlation key, echoed in every traveller's response

#: Which identifier kinds describe which kind of subject (``oneof`` member names).
ALLOWED_IDENTIFIERS: Mapping[SubjectKind, frozenset[str]] = MappingProxyType(
    {
        SubjectKind.PERSON: frozenset({"passport", "name_and_birth_date"}),
        SubjectKind.VESSEL: frozenset({"imo_number", "call_sign"}),
        SubjectKind.CONSIGNMENT: frozenset({"consignment_id"}),
        SubjectKind.ORGANISATION: frozenset({"customs_client_code", "nzbn", "organisation_name"}),
    }
)

#: The purpose register shipped with the gateway.

# Document numbers and codes: ASCII letters and digits only, after upper-casing.
_PASSPORT_NUMBER = re.compile(r"[A-Z0-9]{1,20}")  # ICAO 9303 allows 9 in the MRZ; some states use more
_CALL_SIGN = re.compile(r"[A-Z0-9]{3,7}")  # length only; ITU RR Art. 19 prefixes are not checked
_CONSIGNMENT_ID = re.compile(r"[A-Z0-9]{1,35}")  # UN/EDIFACT document number length, an..35
_CUSTOMS_CLIENT_CODE = re.compile(r"[A-Z0-9]{1,20}")  # format unverified (DOMAIN.md §4); kept loose
_COUNTRY = re.compile(r"[A-Z]{3}")
_IMO_NUMBER = re.compile(r"(?:IMO ?)?([0-9]{7})")
_NZBN = re.compile(r"[0-9]{13}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.:-]*")
_CATEGORY = re.compile(r"[a-z][a-z0-9_]{0,63}")
_PURPOSE_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_MANIFEST_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 /_.:-]*")  # "NZ 103/2025-06-01"

# Characters a person's name may hold besides letters and combining marks.
_NAME_PUNCTUATION = frozenset(" -'’.")
# Characters no free text may hold: they hide or reorder text in audit logs and
# terminals (bidirectional overrides, as in "Trojan Source", CVE-2021-42574).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters, surrogates, and line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})

_LATEST_UTC_OFFSET = timezone(timedelta(hours=14))  # Kiribati's Line Islands: the world's first "today"


@dataclass(frozen=True, slots=True)
class LookupQuery:
    """A validated, normalised lookup: what the rest of the gateway works on."""

    subject: Subject
    purpose: str
    case_reference: str
    officer_id: str
    justification: str
    agencies: tuple[str, ...]  # lower-case, each in AGENCIES, no repeats; empty means all permitted
    categories: tuple[str, ...]  # no repeats; empty means all permitted
    emergency: bool


def validate_lookup(
    request: gateway_pb2.LookupRequest, purposes: PurposeRegister, *, today: date | None = None
) -> LookupQuery:
    """Check ``request`` and return it normalised; ``InvalidArgument`` names the first problem.

    ``today`` is for tests; by default it is the latest date anywhere on
    Earth, so someone born today in Auckland is never "born in the future".
    """
    if today is None:
        today = datetime.now(_LATEST_UTC_OFFSET).date()
    subject = _subject(request, today)
    purpose = _purpose(request.purpose, purposes)
    case_reference = _reference(request.case_reference, "case_reference")
    officer_id = _reference(request.officer_id, "officer_id")
    justification = _justification(request.justification)
    agencies = _agencies(request.agencies)
    categories = _categories(request.categories)
    emergency = bool(request.emergency)
    if purposes[purpose].emergency_only and not emergency:
        raise InvalidArgument("emergency", f"must be set for the emergency-only purpose {purpose}")
    return LookupQuery(
        subject=subject,
        purpose=purpose,
        case_reference=case_reference,
        officer_id=officer_id,
        justification=justification,
        agencies=agencies,
        categories=categories,
        emergency=emergency,
    )


@dataclass(frozen=True, slots=True)
class ManifestQuery:
    """A validated manifest's shared part; its travellers' subjects are checked one by one."""

    manifest_reference: str
    purpose: str
    item_ids: tuple[str, ...]  # in manifest order, unique


def validate_manifest(
    request: gateway_pb2.ScreenManifestRequest, purposes: PurposeRegister, *, max_travellers: int
) -> ManifestQuery:
    """Check what ``request``'s travellers share, and their count and item ids.

    Field-number order, like ``validate_lookup``: the shared fields by the same
    rules as a lookup's, then ``travellers`` (1..``max_travellers``) and each
    ``item_id`` (a key, unique in the manifest). Subjects and roles are not
    checked here: a bad one is that traveller's error, not the manifest's.
    """
    reference = _manifest_reference(request.manifest_reference)
    purpose = _purpose(request.purpose, purposes)
    _reference(request.case_reference, "case_reference")
    _reference(request.officer_id, "officer_id")
    _justification(request.justification)
    _agencies(request.agencies)
    _categories(request.categories)
    if purposes[purpose].emergency_only and not request.emergency:
        raise InvalidArgument("emergency", f"must be set for the emergency-only purpose {purpose}")
    if not request.travellers:
        raise InvalidArgument("travellers", "must hold at least one traveller")
    if len(request.travellers) > max_travellers:
        raise InvalidArgument("travellers", f"must hold at most {max_travellers} travellers")
    first_index: dict[str, int] = {}
    for index, traveller in enumerate(request.travellers):
        path = f"travellers[{index}].item_id"
        item_id = _text(traveller.item_id, path)
        if not item_id:
            raise InvalidArgument(path, "is required")
        if len(item_id) > MAX_ITEM_ID_LENGTH:
            raise InvalidArgument(path, f"must be at most {MAX_ITEM_ID_LENGTH} characters")
        if not item_id.isascii() or not _REFERENCE.fullmatch(item_id):
            raise InvalidArgument(path, "must be A-Z, a-z, 0-9 and / _ . : - starting with a letter or digit")
        if item_id in first_index:
            raise InvalidArgument(path, f"repeats travellers[{first_index[item_id]}].item_id")
        first_index[item_id] = index
    return ManifestQuery(manifest_reference=reference, purpose=purpose, item_ids=tuple(first_index))


def traveller_lookup(request: gateway_pb2.ScreenManifestRequest, index: int) -> gateway_pb2.LookupRequest:
    """The lookup of ``request.travellers[index]``: its subject with the manifest's shared fields.

    ``InvalidArgument`` (paths under ``travellers[index]``) for a subject
    that is not a person, or a role other than passenger or crew; the subject
    itself is left to ``validate_lookup``, which checks it as for any lookup.
    """
    traveller = request.travellers[index]
    path = f"travellers[{index}]"
    if traveller.HasField("subject") and traveller.subject.kind != common_pb2.SUBJECT_KIND_PERSON:
        raise InvalidArgument(f"{path}.subject.kind", "must be PERSON: a manifest lists people")
    if traveller.role not in (gateway_pb2.MANIFEST_ROLE_PASSENGER, gateway_pb2.MANIFEST_ROLE_CREW):
        raise InvalidArgument(f"{path}.role", "must be PASSENGER or CREW")
    lookup = gateway_pb2.LookupRequest(
        purpose=request.purpose,
        case_reference=request.case_reference,
        officer_id=request.officer_id,
        justification=request.justification,
        agencies=request.agencies,
        categories=request.categories,
        emergency=request.emergency,
    )
    if traveller.HasField("subject"):
        lookup.subject.CopyFrom(traveller.subject)
    return lookup


# --- Text primitives -------------------------------------------------------------------------------


def _text(value: object, path: str) -> str:
    # Protobuf's Python runtime already refuses invalid UTF-8 and lone
    # surrogates; this is the backstop for anything built another way.
    if not isinstance(value, str):
        raise InvalidArgument(path, "must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(path, "must be valid Unicode text (no lone surrogates)") from None
    if "\x00" in value:
        raise InvalidArgument(path, "must not contain NUL characters")
    return value


def _code(raw: str, path: str, pattern: re.Pattern[str], rule: str, *, compact: bool = False) -> str:
    """An ASCII code, upper-cased; ``compact`` drops spaces and hyphens first."""
    value = _text(raw, path).strip()
    if compact:
        value = value.replace(" ", "").replace("-", "")
    if not value:
        raise InvalidArgument(path, "is required")
    if not value.isascii():
        raise InvalidArgument(path, rule)
    value = value.upper()
    if not pattern.fullmatch(value):
        raise InvalidArgument(path, rule)
    return value


def _is_unsafe(char: str) -> bool:
    return unicodedata.category(char) in _UNSAFE_CATEGORIES or char in _BIDI_CONTROLS


def _country(raw: str, path: str, *, required: bool) -> str:
    value = _text(raw, path).strip()
    if not value and not required:
        return ""
    code = _code(value, path, _COUNTRY, "must be a 3-letter ISO 3166-1 alpha-3 or ICAO 9303 code")
    if code not in TRAVEL_DOCUMENT_STATES:
        raise InvalidArgument(path, "is not an ISO 3166-1 alpha-3 or ICAO 9303 code")
    return code


def _person_name(raw: str, path: str, *, required: bool) -> str:
    # Names in any script; punctuation limited to what names use. Runs of
    # spaces collapse to one so that "Mary  Jane" and "Mary Jane" are equal.
    value = unicodedata.normalize("NFC", _text(raw, path))
    value = " ".join(part for part in value.split(" ") if part)
    if not value:
        if required:
            raise InvalidArgument(path, "is required")
        return ""
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidArgument(path, f"must be at most {MAX_NAME_LENGTH} characters")
    for char in value:
        if char not in _NAME_PUNCTUATION and unicodedata.category(char)[0] not in "LM":
            raise InvalidArgument(path, "may hold only letters, spaces, hyphens, apostrophes and full stops")
    if not any(unicodedata.category(char)[0] == "L" for char in value):
        raise InvalidArgument(path, "must contain a letter")
    return value


# --- Subject ---------------------------------------------------------------------------------------


def _subject(request: gateway_pb2.LookupRequest, today: date) -> Subject:
    if not request.HasField("subject"):
        raise InvalidArgument("subject", "is required")
    message = request.subject
    try:
        kind = subject_kind_from_proto(message.kind)
    except ValueError:
        raise InvalidArgument("subject.kind", "must be PERSON, VESSEL, CONSIGNMENT or ORGANISATION") from None
    if not message.identifiers:
        raise InvalidArgument("subject.identifiers", "must hold at least one identifier")
    if len(message.identifiers) > MAX_SUBJECT_IDENTIFIERS:
        raise InvalidArgument(
            "subject.identifiers", f"must hold at most {MAX_SUBJECT_IDENTIFIERS} identifiers"
        )
    allowed = ALLOWED_IDENTIFIERS[kind]
    identifiers: list[Identifier] = []
    first_index: dict[Identifier, int] = {}
    for index, message_identifier in enumerate(message.identifiers):
        path = f"subject.identifiers[{index}]"
        which = message_identifier.WhichOneof("value")
        if which is None:
            raise InvalidArgument(path, "must have one identifier kind set")
        if which not in allowed:
            raise InvalidArgument(
                f"{path}.{which}",
                f"is not allowed for a {kind.value} subject; allowed: {', '.join(sorted(allowed))}",
            )
        identifier = _identifier(message_identifier, which, f"{path}.{which}", today)
        if identifier in first_index:
            raise InvalidArgument(path, f"repeats subject.identifiers[{first_index[identifier]}]")
        first_index[identifier] = index
        identifiers.append(identifier)
    return Subject(kind=kind, identifiers=tuple(identifiers))


def _identifier(message: common_pb2.Identifier, which: str, path: str, today: date) -> Identifier:
    if which == "passport":
        return PassportNumber(
            number=_code(
                message.passport.number,
                f"{path}.number",
                _PASSPORT_NUMBER,
                "must be 1-20 characters of A-Z and 0-9 (spaces and hyphens ignored)",
                compact=True,
            ),
            issuing_country=_country(
                message.passport.issuing_country, f"{path}.issuing_country", required=True
            ),
        )
    if which == "name_and_birth_date":
        nbd = message.name_and_birth_date
        return NameAndBirthDate(
            # Given names may be empty: mononymous people exist, and ICAO 9303
            # records their one name as the primary identifier (family name).
            given_names=_person_name(nbd.given_names, f"{path}.given_names", required=False),
            family_name=_person_name(nbd.family_name, f"{path}.family_name", required=True),
            date_of_birth=_date_of_birth(nbd.date_of_birth, f"{path}.date_of_birth", today),
        )
    if which == "imo_number":
        return ImoNumber(number=_imo_number(message.imo_number.number, f"{path}.number"))
    if which == "call_sign":
        return CallSign(
            call_sign=_code(
                message.call_sign.call_sign,
                f"{path}.call_sign",
                _CALL_SIGN,
                "must be 3-7 characters of A-Z and 0-9",
            )
        )
    if which == "consignment_id":
        return ConsignmentId(
            id=_code(
                message.consignment_id.id,
                f"{path}.id",
                _CONSIGNMENT_ID,
                "must be 1-35 characters of A-Z and 0-9 (spaces and hyphens ignored)",
                compact=True,
            )
        )
    if which == "customs_client_code":
        return CustomsClientCode(
            code=_code(
                message.customs_client_code.code,
                f"{path}.code",
                _CUSTOMS_CLIENT_CODE,
                "must be 1-20 characters of A-Z and 0-9 (spaces and hyphens ignored)",
                compact=True,
            )
        )
    if which == "nzbn":
        return NZBN(number=_nzbn(message.nzbn.number, f"{path}.number"))
    if which == "organisation_name":
        return OrganisationName(
            name=_organisation_name(message.organisation_name.name, f"{path}.name"),
            country=_country(message.organisation_name.country, f"{path}.country", required=False),
        )
    # Unreachable while ALLOWED_IDENTIFIERS names only the members above.
    raise InvalidArgument(path, "is not a supported identifier kind")


def _date_of_birth(raw: str, path: str, today: date) -> str:
    value = _text(raw, path).strip()
    if not value:
        raise InvalidArgument(path, "is required")
    if not value.isascii() or not _ISO_DATE.fullmatch(value):
        raise InvalidArgument(path, "must be an ISO 8601 date, YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(path, "is not a calendar date") from None
    if parsed.year < MIN_BIRTH_YEAR:
        raise InvalidArgument(path, f"must be in {MIN_BIRTH_YEAR} or later")
    if parsed > today:
        raise InvalidArgument(path, "must not be in the future")
    return value


def _imo_number(raw: str, path: str) -> str:
    # SOLAS XI-1/3 and IMO resolution A.600(15) (DOMAIN.md §4): weight digits
    # 1-6 by 7, 6, 5, 4, 3, 2; the sum's last digit is the seventh digit.
    value = _text(raw, path).strip()
    if not value:
        raise InvalidArgument(path, "is required")
    match = _IMO_NUMBER.fullmatch(value.upper()) if value.isascii() else None
    if match is None:
        raise InvalidArgument(path, "must be 7 digits, optionally after 'IMO'")
    digits = match.group(1)
    total = sum(int(digit) * weight for digit, weight in zip(digits[:6], range(7, 1, -1), strict=True))
    if total % 10 != int(digits[6]):
        raise InvalidArgument(path, "check digit does not match")
    return digits


def _nzbn(raw: str, path: str) -> str:
    # GS1 mod-10: from the left, the 12 data digits weigh 1, 3, 1, 3, ...; the
    # check digit brings the sum to a multiple of ten.
    value = _text(raw, path).strip()
    if not value:
        raise InvalidArgument(path, "is required")
    if not value.isascii() or not _NZBN.fullmatch(value):
        raise InvalidArgument(path, "must be 13 digits")
    total = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(value[:12]))
    if (10 - total % 10) % 10 != int(value[12]):
        raise InvalidArgument(path, "check digit does not match")
    return value


def _organisation_name(raw: str, path: str) -> str:
    value = unicodedata.normalize("NFC", _text(raw, path))
    if any(_is_unsafe(char) for char in value):
        raise InvalidArgument(path, "must not contain control or bidirectional formatting characters")
    value = value.strip()
    if not value:
        raise InvalidArgument(path, "is required")
    if len(value) > MAX_ORG_NAME_LENGTH:
        raise InvalidArgument(path, f"must be at most {MAX_ORG_NAME_LENGTH} characters")
    if not any(unicodedata.category(char)[0] in "LN" for char in value):
        raise InvalidArgument(path, "must contain a letter or digit")
    return value


# --- Request fields --------------------------------------------------------------------------------


def _purpose(raw: str, purposes: PurposeRegister) -> str:
    value = _text(raw, "purpose").strip()
    if not value:
        raise InvalidArgument("purpose", "is required")
    code = value.upper() if value.isascii() else ""
    if code not in purposes:
        raise InvalidArgument("purpose", f"unknown purpose code; valid codes: {', '.join(purposes.codes)}")
    return code


def _reference(raw: str, path: str) -> str:
    value = _text(raw, path).strip()
    if not value:
        raise InvalidArgument(path, "is required")
    if len(value) > MAX_REFERENCE_LENGTH:
        raise InvalidArgument(path, f"must be at most {MAX_REFERENCE_LENGTH} characters")
    if not value.isascii() or not _REFERENCE.fullmatch(value):
        raise InvalidArgument(path, "must be A-Z, a-z, 0-9 and / _ . : - starting with a letter or digit")
    return value


def _manifest_reference(raw: str) -> str:
    value = _text(raw, "manifest_reference").strip()
    if not value:
        raise InvalidArgument("manifest_reference", "is required")
    if len(value) > MAX_MANIFEST_REFERENCE_LENGTH:
        raise InvalidArgument(
            "manifest_reference", f"must be at most {MAX_MANIFEST_REFERENCE_LENGTH} characters"
        )
    if not value.isascii() or not _MANIFEST_REFERENCE.fullmatch(value):
        raise InvalidArgument(
            "manifest_reference",
            "must be A-Z, a-z, 0-9, space and / _ . : - starting with a letter or digit",
        )
    return value


def _justification(raw: str) -> str:
    value = _text(raw, "justification")
    if any(_is_unsafe(char) and char not in "\n\t" for char in value):
        raise InvalidArgument(
            "justification", "must not contain control characters other than newline and tab"
        )
    value = value.strip()
    if len(value) > MAX_JUSTIFICATION_LENGTH:
        raise InvalidArgument("justification", f"must be at most {MAX_JUSTIFICATION_LENGTH} characters")
    return value


def _agencies(raw: Sequence[str]) -> tuple[str, ...]:
    if len(raw) > MAX_AGENCIES:
        raise InvalidArgument("agencies", f"must name at most {MAX_AGENCIES} agencies")
    agencies: list[str] = []
    for index, item in enumerate(raw):
        path = f"agencies[{index}]"
        value = _text(item, path).strip()
        name = value.lower() if value.isascii() else ""
        if name not in AGENCIES:
            raise InvalidArgument(path, f"unknown agency; valid agencies: {', '.join(AGENCIES)}")
        if name in agencies:
            raise InvalidArgument(path, f"repeats agencies[{agencies.index(name)}]")
        agencies.append(name)
    return tuple(agencies)


def _categories(raw: Sequence[str]) -> tuple[str, ...]:
    if len(raw) > MAX_CATEGORIES:
        raise InvalidArgument("categories", f"must name at most {MAX_CATEGORIES} categories")
    categories: list[str] = []
    for index, item in enumerate(raw):
        path = f"categories[{index}]"
        value = _text(item, path).strip()
        if not value.isascii() or not _CATEGORY.fullmatch(value):
            raise InvalidArgument(
                path, "must be a-z, 0-9 and _, starting with a letter, at most 64 characters"
            )
        if value in categories:
            raise InvalidArgument(path, f"repeats categories[{categories.index(value)}]")
        categories.append(value)
    return tuple(categories)
