"""Salted commitments and keyed subject tags: binding, hiding, determinism and tag inputs."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from agency_adapters.matching import normalise_name
from fedgate.audit.commitments import (
    COMMITMENT_DOMAIN,
    COMMITMENT_SIZE,
    MIN_TAG_KEY_SIZE,
    SALT_SIZE,
    SUBJECT_TAG_DOMAIN,
    TAG_SIZE,
    CommitmentError,
    Opening,
    commit,
    identifier_tag_inputs,
    subject_tag,
    verify_opening,
)
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
    SubjectKind,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SALT = bytes(range(32))

_salts = st.binary(min_size=SALT_SIZE, max_size=SALT_SIZE)
_keys = st.binary(min_size=MIN_TAG_KEY_SIZE, max_size=64)


def _person(*identifiers: Identifier) -> Subject:
    return Subject(kind=SubjectKind.PERSON, identifiers=identifiers)


def _inputs(identifier: Identifier) -> list[str]:
    return identifier_tag_inputs(Subject(kind=SubjectKind.PERSON, identifiers=(identifier,)))


# --- Commitments ---------------------------------------------------------------------------------


def test_commitment_known_answer() -> None:
    """A fixed salt and value give the commitment computed independently with OpenSSL."""
    # (printf 'fedgate-commit-v1\0'; <bytes 00..1f>; printf LA123456) | openssl dgst -sha256
    commitment, opening = commit(b"LA123456", salt=SALT)
    assert commitment.hex() == "ecee702a6b193bb6475dce23c760e1b92d00b41dc4eac4ab1d915729694f14cb"
    assert commitment == hashlib.sha256(COMMITMENT_DOMAIN + SALT + b"LA123456").digest()
    assert opening == Opening(salt=SALT, value=b"LA123456")


@given(st.binary(max_size=256))
def test_commit_then_verify_round_trips(value: bytes) -> None:
    """A commitment made with a fresh salt is opened by the opening that came with it."""
    commitment, opening = commit(value)
    assert len(commitment) == COMMITMENT_SIZE
    assert len(opening.salt) == SALT_SIZE
    assert opening.value == value
    verify_opening(commitment, opening)


@given(st.binary(max_size=64), _salts, _salts)
def test_verify_rejects_wrong_salt(value: bytes, salt: bytes, other_salt: bytes) -> None:
    """An opening with a different salt does not open the commitment."""
    commitment, _ = commit(value, salt=salt)
    if other_salt == salt:
        return
    with pytest.raises(CommitmentError, match="does not match"):
        verify_opening(commitment, Opening(salt=other_salt, value=value))


@given(st.binary(max_size=64), st.binary(max_size=64), _salts)
def test_verify_rejects_wrong_value(value: bytes, other_value: bytes, salt: bytes) -> None:
    """An opening with a different value does not open the commitment (binding)."""
    commitment, _ = commit(value, salt=salt)
    if other_value == value:
        return
    with pytest.raises(CommitmentError, match="does not match"):
        verify_opening(commitment, Opening(salt=salt, value=other_value))


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=COMMITMENT_SIZE * 8 - 1))
def test_verify_rejects_any_flipped_commitment_bit(value: bytes, bit: int) -> None:
    """Flipping any single bit of a commitment makes the opening fail."""
    commitment, opening = commit(value)
    flipped = bytearray(commitment)
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CommitmentError):
        verify_opening(bytes(flipped), opening)


def test_salt_and_value_boundary_cannot_shift() -> None:
    """Moving bytes between the end of the salt and the start of the value is a different opening."""
    commitment, _ = commit(b"B" + b"rest", salt=b"A" * SALT_SIZE)
    with pytest.raises(CommitmentError):
        verify_opening(commitment, Opening(salt=b"A" * (SALT_SIZE - 1) + b"B", value=b"Brest"))


def test_same_value_different_salts_gives_different_commitments() -> None:
    """Committing twice to a guessable value gives unlinkable commitments (hiding)."""
    first, first_opening = commit(b"1979-03-14")
    second, second_opening = commit(b"1979-03-14")
    assert first_opening.salt != second_opening.salt
    assert first != second


@given(st.binary(max_size=64), _salts, _salts)
def test_commitment_depends_on_salt(value: bytes, salt: bytes, other_salt: bytes) -> None:
    """Equal values under different salts never give equal commitments."""
    if salt == other_salt:
        return
    assert commit(value, salt=salt)[0] != commit(value, salt=other_salt)[0]


@pytest.mark.parametrize("size", [0, 16, SALT_SIZE - 1, SALT_SIZE + 1])
def test_commit_rejects_salt_of_wrong_size(size: int) -> None:
    """A salt that is not exactly SALT_SIZE bytes is refused."""
    with pytest.raises(CommitmentError, match="salt"):
        commit(b"value", salt=b"\x00" * size)


@pytest.mark.parametrize(
    "commitment", [b"", b"\x00" * (COMMITMENT_SIZE - 1), b"\x00" * (COMMITMENT_SIZE + 1)]
)
def test_verify_rejects_commitment_of_wrong_size(commitment: bytes) -> None:
    """A commitment that is not a SHA-256 digest is refused before any comparison."""
    with pytest.raises(CommitmentError, match="bytes"):
        verify_opening(commitment, Opening(salt=SALT, value=b""))


def test_opening_rejects_non_bytes() -> None:
    """An opening holds bytes only, so what is hashed is exactly what is stored."""
    with pytest.raises(TypeError):
        Opening(salt=SALT, value="text")  # type: ignore[arg-type]  # the wrong type is the point
    with pytest.raises(TypeError):
        Opening(salt=bytearray(SALT), value=b"")  # type: ignore[arg-type]  # mutable salt


def test_opening_repr_hides_salt_and_value() -> None:
    """An opening printed in a log line shows neither the personal data nor the salt."""
    _, opening = commit(b"LA123456", salt=SALT)
    assert "LA123456" not in repr(opening)
    assert SALT.hex() not in repr(opening)
    assert repr(SALT) not in repr(opening)


# --- Subject tags --------------------------------------------------------------------------------


def test_subject_tag_known_answer() -> None:
    """A fixed key and identifier give the HMAC computed independently with OpenSSL."""
    # printf 'fedgate-subject-tag-v1\0passport:NZL:LA123456' \
    #   | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f
    tag = subject_tag(KEY, "passport:NZL:LA123456")
    assert tag.hex() == "c96fee5de288d8230825acd04a10a201f27e998ae75d41c6097d1af55223196f"
    expected = hmac.new(KEY, SUBJECT_TAG_DOMAIN + b"passport:NZL:LA123456", hashlib.sha256).digest()
    assert tag == expected


@given(_keys, st.text())
def test_subject_tag_is_deterministic(key: bytes, identifier: str) -> None:
    """The same key and identifier always give the same tag, which is what makes a log scan work."""
    assert subject_tag(key, identifier) == subject_tag(key, identifier)
    assert len(subject_tag(key, identifier)) == TAG_SIZE


@given(_keys, _keys, st.text())
def test_subject_tag_depends_on_key(key: bytes, other_key: bytes, identifier: str) -> None:
    """Without the key the tag of a known identifier cannot be recomputed."""
    if key == other_key:
        return
    assert subject_tag(key, identifier) != subject_tag(other_key, identifier)


@given(_keys, st.text(), st.text())
def test_subject_tag_depends_on_identifier(key: bytes, identifier: str, other: str) -> None:
    """Different identifiers give different tags under one key."""
    if identifier == other:
        return
    assert subject_tag(key, identifier) != subject_tag(key, other)


def test_subject_tag_is_not_a_commitment() -> None:
    """Domain separation: a tag never equals an unkeyed hash or a commitment of the same input."""
    tag = subject_tag(KEY, "imo:9074729")
    assert tag != hashlib.sha256(b"imo:9074729").digest()
    assert tag != commit(b"imo:9074729", salt=KEY)[0]


@pytest.mark.parametrize("size", [0, 16, MIN_TAG_KEY_SIZE - 1])
def test_subject_tag_rejects_short_key(size: int) -> None:
    """A key shorter than the hash output is refused."""
    with pytest.raises(CommitmentError, match="at least"):
        subject_tag(b"k" * size, "imo:9074729")


def test_subject_tag_rejects_lone_surrogate() -> None:
    """An identifier that is not valid Unicode is refused rather than tagged."""
    with pytest.raises(CommitmentError, match="Unicode"):
        subject_tag(KEY, "name_dob:\ud800|1979-03-14")


# --- Tag inputs ----------------------------------------------------------------------------------

_EVERY_KIND = [
    pytest.param(PassportNumber("LA123456", "NZL"), "passport:NZL:LA123456", id="passport"),
    pytest.param(
        NameAndBirthDate("Aroha", "Ngata", "1979-03-14"),
        "name_dob:aroha ngata|1979-03-14",
        id="name_and_birth_date",
    ),
    pytest.param(ImoNumber("9074729"), "imo:9074729", id="imo_number"),
    pytest.param(CallSign("ZMFR7"), "call_sign:ZMFR7", id="call_sign"),
    pytest.param(ConsignmentId("AWB12345678"), "consignment:AWB12345678", id="consignment_id"),
    pytest.param(CustomsClientCode("CC1234"), "customs_client:CC1234", id="customs_client_code"),
    pytest.param(NZBN("9429041234563"), "nzbn:9429041234563", id="nzbn"),
    pytest.param(
        OrganisationName("Pacific Freight", "NZL"), "org_name:pacific freight", id="organisation_name"
    ),
]


@pytest.mark.parametrize(("identifier", "expected"), _EVERY_KIND)
def test_tag_input_for_every_identifier_kind(identifier: Identifier, expected: str) -> None:
    """Each identifier kind of fedgate.model has its own prefixed, normalised tag input."""
    assert _inputs(identifier) == [expected]


def test_every_identifier_kind_is_covered() -> None:
    """The table above covers every member of the model's Identifier union."""
    covered = {type(param.values[0]) for param in _EVERY_KIND}
    assert covered == set(Identifier.__args__)


