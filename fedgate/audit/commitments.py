"""Salted commitments and keyed subject tags: what a log entry holds instead of personal data.

A log entry is public to every auditor and kept for ever; the personal data it is
about lives in the erasable evidence store. Two constructions link the two:

* A **commitment** ``SHA-256(COMMITMENT_DOMAIN || salt || value)`` with a fresh
  ``SALT_SIZE``-byte random salt. The entry holds the commitment; the evidence store
  holds the ``Opening`` (salt and value). With the opening, anyone can check what the
  entry committed to (binding: SHA-256 collision resistance); without it, the
  commitment says nothing about the value, even a guessable one such as a date of
  birth (hiding: 256 unknown bits of salt). Erasure deletes the opening; the
  commitment, and every Merkle proof over it, stays valid. The salt has a fixed
  length, so ``salt || value`` splits one way only.

* A **subject tag** ``HMAC-SHA256(key, SUBJECT_TAG_DOMAIN || utf8(identifier))`` over
  each normalised identifier of the subject (``identifier_tag_inputs``). Whoever holds
  the key (the gateway, and an auditor it is given to) can compute the tags of a
  person and scan a verified log for every entry about them; without the key the tags
  are unlinkable to identities, and since a tag has no salt, equal identifiers give
  equal tags, which is what makes the scan work.

Tag inputs, version 1 (each part in a fixed alphabet that holds neither ":" nor
"|", so the encoding is unambiguous)::

    passport:<ISSUING STATE>:<NUMBER>     passport:NZL:LA123456
    name_dob:<name words, sorted>|<date>   name_dob:an nguyen van|1979-03-14
    imo:<7 digits>                         imo:9074729
    call_sign:<CALL SIGN>                  call_sign:ZMFR7
    consignment:<ID>                       consignment:AWB12345678
    customs_client:<CODE>                  customs_client:CC1234
    nzbn:<13 digits>                       nzbn:9429041234563
    org_name:<name words>                  org_name:pacific freight

Names go through ``agency_adapters.matching.normalise_name`` (NFKC, transliteration
and diacritic folding to lower-case ASCII, apostrophes dropped, other punctuation to
spaces), then a person's given and family words are pooled and sorted, so given and
family swapped or split differently ("Nguyen Van" / "An" against "An" / "Nguyen Van")
tag the same. Document numbers and codes go through ``normalise_document_number``
(upper case, no spaces or hyphens).

**A subject report finds exact-normalised matches only.** Tags are exact: the fuzzy
matching agencies do (Mohammed / Muhammad, Smith / Smiht, a transposed day and month,
"Al Rashid" / "Alrashid", "Ltd" / "Limited", a middle name on one side only) does
*not* give equal tags. An entry made under a variant spelling is found only by also
searching that spelling. The organisation's country is left out of its tag so that a
search by name alone is complete. The normalisation is part of the tag format:
a change to ``normalise_name`` or to the ``anyascii`` tables it uses changes tags, and
old entries then stop matching; the known-answer tests in
``tests/test_commitments.py`` are there to catch that.

Errors::

    ValueError
     └── CommitmentError    an opening does not open a commitment; malformed salt,
                            commitment, key or identifier

Messages never repeat a value, a salt or a key. No IO here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import assert_never

from agency_adapters.matching import normalise_document_number, normalise_name
from fedgate.model import (
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
)

__all__ = [
    "COMMITMENT_DOMAIN",
    "COMMITMENT_SIZE",
    "MIN_TAG_KEY_SIZE",
    "SALT_SIZE",
    "SUBJECT_TAG_DOMAIN",
    "TAG_SIZE",
    "CommitmentError",
    "Opening",
    "commit",
    "identifier_tag_inputs",
    "subject_tag",
    "verify_opening",
]

#: Domain-separation prefixes: a commitment can never equal a tag or any other
#: SHA-256 the log computes (RFC 6962 leaves and nodes start with 0x00 and 0x01).
#: The version is in the prefix; a new format gets a new prefix.
COMMITMENT_DOMAIN = b"fedgate-commit-v1\x00"
SUBJECT_TAG_DOMAIN = b"fedgate-subject-tag-v1\x00"

SALT_SIZE = 32  # 256 bits: a commitment to a guessable value (a birth date) stays hiding
COMMITMENT_SIZE = 32  # SHA-256 output
TAG_SIZE = 32  # HMAC-SHA256 output
MIN_TAG_KEY_SIZE = 32  # RFC 2104 §3: a key shorter than the hash output weakens HMAC

_UPPER_ALNUM = re.compile(r"[A-Z0-9]+")
_STATE = re.compile(r"[A-Z]{3}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_IMO = re.compile(r"[0-9]{7}")
_NZBN = re.compile(r"[0-9]{13}")


class CommitmentError(ValueError):
    """An opening does not open a commitment, or a salt, commitment, key or identifier is malformed."""


@dataclass(frozen=True, slots=True)
class Opening:
    """What the evidence store keeps to open a commitment; erasing it is erasing the data.

    Both fields are left out of the repr: ``value`` is personal data, and ``salt`` is
    what keeps it hidden.
    """

    salt: bytes = field(repr=False)
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if type(self.salt) is not bytes or type(self.value) is not bytes:
            raise TypeError("an opening's salt and value must be bytes")
        if len(self.salt) != SALT_SIZE:
            raise CommitmentError(f"salt must be {SALT_SIZE} bytes")


def _commitment(opening: Opening) -> bytes:
    digest = hashlib.sha256(COMMITMENT_DOMAIN)
    digest.update(opening.salt)
    digest.update(opening.value)
    return digest.digest()


def commit(value: bytes, *, salt: bytes | None = None) -> tuple[bytes, Opening]:
    """Commit to ``value``; return the commitment for the log and the opening for the evidence store.

    ``salt`` is drawn from ``secrets`` unless given. Give one only for known-answer
    tests: a salt used twice links the two commitments, and a predictable one leaves a
    guessable value unhidden.
    """
    opening = Opening(secrets.token_bytes(SALT_SIZE) if salt is None else salt, value)
    return _commitment(opening), opening


def verify_opening(commitment: bytes, opening: Opening) -> None:
    """Check that ``opening`` opens ``commitment``; raise ``CommitmentError`` if not."""
    if type(commitment) is not bytes or len(commitment) != COMMITMENT_SIZE:
        raise CommitmentError(f"a commitment is {COMMITMENT_SIZE} bytes")
    if not hmac.compare_digest(_commitment(opening), commitment):
        raise CommitmentError("the opening does not match the commitment")


def subject_tag(key: bytes, normalised_identifier: str) -> bytes:
    """The keyed tag of one normalised identifier (from ``identifier_tag_inputs``).

    No normalisation happens here: equal tags need equal strings. The key must be at
    least ``MIN_TAG_KEY_SIZE`` bytes.
    """
    if type(key) is not bytes or len(key) < MIN_TAG_KEY_SIZE:
        raise CommitmentError(f"a subject-tag key must be at least {MIN_TAG_KEY_SIZE} bytes")
    try:
        message = SUBJECT_TAG_DOMAIN + normalised_identifier.encode("utf-8")
    except UnicodeEncodeError:
        raise CommitmentError("identifier is not valid Unicode (it holds a lone surrogate)") from None
    return hmac.digest(key, message, "sha256")


def identifier_tag_inputs(subject: Subject) -> list[str]:
    """The normalised identifier strings that tag ``subject``, sorted and without repeats.

    One string per identifier, in the version-1 format of the module docstring. Raises
    ``CommitmentError`` naming the identifier's index and part (never its value) if a
    part does not normalise into its alphabet, for example a name with no letter that
    ``normalise_name`` can spell; tagging it as empty would merge unrelated people.
    """
    return sorted({_tag_input(identifier, index) for index, identifier in enumerate(subject.identifiers)})


def _tag_input(identifier: Identifier, index: int) -> str:
    def code(raw: str, part: str, pattern: re.Pattern[str] = _UPPER_ALNUM) -> str:
        value = normalise_document_number(raw)
        if pattern.fullmatch(value) is None:
            raise CommitmentError(f"identifiers[{index}].{part} is not a normalised {identifier.kind} part")
        return value

    def words(raw: str, part: str, *, required: bool = True) -> list[str]:
        result = normalise_name(raw).split()
        # Given names may be empty (a mononym), but a name that is there and spells as
        # nothing would silently tag as someone else's.
        if not result and (required or raw.strip()):
            raise CommitmentError(f"identifiers[{index}].{part} normalises to no letters or digits")
        return result

    match identifier:
        case PassportNumber():
            state = code(identifier.issuing_country, "issuing_country", _STATE)
            return f"passport:{state}:{code(identifier.number, 'number')}"
        case NameAndBirthDate():
            name = sorted(
                words(identifier.given_names, "given_names", required=False)
                + words(identifier.family_name, "family_name")
            )
            date_of_birth = identifier.date_of_birth.strip()
            if _ISO_DATE.fullmatch(date_of_birth) is None:
                raise CommitmentError(f"identifiers[{index}].date_of_birth is not YYYY-MM-DD")
            return f"name_dob:{' '.join(name)}|{date_of_birth}"
        case ImoNumber():
            return f"imo:{code(identifier.number.upper().removeprefix('IMO'), 'number', _IMO)}"
        case CallSign():
            return f"call_sign:{code(identifier.call_sign, 'call_sign')}"
        case ConsignmentId():
            return f"consignment:{code(identifier.id, 'id')}"
        case CustomsClientCode():
            return f"customs_client:{code(identifier.code, 'code')}"
        case NZBN():
            return f"nzbn:{code(identifier.number, 'number', _NZBN)}"
        case OrganisationName():
            return f"org_name:{' '.join(words(identifier.name, 'name'))}"
        case _:
            assert_never(identifier)
