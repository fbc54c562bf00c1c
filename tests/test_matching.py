"""Tests for agency_adapters.matching: name, date-of-birth, document and organisation matching.

The two name tables are the calibration of ``DEFAULT_MIN_CONFIDENCE``: every pair in
``SAME_PERSON`` must reach it and every pair in ``DIFFERENT_PEOPLE`` must not.
"""

from __future__ import annotations

import datetime
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from agency_adapters.matching import (
    DEFAULT_MIN_CONFIDENCE,
    SWAPPED_DOB_FACTOR,
    NameQuery,
    PersonMatch,
    dob_variants,
    name_similarity,
    normalise_document_number,
    normalise_name,
    organisation_similarity,
    score_person,
)

# (query given, query family, candidate given, candidate family)
_Pair = tuple[str, str, str, str]


def _similarity(pair: _Pair) -> float:
    query_given, query_family, given_names, family_name = pair
    return name_similarity(NameQuery.build(query_given, query_family), given_names, family_name)


SAME_PERSON: dict[str, _Pair] = {
    # Diacritics and other scripts.
    "diacritics-spanish": ("José", "Núñez", "Jose", "Nunez"),
    "diacritics-vietnamese": ("Văn An", "Nguyễn", "Van An", "Nguyen"),
    "diacritics-danish": ("Søren", "Kierkegaard", "Soren", "Kierkegaard"),
    "diacritics-polish-german": ("Łukasz", "Müller", "Lukasz", "Muller"),
    "cyrillic-script": ("Александр", "Соколов", "Alexander", "Sokolov"),
    "han-script-family-first": ("张伟", "", "Wei", "Zhang"),
    # Given and family names swapped or split differently.
    "swapped-given-family": ("Wei", "Zhang", "Zhang", "Wei"),
    "vietnamese-split-differently": ("Van An", "Nguyen", "An", "Nguyen Van"),
    # Transliteration variants.
    "mohammed-muhammad-hyphen-joined": ("Mohammed", "Al-Rashid", "Muhammad", "Alrashid"),
    "mohammed-mohamed-hyphen-spaced": ("Mohammed", "Al-Rashid", "Mohamed", "AL RASHID"),
    "muhammad-mohamed-joined-spaced": ("Muhammad", "Alrashid", "Mohamed", "AL RASHID"),
    "two-transliteration-variants": ("Mohammed", "Al Rashid", "Muhammad", "Al-Rasheed"),
    "aleksandr-alexander": ("Aleksandr", "Sokolov", "Alexander", "Sokolov"),
    "yusuf-youssef": ("Yusuf", "Ibrahim", "Youssef", "Ibrahim"),
    "tchaikovsky-chaikovsky": ("Pyotr", "Tchaikovsky", "Pyotr", "Chaikovsky"),
    "sergei-sergey": ("Sergei", "Ivanov", "Sergey", "Ivanov"),
    "aleksei-alexey": ("Aleksei", "Ivanov", "Alexey", "Ivanov"),
    "ahmad-hussein-ahmed-husain": ("Ahmad", "Hussein", "Ahmed", "Husain"),
    "catherine-smyth-katherine-smith": ("Catherine", "Smyth", "Katherine", "Smith"),
    "short-name-silent-letter": ("John", "Smith", "Jon", "Smith"),
    "short-name-final-y": ("Ali", "Hassan", "Aly", "Hassan"),
    "mark-marc": ("Mark", "Taylor", "Marc", "Taylor"),
    # Middle names and initials.
    "missing-middle-name": ("Mary Anne", "Smith", "Mary", "Smith"),
    "extra-middle-name": ("Mary", "Smith", "Mary Anne", "Smith"),
    "initial-for-first-given-name": ("J. Robert", "Smith", "John Robert", "Smith"),
    "missing-name-parts": ("Mohammed", "bin Rashid Al Maktoum", "Mohammed", "Al Maktoum"),
    # Hyphens, spacing, apostrophes, case, whitespace, typos.
    "hyphenated-given-name": ("Jean-Luc", "Picard", "Jean Luc", "Picard"),
    "joined-given-name": ("Jeanluc", "Picard", "Jean Luc", "Picard"),
    "apostrophe-removed": ("Sean", "O'Brien", "Sean", "OBrien"),
    "apostrophe-as-space": ("Sean", "O'Brien", "Sean", "O Brien"),
    "typographic-apostrophe": ("Sean", "O\u2019Brien", "Sean", "O'Brien"),
    "case-and-whitespace-noise": ("  JOHN ", "smith\t ", "John", "Smith"),
    "full-width-letters": ("Ｊｏｈｎ", "Ｓｍｉｔｈ", "John", "Smith"),
    "transposition-typo": ("Jonathan", "Smiht", "Jonathan", "Smith"),
    "vowel-typo": ("Jonathon", "Smith", "Jonathan", "Smith"),
    "single-inserted-letter": ("Hanna", "Kowalska", "Anna", "Kowalska"),
}

