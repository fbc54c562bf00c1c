"""How another agency types a person in: usually exactly, sometimes with one slip.

``identity_of`` is a person's identity as the agency that knows them best
holds it; ``noisy_identity`` is the same, except that a few per cent of the
time it carries one realistic slip the matcher must survive: dropped
diacritics, given and family names swapped, transliteration variants
(Mohammed/Muhammad, ü/ue), hyphens as spaces, a missing middle name, a
day/month-swapped date of birth, an older passport. Left out: the matcher
itself (``agency_adapters/matching.py``) and the cast's hand-written
variants (``cast.py``).
"""

from __future__ import annotations

import random
import unicodedata
from typing import Any

from agency_adapters.synthetic.draws import from_pattern
from agency_adapters.synthetic.population import Person
from agency_adapters.synthetic.reference import FAMILY_FIRST, PASSPORT_FORMATS

__all__ = ["identity_of", "noisy_identity"]


_NOISE_RATE = 0.03  # share of records another agency enters with a spelling slip

# fmt: off
# Spelling variants of whole name tokens, as different agencies transliterate them.
_TRANSLITERATIONS: dict[str, tuple[str, ...]] = {
    "Mohammed": ("Muhammad", "Mohamed", "Mohammad"),
    "Ahmed": ("Ahmad",),
    "Youssef": ("Yousef", "Yusuf"),
    "Omar": ("Umar",),
    "Khalid": ("Khaled",),
    "Hussein": ("Husain", "Hussain"),
    "Abdullah": ("Abdallah",),
    "Aisha": ("Aysha", "Ayesha"),
    "Fatima": ("Fatma",),
    "Mariam": ("Maryam",),
    "Sione": ("Sioni",),
}
_GERMANIC = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
                           "ø": "oe", "Ø": "Oe", "å": "aa", "Å": "Aa", "æ": "ae", "Æ": "Ae"})
# Letters that Unicode decomposition does not reduce to ASCII.
_UNDECOMPOSABLE = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "ı": "i", "đ": "d",
                                 "Đ": "D", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe"})
# fmt: on


def _fold(text: str) -> str:
    """Drop diacritics, as systems limited to ASCII do."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def identity_of(person: Person) -> dict[str, Any]:
    return {
        "given_names": person.given,
        "family_name": person.family,
        "date_of_birth": person.dob,
        "sex": person.sex,
        "nationality": person.nationality,
        "passport_number": person.passport_no,
        "passport_country": person.passport_country,
        "passport_expiry": person.passport_expiry,
    }


def noisy_identity(rng: random.Random, person: Person, passports: set[tuple[str, str]]) -> dict[str, Any]:
    """The person as another agency typed them in: usually exact, sometimes with one slip."""
    identity = identity_of(person)
    if rng.random() >= _NOISE_RATE:
        return identity
    given, family, dob = person.given, person.family, person.dob
    # Weighted by how often each slip happens to names of this kind; given and family names
    # are swapped mostly where the family name is written first at home.
    slips = ["old_passport", "swap"] + ["swap"] * 3 * (person.pool in FAMILY_FIRST)
    if _fold(given + family) != given + family:
        slips += ["fold"] * 3
    if (given + family).translate(_GERMANIC) != given + family:
        slips += ["germanic"] * 2
    if any(token in _TRANSLITERATIONS for token in given.split()):
        slips += ["transliterate"] * 3
    if "-" in family or "'" in family or " " in family:
        slips += ["punctuation"] * 2
    if " " in given:
        slips += ["middle"] * 2
    if dob.day <= 12 and dob.day != dob.month:
        slips.append("dob")
    slip = rng.choice(slips)
    if slip == "swap":
        identity["given_names"], identity["family_name"] = family, given
    elif slip == "fold":
        identity["given_names"], identity["family_name"] = _fold(given), _fold(family)
    elif slip == "germanic":
        identity["given_names"], identity["family_name"] = (
            given.translate(_GERMANIC),
            family.translate(_GERMANIC),
        )
    elif slip == "transliterate":
        identity["given_names"] = " ".join(rng.choice(_TRANSLITERATIONS.get(t, (t,))) for t in given.split())
    elif slip == "punctuation":
        identity["family_name"] = (
            family.replace("'", "").replace("-", " ")
            if "-" in family or "'" in family
            else (family.replace(" ", "-"))
        )
    elif slip == "middle":
        identity["given_names"] = given.split()[0]
    elif slip == "dob":
        identity["date_of_birth"] = dob.replace(day=dob.month, month=dob.day)
    else:
        # A previous passport: same issuing state, a number no one else holds.
        country = person.passport_country
        while True:
            number = from_pattern(rng, PASSPORT_FORMATS.get(country, "AA9999999"))
            if (number, country) not in passports:
                break
        passports.add((number, country))
        identity["passport_number"] = number
    return identity
