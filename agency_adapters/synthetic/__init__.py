"""Deterministic synthetic data for the six agencies' sample databases.

``generate`` builds one shared world (a population of travellers, vessels,
consignments and organisations), then writes each agency's view of it into
that agency's own database through the tables of ``schemas.py``: Customs sees
almost every traveller, Immigration the non-citizens (and some citizens),
MPI, Maritime NZ, Police and NZSIS small overlapping subsets. A few per cent of
the persons another agency holds are entered with the realistic slips the
matcher must survive: dropped diacritics, given and family names swapped,
transliteration variants (Mohammed/Muhammad, ü/ue), hyphens as spaces, a
missing middle name, a day/month-swapped date of birth, an older passport.

A fixed cast of *subjects of interest* (``cast.SUBJECTS``) is inserted at every
size, each under the spellings listed for it, and described in
``subjects_of_interest.json`` so that tests and the demo know the ground
truth.

Everything is drawn from ``random.Random`` and Faker instances seeded from
``seed``, and the synthetic world's "today" is fixed (``REFERENCE_DATE``), so
the same ``seed`` and ``people`` give identical rows on any machine and
database. Identifiers follow real formats: IMO numbers and NZBNs carry valid
check digits, master air waybills the IATA modulus-7 check digit, ports are
UN/LOCODEs. Customs client codes use an invented format (the real one is not
public; DOMAIN.md section 4).

The package's API is this module's ``__all__``; its modules are internal:

- ``generation``: ``generate`` and its report, agency by agency
- ``reference``: static reference data (names, ports, ships, goods, visas...)
- ``checks``: check digits of IMO numbers, NZBNs and air waybills
- ``draws``: seeded random draws shared by everything below
- ``population``, ``world``: the shared world built from one seeded stream
- ``records``, ``cast``: the hand-written subjects of interest
- ``slips``: how another agency mistypes a person
- ``build``: what an agency builder writes through; where it keeps a subject
- ``customs``, ``immigration``, ``mpi``, ``maritime``, ``police``, ``nzsis``:
  each agency's view of the world
- ``loader``: writing rows into a database, refusing or replacing
- ``truth``: the ground truth written to ``subjects_of_interest.json``

Left out: the mapping files (``mappings/*.yaml`` describe these tables; nothing
here reads them), serving the data, and anything resembling a real person. A
run that fails part-way (a database going away) may leave earlier agencies
written; run again with ``replace=True``.
"""

from __future__ import annotations

from agency_adapters.synthetic.checks import imo_check_digit, nzbn_check_digit
from agency_adapters.synthetic.generation import GenerationReport, generate
from agency_adapters.synthetic.loader import CHUNK_ROWS, default_database_url
from agency_adapters.synthetic.reference import REFERENCE_DATE
from agency_adapters.synthetic.truth import SUBJECTS_FILE, subjects_of_interest

__all__ = [
    "CHUNK_ROWS",
    "REFERENCE_DATE",
    "SUBJECTS_FILE",
    "GenerationReport",
    "default_database_url",
    "generate",
    "imo_check_digit",
    "nzbn_check_digit",
    "subjects_of_interest",
]