DIFFERENT_PEOPLE: dict[str, _Pair] = {
    "same-family-different-given": ("John", "Smith", "Jane", "Smith"),
    "mohammed-ahmed": ("Mohammed", "Al-Rashid", "Ahmed", "Al-Rashid"),
    "zhang-wang": ("Wei", "Zhang", "Wei", "Wang"),
    "zhou-zhao": ("Wei", "Zhou", "Wei", "Zhao"),
    # Decided: two independent one-letter differences are not the same person, even
    # though Kowalska is the feminine form of Kowalski.
    "anna-kowalski-hanna-kowalska": ("Anna", "Kowalski", "Hanna", "Kowalska"),
    "an-anh": ("Van An", "Nguyen", "Van Anh", "Nguyen"),
    "mohammad-mahmoud": ("Mohammad", "Khan", "Mahmoud", "Khan"),
    "different-middle-name": ("John Paul", "Smith", "John Peter", "Smith"),
    "initial-contradicts-given-name": ("J. Robert", "Smith", "Karl Robert", "Smith"),
    "peter-petra": ("Peter", "Smith", "Petra", "Smith"),
    "michael-michelle": ("Michael", "Brown", "Michelle", "Brown"),
    "short-name-different-vowel": ("Tom", "Smith", "Tim", "Smith"),
    "jan-jon": ("Jan", "Visser", "Jon", "Visser"),
    "family-name-only": ("John", "Smith", "", "Smith"),
    "unrelated": ("John", "Smith", "Wei", "Zhang"),
}


@pytest.mark.parametrize("pair", SAME_PERSON.values(), ids=SAME_PERSON.keys())
def test_same_person_variants_reach_default_threshold(pair: _Pair) -> None:
    """Spelling, script, ordering and middle-name variants of one person's name pass the default threshold."""
    assert _similarity(pair) >= DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize("pair", DIFFERENT_PEOPLE.values(), ids=DIFFERENT_PEOPLE.keys())
def test_different_people_stay_below_default_threshold(pair: _Pair) -> None:
    """Names of different people, even sharing a family name, stay below the default threshold."""
    assert _similarity(pair) < DEFAULT_MIN_CONFIDENCE


def test_swapped_given_and_family_names_match() -> None:
    """Given and family names recorded the other way round score as an exact match."""
    assert _similarity(("Wei", "Zhang", "Zhang", "Wei")) == 1.0


def test_diacritics_and_hyphens_are_not_differences() -> None:
    """Folding diacritics and hyphens leaves nothing to penalise."""
    assert _similarity(("José", "Núñez", "Jose", "Nunez")) == 1.0
    assert _similarity(("Jean-Luc", "Picard", "Jean Luc", "Picard")) == 1.0


@pytest.mark.parametrize("spelling", ["OBrien", "O Brien", "O'Brien", "o\u2019brien", "O-Brien"])
def test_obrien_spellings_all_match_exactly(spelling: str) -> None:
    """Apostrophe, space, hyphen and no separator in O'Brien are the same name."""
    assert _similarity(("Sean", "O'Brien", "Sean", spelling)) == 1.0


def test_completely_different_names_score_near_zero() -> None:
    """Names with nothing in common score close to zero."""
    assert _similarity(("John", "Smith", "Wei", "Zhang")) < 0.3
    assert _similarity(("Mary", "Jones", "Tomasz", "Nowak")) < 0.3