def test_tag_inputs_sorted_and_unique() -> None:
    """A subject's inputs are sorted and without repeats, whatever order the caller gave."""
    identifiers = (
        PassportNumber("LA123456", "NZL"),
        NameAndBirthDate("Aroha", "Ngata", "1979-03-14"),
        NameAndBirthDate("Ngata", "Aroha", "1979-03-14"),
    )
    expected = ["name_dob:aroha ngata|1979-03-14", "passport:NZL:LA123456"]
    assert identifier_tag_inputs(_person(*identifiers)) == expected
    assert identifier_tag_inputs(_person(*reversed(identifiers))) == expected


def test_swapped_given_and_family_names_tag_the_same() -> None:
    """Given and family names recorded the other way round give the same tag input."""
    assert _inputs(NameAndBirthDate("Wei", "Zhang", "1990-01-02")) == _inputs(
        NameAndBirthDate("Zhang", "Wei", "1990-01-02")
    )


def test_names_split_differently_tag_the_same() -> None:
    """A name split differently between given and family fields gives the same tag input."""
    assert _inputs(NameAndBirthDate("Nguyen Van", "An", "1979-03-14")) == _inputs(
        NameAndBirthDate("An", "Nguyen Van", "1979-03-14")
    )


@pytest.mark.parametrize(
    ("given_names", "family_name"),
    [
        ("Søren", "Kierkegaard"),
        ("SØREN", "KIERKEGAARD"),
        ("Soren", "Kierkegaard"),
        ("Søren ", " Kierkegaard"),
        ("Sören", "Kierkegaard"),
        ("So\u0308ren", "Kierkegaard"),  # decomposed diaeresis
    ],
)
def test_diacritic_and_case_folded_names_tag_the_same(given_names: str, family_name: str) -> None:
    """Names differing only in diacritics, case, composition or spacing give the same tag input."""
    assert _inputs(NameAndBirthDate(given_names, family_name, "1813-05-05")) == [
        "name_dob:kierkegaard soren|1813-05-05"
    ]


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        # Known answers that pin the transliteration: a change in normalise_name or the
        # anyascii tables would split a subject's entries between old and new tags.
        (NameAndBirthDate("Nguyễn Văn", "An", "1979-03-14"), "name_dob:an nguyen van|1979-03-14"),
        (NameAndBirthDate("", "张伟", "1990-01-02"), "name_dob:wei zhang|1990-01-02"),
        (NameAndBirthDate("Александр", "Пушкин", "1799-06-06"), "name_dob:aleksandr pushkin|1799-06-06"),
        (NameAndBirthDate("Seán", "O’Brien", "1985-12-01"), "name_dob:obrien sean|1985-12-01"),
        (NameAndBirthDate("Mary-Jane", "Smith", "1970-01-01"), "name_dob:jane mary smith|1970-01-01"),
        (NameAndBirthDate("", "Madonna", "1958-08-16"), "name_dob:madonna|1958-08-16"),
        (NameAndBirthDate("Anna Anna", "Lee", "2000-02-29"), "name_dob:anna anna lee|2000-02-29"),
        (OrganisationName("Ōtautahi Kai Co. Ltd", ""), "org_name:otautahi kai co ltd"),
    ],
)
def test_name_tag_inputs_known_answers(identifier: Identifier, expected: str) -> None:
    """Names in several scripts normalise to fixed, literal tag inputs."""
    assert _inputs(identifier) == [expected]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            NameAndBirthDate("Mohammed", "Al Rashid", "1980-05-06"),
            NameAndBirthDate("Muhammad", "Al Rashid", "1980-05-06"),
        ),
        (NameAndBirthDate("John", "Smith", "1980-05-06"), NameAndBirthDate("John", "Smiht", "1980-05-06")),
        (
            NameAndBirthDate("Omar", "Al Rashid", "1980-05-06"),
            NameAndBirthDate("Omar", "Alrashid", "1980-05-06"),
        ),
        (NameAndBirthDate("John", "Smith", "1980-05-06"), NameAndBirthDate("John", "Smith", "1980-06-05")),
        (
            NameAndBirthDate("John Paul", "Smith", "1980-05-06"),
            NameAndBirthDate("John", "Smith", "1980-05-06"),
        ),
        (OrganisationName("Acme Ltd"), OrganisationName("Acme Limited")),
    ],
)
def test_fuzzy_variants_do_not_tag_the_same(first: Identifier, second: Identifier) -> None:
    """Fuzzy-matched variants tag differently: a subject report finds exact-normalised matches only."""
    assert _inputs(first) != _inputs(second)


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        (PassportNumber("la 123-456", "nzl"), "passport:NZL:LA123456"),
        (ImoNumber("IMO 9074729"), "imo:9074729"),
        (ConsignmentId("awb-1234 5678"), "consignment:AWB12345678"),
        (CallSign("zmfr7"), "call_sign:ZMFR7"),
    ],
)
def test_document_numbers_normalised_as_by_validation(identifier: Identifier, expected: str) -> None:
    """Document numbers typed as a person would type them give the tag input of the validated form."""
    assert _inputs(identifier) == [expected]


