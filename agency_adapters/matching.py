"""Decide whether a database row is the subject of a lookup: names, dates of birth, organisations.

An agency adapter calls these functions on every candidate row, so the query side is
precomputed once (``NameQuery.build``) and each candidate costs a handful of calls into
``rapidfuzz`` and ``jellyfish``. Transliteration and diacritic folding is ``anyascii``.

Person names are scored as a multiset of tokens, ignoring which field a token came from::

    1. Normalise both sides (``normalise_name``): NFKC, transliterate to ASCII, lower
       case, apostrophes dropped, other punctuation to spaces. "Nguyễn" -> "nguyen".
    2. Re-join split tokens: a run of adjacent tokens in one field whose concatenation
       equals a token on the other side becomes one token ("al rashid" ~ "alrashid",
       "o brien" ~ "obrien", "zhang wei" ~ "zhangwei").
    3. Pair tokens greedily, best pair first, exact pairs before any fuzzy pair. A pair
       scores 1.0 if equal; 0.9 if one is an initial of the other; otherwise the mean
       of Jaro-Winkler and OSA (Damerau-Levenshtein) similarity, raised to 0.95 if the
       two are phonetic variants: the same Metaphone key of two or more letters, the
       same vowel ending (Daniel/Daniela are not variants) and, for a two-letter key,
       the same vowels (John/Jon are, Tom/Tim are not); y counts as i throughout.
    4. The name score is the product of the pair scores, times 0.95 for each token left
       over on the longer side (a missing middle name), times 0.7 if one side is a single
       token and the other is not (one matching token does not identify a person).

Because the fields are ignored, given and family names may be swapped or split
differently ("Nguyen Van An" against given "An", family "Nguyen Van") at no cost.
Against ``DEFAULT_MIN_CONFIDENCE`` the product means: one or two recognised spelling
variants pass (Mohammed Al Rashid / Muhammad Al Rasheed scores 0.95 * 0.95); one typo
in a name of five or more letters usually passes (Smith/Smiht 0.88), one in a shorter
name usually does not (Anna/Anne 0.82), since there a letter is much of the name; two
typos in different name parts do not (Anna Kowalski / Hanna Kowalska 0.79).

Known limits, deliberately not handled:

* Nickname and hypocoristic forms with different consonants or a different initial
  vowel (Ioannis/Yannis 0.78, Omar/Umar 0.79, William/Bill) need a curated variant
  table; they score below the default threshold.
* Masculine and feminine forms one letter apart (Daniel/Daniela 0.91, Maria/Mario 0.86)
  look like a typo and pass; separating them needs the subject's sex, which a name
  lookup does not carry.
* anyascii reads Han characters in Mandarin and Hangul in Revised Romanisation, so
  Cantonese (Cheung for Zhang) or McCune-Reischauer (Kim for Gim) spellings of a
  name written in its own script only match as far as their letters do.

No IO here: no database, no network, no logging, no caches. Inputs are personal data,
so nothing in this module puts a name or a date into an exception message or a repr.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import jellyfish
from anyascii import anyascii
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "SWAPPED_DOB_FACTOR",
    "NameQuery",
    "PersonMatch",
    "dob_variants",
    "name_similarity",
    "normalise_document_number",
    "normalise_name",
    "organisation_similarity",
    "score_person",
]

#: The threshold an adapter should use unless its mapping says otherwise. Calibrated on
#: the tables in tests/test_matching.py: a recognised spelling variant (Mohammed /
#: Muhammad), a typo in a longer name (Smith/Smiht), an initial or a middle name
#: recorded on one side only stays above it; a different name part (John/Jane Smith)
#: or two typos in different parts (Anna Kowalski / Hanna Kowalska) fall below it.
DEFAULT_MIN_CONFIDENCE: float = 0.85

#: A date of birth with day and month transposed is a common data-entry error but weaker
#: evidence than an exact date: a perfect name with a swapped date still passes the
#: default threshold (0.9); a name with any discrepancy (<= 0.95) then falls below it.
SWAPPED_DOB_FACTOR: float = 0.9

# Pair and name scores; step numbers refer to the module docstring.
_INITIAL_SCORE = 0.9  # 3: "j" for "john" is consistent but weak evidence.
_PHONETIC_VARIANT_SCORE = 0.95  # 3: Mohammed/Muhammad, Yusuf/Youssef, Aleksandr/Alexander.
_MIN_PHONETIC_KEY = 2  # 3: single-letter keys ("W" for Wei, Way, Wu) say nothing.
_FULL_PHONETIC_KEY = 3  # 3: shorter keys also need equal vowels (John/Jon yes, Tom/Tim no).
_EXTRA_TOKEN_FACTOR = 0.95  # 4: a middle name recorded on one side only.
_ONE_TOKEN_FACTOR = 0.7  # 4: a lone family name matching is not an identification.

# Han ideographs and Hangul syllables are one syllable each; anyascii runs them
# together ("张伟" -> "ZhangWei"), so each is spaced out first ("zhang wei").
_CJK_SYLLABLE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7a3]")
# Applied to lower-case ASCII: apostrophes join ("O'Brien" -> "obrien"; anyascii has
# already turned U+2019, U+02BC, U+02BB and U+00B4 into one of these two), and every
# other character that is not a letter or digit separates words.
_FOLD_ASCII = {code: " " for code in range(128) if not chr(code).isalnum()} | {
    ord("'"): None,
    ord("`"): None,
}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DOCUMENT_SEPARATORS = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014\u2212]+")

# Legal-form words stripped from the end of organisation names. Multi-word forms
# ("pty ltd", "co ltd", "private limited", "sdn bhd") fall away one word at a time.
_LEGAL_FORMS = frozenset(
    [
        "ag",
        "bhd",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "inc",
        "incorporated",
        "kk",
        "limited",
        "llc",
        "llp",
        "lp",
        "ltd",
        "nv",
        "plc",
        "private",
        "pte",
        "pty",
        "pvt",
        "sa",
        "sarl",
        "sas",
        "sdn",
        "spa",
        "srl",
    ]
)

# Bound once: these run for every token pair of every candidate.
_jaro_winkler = JaroWinkler.normalized_similarity
_osa = OSA.normalized_similarity
_metaphone = jellyfish.metaphone

# Vowels of a word in order, y read as i: "sergey" -> "eei". See _pair_score.
_VOWELS = {ord(letter): None for letter in "bcdfghjklmnpqrstvwxz0123456789"} | {ord("y"): "i"}

# A word ready for scoring: (text, Metaphone key, vowel ending, vowels).
_Token = tuple[str, str, str, str]


def _words(text: str) -> list[str]:
    """``normalise_name`` without the final join, for the per-candidate path."""
    if text.isascii():
        if text.isalnum():
            return [text.lower()]
    else:
        text = unicodedata.normalize("NFKC", text)
        text = anyascii(_CJK_SYLLABLE.sub(lambda syllable: f" {syllable.group()} ", text))
    return text.lower().translate(_FOLD_ASCII).split()


def normalise_name(text: str) -> str:
    """Return ``text`` as lower-case ASCII words separated by single spaces.

    NFKC first (full-width letters, ligatures), then ``anyascii`` transliteration
    ("Søren" -> "soren", "Łukasz" -> "lukasz", "Александр" -> "aleksandr"). Apostrophes
    are removed so "O'Brien" and "OBrien" agree; every other non-alphanumeric run
    (hyphens, dots, commas) becomes one space. Han and Hangul characters become one
    word each ("张伟" -> "zhang wei"). Idempotent.
    """
    return " ".join(_words(text))


def normalise_document_number(text: str) -> str:
    """Return a document number upper-cased, without whitespace or hyphens: "ab 123-456" -> "AB123456"."""
    text = _DOCUMENT_SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    # Removing a separator can leave combining marks out of canonical order, and
    # upper-casing can leave a string that is not NFKC: normalise once more so that
    # the function is idempotent on any input, not only on sensible ones.
    return _DOCUMENT_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))


def _vowel_ending(word: str) -> str:
    """The final vowel (y read as i), or "" for a word ending in a consonant."""
    last = "i" if word[-1] == "y" else word[-1]
    return last if last in "aeiou" else ""


def _token(word: str) -> _Token:
    return (word, _metaphone(word), _vowel_ending(word), word.translate(_VOWELS))


def _spans(fields: Iterable[Sequence[str]]) -> frozenset[str]:
    """Every concatenation of two or more adjacent words within one field."""
    return frozenset(
        "".join(words[start:end])
        for words in fields
        for start in range(len(words) - 1)
        for end in range(start + 2, len(words) + 1)
    )


def _merge(fields: Iterable[Sequence[str]], targets: frozenset[str]) -> list[str]:
    """Flatten ``fields``, joining the longest runs of adjacent words found in ``targets`` (step 2)."""
    merged: list[str] = []
    for words in fields:
        if len(words) < 2:
            merged.extend(words)
            continue
        start = 0
        while start < len(words):
            for end in range(len(words), start + 1, -1):
                joined = "".join(words[start:end])
                if joined in targets:
                    merged.append(joined)
                    start = end
                    break
            else:
                merged.append(words[start])
                start += 1
    return merged


@dataclass(frozen=True, slots=True)
class NameQuery:
    """The query side of a person lookup, normalised and tokenised once; make one with ``build``.

    Every field is personal data and left out of the repr, because a query object is the
    kind of thing that ends up in a log line.
    """

    parts: tuple[tuple[str, ...], tuple[str, ...]] = field(repr=False)  # given, family
    tokens: tuple[_Token, ...] = field(repr=False)  # sorted by text
    words: frozenset[str] = field(repr=False)
    spans: frozenset[str] = field(repr=False)

    @classmethod
    def build(cls, given_names: str, family_name: str) -> NameQuery:
        """Normalise and tokenise a queried name."""
        parts = (tuple(_words(given_names)), tuple(_words(family_name)))
        words = parts[0] + parts[1]
        return cls(
            parts=parts,
            tokens=tuple(_token(word) for word in sorted(words)),
            words=frozenset(words),
            spans=_spans(parts),
        )


def _pair_score(a: _Token, b: _Token) -> float:
    """Score two different words (step 3)."""
    x, y = a[0], b[0]
    if len(x) == 1 or len(y) == 1:
        return _INITIAL_SCORE if x[0] == y[0] else 0.0
    score = (_jaro_winkler(x, y) + _osa(x, y)) / 2
    if (
        score < _PHONETIC_VARIANT_SCORE
        # Metaphone keeps only consonant sounds, so two checks put vowels back where
        # they carry meaning. The vowel ending separates masculine and feminine forms
        # (Daniel/Daniela, Kowalski/Kowalska, Peter/Petra) ...
        and a[2] == b[2]
        and a[1] == b[1]
        and len(a[1]) >= _MIN_PHONETIC_KEY
        # ... and in a name of only two consonant sounds the vowel is half the name
        # (Tom/Tim, Jan/Jon, Chen/Chan), so there every vowel must agree.
        and (len(a[1]) >= _FULL_PHONETIC_KEY or a[3] == b[3])
    ):
        return _PHONETIC_VARIANT_SCORE
    return score


def _token_multiset_score(left: Sequence[_Token], right: Sequence[str]) -> float:
    """Steps 3 and 4 on two token lists, each sorted by text."""
    shorter, longer = sorted((len(left), len(right)))
    if shorter == 0:
        return 0.0
    # Exact pairs first: no fuzzy pair can score 1.0, so greedy would take them first too.
    rest_left: list[_Token] = []
    rest_right = list(right)
    for token in left:
        if token[0] in rest_right:
            rest_right.remove(token[0])
        else:
            rest_left.append(token)
    score = 1.0
    if len(rest_left) == 1 and len(rest_right) == 1:
        score = _pair_score(rest_left[0], _token(rest_right[0]))
    elif rest_left and rest_right:
        others = [_token(word) for word in rest_right]
        pairs = [(_pair_score(a, b), i, j) for i, a in enumerate(rest_left) for j, b in enumerate(others)]
        # A stable sort keeps ties in index order, so the result depends only on the
        # two token multisets.
        pairs.sort(key=lambda pair: -pair[0])
        used_left: set[int] = set()
        used_right: set[int] = set()
        wanted = min(len(rest_left), len(rest_right))
        for pair_score, i, j in pairs:
            if i in used_left or j in used_right:
                continue
            used_left.add(i)
            used_right.add(j)
            score *= pair_score
            if len(used_left) == wanted:
                break
    score *= _EXTRA_TOKEN_FACTOR ** (longer - shorter)
    if shorter == 1 and longer > 1:
        score *= _ONE_TOKEN_FACTOR
    return score


def name_similarity(query: NameQuery, given_names: str, family_name: str) -> float:
    """Score a candidate's name against the query, 0.0 to 1.0; see the module docstring.

    Symmetric in the fields of either side: swapping given and family names on the
    query, the candidate or both gives the same score. An empty name scores 0.0.
    """
    fields = (_words(given_names), _words(family_name))
    words = fields[0] + fields[1]
    if not words:
        return 0.0
    left: Sequence[_Token] = query.tokens
    if not query.spans.isdisjoint(words):
        left = [_token(word) for word in sorted(_merge(query.parts, frozenset(words)))]
    right = sorted(_merge(fields, query.words))
    return _token_multiset_score(left, right)


def dob_variants(date_of_birth: str) -> tuple[str, ...]:
    """Return the ISO date itself, then its day/month transposition if that is a different date.

    Raises ``ValueError`` unless ``date_of_birth`` is a valid ``YYYY-MM-DD`` calendar
    date. The message never repeats the input.
    """
    if _ISO_DATE.fullmatch(date_of_birth) is None:
        raise ValueError("date of birth is not in YYYY-MM-DD form")
    try:
        datetime.date.fromisoformat(date_of_birth)
    except ValueError:
        raise ValueError("date of birth is not a calendar date") from None
    month, day = date_of_birth[5:7], date_of_birth[8:]
    # A day of 01..12 is a valid month, and a month is a valid day in every month, so
    # the transposition is a real date exactly when the day is at most 12.
    if day > "12" or day == month:
        return (date_of_birth,)
    return (date_of_birth, f"{date_of_birth[:4]}-{day}-{month}")


@dataclass(frozen=True, slots=True)
class PersonMatch:
    """How well a candidate row matches a person query."""

    confidence: float  # 0..1, rounded to 4 decimals
    dob_exact: bool  # False when the day and month were transposed


def score_person(
    query: NameQuery, query_dob: str, given_names: str, family_name: str, date_of_birth: str
) -> PersonMatch | None:
    """Score a candidate person, or ``None`` if its date of birth cannot be the queried one.

    The date must equal ``query_dob`` or its day/month transposition (compared as ISO
    strings; a malformed candidate date simply does not match). A transposed date
    multiplies the name score by ``SWAPPED_DOB_FACTOR``. Raises ``ValueError`` if
    ``query_dob`` is malformed. Thresholding is the caller's job.
    """
    variants = dob_variants(query_dob)
    if date_of_birth == variants[0]:
        factor, exact = 1.0, True
    elif date_of_birth in variants[1:]:
        factor, exact = SWAPPED_DOB_FACTOR, False
    else:
        return None
    confidence = name_similarity(query, given_names, family_name) * factor
    return PersonMatch(confidence=round(confidence, 4), dob_exact=exact)


def _organisation_words(name: str) -> list[str]:
    # Dots are dropped rather than spaced so "L.L.C." and "S.A." become "llc" and "sa".
    words = normalise_name(name.replace("&", " and ").replace(".", "")).split()
    if words and words[0] == "the":
        words = words[1:]
    end = len(words)
    while end > 0 and words[end - 1] in _LEGAL_FORMS:
        end -= 1
    # A name that is nothing but legal-form words ("Company Limited") keeps them.
    return words[:end] if end else words


def organisation_similarity(query: str, candidate: str) -> float:
    """Score two organisation names, 0.0 to 1.0, ignoring legal form, punctuation and word order.

    Trailing legal-form words (Ltd, Limited, Pty, LLC, Co, Inc, GmbH, ...) and a leading
    "The" are removed, "&" reads as "and", then the sorted words are compared with
    rapidfuzz's ``token_sort_ratio``. An empty name on either side scores 0.0.
    """
    left, right = _organisation_words(query), _organisation_words(candidate)
    if not left or not right:
        return 0.0
    return fuzz.token_sort_ratio(" ".join(left), " ".join(right)) / 100.0