def test_family_name_alone_does_not_identify_a_person() -> None:
    """A candidate with only a matching family name scores well below the threshold."""
    assert _similarity(("John", "Smith", "", "Smith")) < 0.7


def test_initial_scores_below_the_full_name() -> None:
    """An initial for a given name is consistent but weaker evidence than the name itself."""
    initial = _similarity(("J. Robert", "Smith", "John Robert", "Smith"))
    assert DEFAULT_MIN_CONFIDENCE <= initial < 1.0


def test_missing_middle_name_costs_a_little() -> None:
    """A middle name on one side only lowers the score slightly rather than heavily."""
    score = _similarity(("Mary Anne", "Smith", "Mary", "Smith"))
    assert 0.9 <= score < 1.0


def test_ioannis_yannis_is_below_threshold_by_design() -> None:
    """Ioannis/Yannis is a hypocoristic form, not a spelling variant, so it falls short of the threshold."""
    score = _similarity(("Ioannis", "Papadopoulos", "Yannis", "Papadopoulos"))
    assert 0.7 <= score < DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize(("given_names", "family_name"), [("", ""), ("  ", "-"), ("'", "...")])
def test_empty_candidate_name_scores_zero(given_names: str, family_name: str) -> None:
    """A candidate whose name normalises to nothing cannot match."""
    assert name_similarity(NameQuery.build("John", "Smith"), given_names, family_name) == 0.0


def test_empty_query_name_scores_zero() -> None:
    """A query whose name normalises to nothing matches no candidate."""
    assert name_similarity(NameQuery.build("", ""), "John", "Smith") == 0.0


def test_name_query_repr_omits_personal_data() -> None:
    """A NameQuery that reaches a log line does not carry the name with it."""
    text = repr(NameQuery.build("Søren", "Kierkegaard"))
    assert "kierkegaard" not in text.lower()
    assert "soren" not in text.lower()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nguyễn", "nguyen"),
        ("Søren", "soren"),
        ("Łukasz", "lukasz"),
        ("Müller", "muller"),
        ("Александр", "aleksandr"),
        ("张伟", "zhang wei"),
        ("Ｊｏｈｎ", "john"),
        ("O'Brien", "obrien"),
        ("O\u2019Brien", "obrien"),
        ("Jean-Luc", "jean luc"),
        ("J.R.R. Tolkien", "j r r tolkien"),
        ("  MARY \t anne\u00a0 ", "mary anne"),
        ("", ""),
    ],
)
def test_normalise_name_folds_to_lower_case_ascii_words(raw: str, expected: str) -> None:
    """Names are folded to lower-case ASCII words separated by single spaces."""
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ab 123-456", "AB123456"),
        ("LA\t1234 567", "LA1234567"),
        ("n\u20131234\u2014567", "N1234567"),
        ("ＡＢ１２３", "AB123"),
        ("AB123456", "AB123456"),
    ],
)
def test_normalise_document_number_removes_separators(raw: str, expected: str) -> None:
    """Document numbers are upper-cased with whitespace and hyphens removed."""
    assert normalise_document_number(raw) == expected


def test_dob_variants_adds_day_month_swap() -> None:
    """A date whose day could be a month also yields its day/month transposition."""
    assert dob_variants("1980-03-04") == ("1980-03-04", "1980-04-03")


@pytest.mark.parametrize("date_of_birth", ["2001-01-30", "1999-12-13", "2000-02-29"])
def test_dob_variants_omits_swap_that_is_not_a_date(date_of_birth: str) -> None:
    """When the day is over 12 its transposition would be month 13 or later, so only the date is returned."""
    assert dob_variants(date_of_birth) == (date_of_birth,)


def test_dob_variants_same_day_and_month_gives_single_variant() -> None:
    """A date with equal day and month has no different transposition."""
    assert dob_variants("1990-05-05") == ("1990-05-05",)


@pytest.mark.parametrize(
    "date_of_birth",
    [
        "2001-02-30",
        "2001-02-29",
        "2001-13-01",
        "2001-00-10",
        "0000-01-01",
        "1980-3-4",
        "04/03/1980",
        "19800304",
        "1980-03-04T00:00",
        " 1980-03-04",
        "１９８０-03-04",
        "",
    ],
)
def test_dob_variants_rejects_malformed_dates_without_echoing_them(date_of_birth: str) -> None:
    """Anything but a valid YYYY-MM-DD calendar date raises ValueError, and the message does not repeat it."""
    with pytest.raises(ValueError, match="date of birth") as excinfo:
        dob_variants(date_of_birth)
    if date_of_birth.strip():
        assert date_of_birth.strip() not in str(excinfo.value)