def test_organisation_country_does_not_change_tag_input() -> None:
    """An organisation's tag leaves out its country, so a search by name alone finds it."""
    assert _inputs(OrganisationName("Pacific Freight", "NZL")) == _inputs(OrganisationName("Pacific Freight"))


@pytest.mark.parametrize(
    ("identifier", "part"),
    [
        (PassportNumber("LA:123", "NZL"), "identifiers[0].number"),
        (PassportNumber("LA123456", "NZ"), "identifiers[0].issuing_country"),
        (NameAndBirthDate("Aroha", "Ngata", "14/03/1979"), "identifiers[0].date_of_birth"),
        (NameAndBirthDate("Aroha", "'", "1979-03-14"), "identifiers[0].family_name"),
        (NameAndBirthDate("\u1800", "Ngata", "1979-03-14"), "identifiers[0].given_names"),
        (ImoNumber("907472"), "identifiers[0].number"),
        (NZBN("94290412345"), "identifiers[0].number"),
        (CallSign("ZM|FR7"), "identifiers[0].call_sign"),
        (OrganisationName("&&&"), "identifiers[0].name"),
    ],
)
def test_tag_inputs_refuse_malformed_parts(identifier: Identifier, part: str) -> None:
    """A part that does not normalise into its alphabet is refused, named by path, not by value."""
    with pytest.raises(CommitmentError) as caught:
        _inputs(identifier)
    assert part in str(caught.value)
    assert "Ngata" not in str(caught.value)
    assert "LA" not in str(caught.value)


@given(
    st.text(st.characters(categories=["L", "M", "Zs", "Pd"]), max_size=20),
    st.text(st.characters(categories=["L", "M", "Zs", "Pd"]), max_size=20),
    st.dates().map(lambda day: day.isoformat()),
)
def test_name_tag_input_is_symmetric_in_name_fields(given_names: str, family_name: str, dob: str) -> None:
    """For any two names that both spell as something, swapping given and family gives the same tag input."""
    assume(normalise_name(given_names) and normalise_name(family_name))
    [forward] = _inputs(NameAndBirthDate(given_names, family_name, dob))
    assert [forward] == _inputs(NameAndBirthDate(family_name, given_names, dob))
    name, _, date_of_birth = forward.removeprefix("name_dob:").partition("|")
    assert date_of_birth == dob
    assert ":" not in name
    assert "|" not in name