def test_score_person_exact_dob_keeps_name_score() -> None:
    """With the exact date of birth the confidence is the name score."""
    query = NameQuery.build("Mohammed", "Al-Rashid")
    match = score_person(query, "1980-03-04", "Muhammad", "Alrashid", "1980-03-04")
    expected = round(name_similarity(query, "Muhammad", "Alrashid"), 4)
    assert match == PersonMatch(confidence=expected, dob_exact=True)


def test_score_person_swapped_dob_is_penalised() -> None:
    """A day/month-swapped date of birth still matches, at SWAPPED_DOB_FACTOR of the name score."""
    query = NameQuery.build("Wei", "Zhang")
    match = score_person(query, "1980-03-04", "Wei", "Zhang", "1980-04-03")
    assert match == PersonMatch(confidence=round(SWAPPED_DOB_FACTOR, 4), dob_exact=False)
    assert match.confidence >= DEFAULT_MIN_CONFIDENCE


def test_score_person_swapped_dob_and_name_variant_falls_below_threshold() -> None:
    """Two weak signals together (a swapped date and an initial) do not reach the default threshold."""
    query = NameQuery.build("J. Robert", "Smith")
    match = score_person(query, "1980-03-04", "John Robert", "Smith", "1980-04-03")
    assert match is not None
    assert match.confidence < DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize(
    "candidate_dob", ["1980-03-05", "1981-03-04", "1980-04-04", "", "04/03/1980", "1980-3-4"]
)
def test_score_person_other_dob_is_no_match(candidate_dob: str) -> None:
    """A candidate date that is neither the queried date nor its swap, or is malformed, is no match."""
    query = NameQuery.build("Wei", "Zhang")
    assert score_person(query, "1980-03-04", "Wei", "Zhang", candidate_dob) is None


def test_score_person_rejects_malformed_query_dob() -> None:
    """A malformed queried date raises rather than silently matching nothing."""
    with pytest.raises(ValueError, match="date of birth"):
        score_person(NameQuery.build("Wei", "Zhang"), "1980-02-30", "Wei", "Zhang", "1980-02-30")


def test_score_person_confidence_is_rounded_to_four_decimals() -> None:
    """Confidence is reported to four decimal places."""
    match = score_person(NameQuery.build("Anna", "Kowalski"), "1980-03-04", "Hanna", "Kowalska", "1980-03-04")
    assert match is not None
    assert match.confidence == round(match.confidence, 4)
    assert 0.0 < match.confidence < 1.0


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        ("Acme Shipping Ltd", "ACME SHIPPING LIMITED"),
        ("Acme Shipping Co., Ltd.", "Acme Shipping"),
        ("Pacific Freight Pty Ltd", "Pacific Freight"),
        ("Kiwi Exports LLC", "Kiwi Exports L.L.C."),
        ("Smith & Sons", "Smith and Sons Limited"),
        ("The Ocean Traders Inc", "Ocean Traders Incorporated"),
        ("Müller Logistik GmbH", "Muller Logistik"),
        ("Shipping Acme", "Acme Shipping Company"),
    ],
)
def test_organisation_legal_form_punctuation_and_order_are_ignored(query: str, candidate: str) -> None:
    """Legal-form suffixes, punctuation, '&', case, diacritics and word order do not lower the score."""
    assert organisation_similarity(query, candidate) == 1.0


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        ("Acme Shipping Ltd", "Apex Logistics Ltd"),
        ("Acme Shipping Ltd", "Acme Shipping Holdings Ltd"),
        ("Pacific Freight Ltd", "Atlantic Freight Ltd"),
    ],
)
def test_different_organisations_stay_below_default_threshold(query: str, candidate: str) -> None:
    """Organisations sharing only a legal form or one word do not match."""
    assert organisation_similarity(query, candidate) < DEFAULT_MIN_CONFIDENCE


def test_organisation_legal_form_is_only_stripped_from_the_end() -> None:
    """A legal-form word inside a name is part of the name."""
    assert organisation_similarity("Co Op Supplies", "Op Supplies") < 1.0


def test_organisation_name_of_only_legal_forms_is_kept() -> None:
    """A name that is nothing but legal-form words is compared as it is, not emptied."""
    assert organisation_similarity("Company Limited", "company limited") == 1.0
    assert organisation_similarity("Company Limited", "Acme Limited") < DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize(("query", "candidate"), [("", "Acme Ltd"), ("Acme Ltd", ""), ("...", "---")])
def test_empty_organisation_name_scores_zero(query: str, candidate: str) -> None:
    """An organisation name that normalises to nothing matches nothing."""
    assert organisation_similarity(query, candidate) == 0.0


# Property tests. Name parts mix arbitrary text with words that exercise the
# re-joining, initial and phonetic paths.
_SPLIT_AND_JOINED = ["al", "rashid", "alrashid", "Al-Rashid", "o", "brien", "obrien", "O'Brien", "van", "an"]
_VARIANTS = ["mohammed", "muhammad", "j", "john", "jane", "mary", "anne", "zhang", "wei", "nguyen", "Søren"]
_NAME_WORDS = st.sampled_from([*_SPLIT_AND_JOINED, *_VARIANTS])
_NAME_PART = st.one_of(st.lists(_NAME_WORDS, max_size=4).map(" ".join), st.text(max_size=20))


@given(_NAME_PART, _NAME_PART, _NAME_PART, _NAME_PART)
def test_name_similarity_is_between_zero_and_one(
    query_given: str, query_family: str, given_names: str, family_name: str
) -> None:
    """Any pair of names scores within [0, 1]."""
    assert 0.0 <= _similarity((query_given, query_family, given_names, family_name)) <= 1.0


@given(_NAME_PART, _NAME_PART)
def test_name_compared_with_itself_scores_one(given_names: str, family_name: str) -> None:
    """Any name that normalises to something matches itself exactly."""
    assume(normalise_name(given_names) or normalise_name(family_name))
    assert _similarity((given_names, family_name, given_names, family_name)) == 1.0


@given(_NAME_PART, _NAME_PART, _NAME_PART, _NAME_PART)
def test_name_similarity_is_symmetric_under_swapping_both_sides(
    query_given: str, query_family: str, given_names: str, family_name: str
) -> None:
    """Swapping given and family names on both sides leaves the score unchanged."""
    assert _similarity((query_given, query_family, given_names, family_name)) == _similarity(
        (query_family, query_given, family_name, given_names)
    )


@given(st.text())
def test_normalise_name_is_idempotent(text: str) -> None:
    """Normalising a normalised name changes nothing."""
    once = normalise_name(text)
    assert normalise_name(once) == once


@given(st.text())
def test_normalise_name_yields_lower_case_ascii_words(text: str) -> None:
    """Normalised names are lower-case ASCII letters and digits in words separated by single spaces."""
    assert re.fullmatch(r"([a-z0-9]+( [a-z0-9]+)*)?", normalise_name(text))


@given(st.text())
def test_normalise_document_number_is_idempotent(text: str) -> None:
    """Normalising a normalised document number changes nothing."""
    once = normalise_document_number(text)
    assert normalise_document_number(once) == once


@given(st.text(max_size=40), st.text(max_size=40))
def test_organisation_similarity_is_between_zero_and_one(query: str, candidate: str) -> None:
    """Any pair of organisation names scores within [0, 1]."""
    assert 0.0 <= organisation_similarity(query, candidate) <= 1.0


@given(st.dates(min_value=datetime.date(1, 1, 1)))
def test_dob_variants_are_valid_dates_and_swap_is_an_involution(date: datetime.date) -> None:
    """Every variant is a valid date in the same year, and swapping the swap gives back the original."""
    variants = dob_variants(date.isoformat())
    assert variants[0] == date.isoformat()
    assert 1 <= len(variants) <= 2
    for variant in variants:
        assert datetime.date.fromisoformat(variant).year == date.year
    if len(variants) == 2:
        assert dob_variants(variants[1]) == (variants[1], variants[0])
