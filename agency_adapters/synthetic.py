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

A fixed cast of *subjects of interest* (``_SUBJECTS``) is inserted at every
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

Left out: the mapping files (``mappings/*.yaml`` describe these tables; nothing
here reads them), serving the data, and anything resembling a real person. A
run that fails part-way (a database going away) may leave earlier agencies
written; run again with ``replace=True``.
"""

from __future__ import annotations

import json
import random
import unicodedata
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

from faker import Faker
from sqlalchemy import Connection, Date, DateTime, MetaData, create_engine, inspect, make_url, select

from agency_adapters.schemas import AGENCY_METADATA
from fedgate.model import AGENCIES

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

CHUNK_ROWS = 5000  # rows per executemany: large enough to amortise round trips, small enough for memory
REFERENCE_DATE = date(2025, 7, 1)  # the synthetic world's "today"; fixed so output never depends on the clock
SUBJECTS_FILE = "subjects_of_interest.json"

_HISTORY_START = date(2018, 7, 1)
_BORDER_CLOSED = (date(2020, 3, 20), date(2022, 2, 27))  # NZ border closure; few crossings then
_APP_SINCE = date(2024, 1, 1)  # APP records older than this are not kept in the sample
_POOL_SIZE = 300  # names drawn from Faker per locale and sex; sampling a pool is far cheaper than Faker
_MAX_DRAWS = 10_000  # bounds the search for an unused identifier; the spaces are far larger
_NOISE_RATE = 0.03  # share of records another agency enters with a spelling slip

_T = TypeVar("_T")
_Row = dict[str, Any]


# --- Check digits ------------------------------------------------------------


def imo_check_digit(first_six: str) -> int:
    """IMO ship number check digit: digits 1-6 weighted 7..2, last digit of the sum (IMO A.600(15))."""
    return sum(int(d) * w for d, w in zip(first_six, (7, 6, 5, 4, 3, 2), strict=True)) % 10


def nzbn_check_digit(first_twelve: str) -> int:
    """GS1 check digit of a 13-digit NZBN (GTIN-13 rule: weights 1,3,1,3,... from the left)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first_twelve))
    return (10 - total % 10) % 10


def _awb_serial(seven: str) -> str:
    # IATA air waybill serial: 7 digits and their remainder modulo 7.
    return seven + str(int(seven) % 7)


# --- Report and API ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GenerationReport:
    """What ``generate`` wrote: rows per agency and table, and where the ground truth is."""

    people: int
    seed: int
    row_counts: Mapping[str, Mapping[str, int]]
    subjects_path: Path
    database_urls: Mapping[str, str] = field(default_factory=dict)  # passwords hidden

    @property
    def total_rows(self) -> int:
        return sum(sum(tables.values()) for tables in self.row_counts.values())


def default_database_url(data_dir: Path, agency: str) -> str:
    """The SQLite URL the mapping files default to: ``sqlite:///{data_dir}/<agency>.sqlite``."""
    return f"sqlite:///{Path(data_dir).resolve() / f'{agency}.sqlite'}"


def subjects_of_interest(data_dir: Path) -> list[dict[str, Any]]:
    """Read back the subjects-of-interest ground truth written by ``generate``.

    Each entry has ``key`` (``soi-01``), ``kind``, ``canonical`` (the true identity:
    names, ``date_of_birth``, ``passport_number``/``passport_country``; or
    ``imo_number``, ``call_sign``; ``consignment_id``; ``legal_name``,
    ``client_code``, ``nzbn``, ``country``), a one-line ``story``, and
    ``held_by``: per agency the ``subject_table`` and ``subject_key``, the
    ``variant`` in words, the identity as ``stored`` (same names as
    ``canonical``; null where the agency holds nothing) and ``records``, the
    record ids per category.
    """
    document = json.loads((Path(data_dir) / SUBJECTS_FILE).read_text(encoding="utf-8"))
    subjects: list[dict[str, Any]] = document["subjects"]
    return subjects


def generate(
    data_dir: Path,
    *,
    people: int,
    seed: int,
    database_urls: Mapping[str, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
    replace: bool = False,
) -> GenerationReport:
    """Write every agency's sample database and ``data_dir/subjects_of_interest.json``.

    ``database_urls`` maps agency names to SQLAlchemy URLs; agencies it leaves
    out get ``default_database_url``. A database whose tables already hold
    rows is refused with ``ValueError`` (before anything is written) unless
    ``replace`` is true, which drops and recreates that agency's tables only.
    ``progress(agency, rows)`` is called after each batch with the number of
    rows written for that agency so far.
    """
    if people < 0:
        raise ValueError("people must be zero or more")
    urls = dict(database_urls or {})
    unknown = sorted(set(urls) - set(AGENCIES))
    if unknown:
        raise ValueError(f"unknown agencies in database_urls: {', '.join(unknown)}")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for agency in AGENCIES:
        urls.setdefault(agency, default_database_url(data_dir, agency))

    # Check every target first, so a refusal leaves nothing half-written.
    for agency in AGENCIES:
        _check_empty(agency, urls[agency], replace=replace)

    world = _World.build(people, seed)
    counts: dict[str, dict[str, int]] = {}
    ground_truth = _GroundTruth()
    for agency in AGENCIES:
        rng = random.Random(f"{seed}:{agency}")
        counts[agency] = _write_agency(agency, urls[agency], world, rng, ground_truth, progress, replace)

    subjects_path = data_dir / SUBJECTS_FILE
    document = {"generated_with": {"people": people, "seed": seed}, "subjects": ground_truth.subjects()}
    subjects_path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    shown = {a: make_url(u).render_as_string(hide_password=True) for a, u in urls.items()}
    return GenerationReport(people, seed, counts, subjects_path, shown)


# --- Database loading --------------------------------------------------------


def _check_empty(agency: str, url: str, *, replace: bool) -> None:
    if replace:
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            existing = set(inspect(conn).get_table_names())
            for table in AGENCY_METADATA[agency].sorted_tables:
                if table.name in existing and conn.execute(select(1).select_from(table).limit(1)).first():
                    where = engine.url.render_as_string(hide_password=True)
                    raise ValueError(
                        f"{agency}: table {table.name!r} in {where} already holds rows; "
                        "pass replace=True to drop and recreate this agency's tables"
                    )
    finally:
        engine.dispose()


class _Loader:
    """Buffers rows per table and inserts them in chunks, parents before children."""

    def __init__(
        self, conn: Connection, metadata: MetaData, agency: str, progress: Callable[[str, int], None] | None
    ):
        self._conn = conn
        self._agency = agency
        self._progress = progress
        self._tables = {t.name: t for t in metadata.sorted_tables}
        self._keys = {name: next(iter(t.primary_key.columns)).name for name, t in self._tables.items()}
        self._next = {name: _FIRST_KEY.get(name, 1) for name in self._tables}
        self._buffers: dict[str, list[_Row]] = {name: [] for name in self._tables}
        self.counts = dict.fromkeys(self._tables, 0)

    def add(self, table: str, row: _Row) -> int:
        key = self._next[table]
        self._next[table] = key + 1
        row[self._keys[table]] = key
        buffer = self._buffers[table]
        buffer.append(row)
        if len(buffer) >= CHUNK_ROWS:
            self.flush()
        return key

    def add_literal(self, table: str, values: Mapping[str, Any]) -> int:
        """Add a hand-written row: missing columns become NULL, ISO strings become dates."""
        row: _Row = {}
        for column in self._tables[table].columns:
            value = values.get(column.name)
            if isinstance(value, str) and isinstance(column.type, DateTime):
                value = datetime.fromisoformat(value)
            elif isinstance(value, str) and isinstance(column.type, Date):
                value = date.fromisoformat(value)
            row[column.name] = value
        return self.add(table, row)

    def flush(self) -> None:
        # Whole flushes in dependency order keep foreign keys satisfied on
        # databases that check them immediately (PostgreSQL).
        for name, table in self._tables.items():
            buffer = self._buffers[name]
            if buffer:
                self._conn.execute(table.insert(), buffer)
                self.counts[name] += len(buffer)
                buffer.clear()
                if self._progress is not None:
                    self._progress(self._agency, sum(self.counts.values()))


def _write_agency(
    agency: str,
    url: str,
    world: _World,
    rng: random.Random,
    truth: _GroundTruth,
    progress: Callable[[str, int], None] | None,
    replace: bool,
) -> dict[str, int]:
    metadata = AGENCY_METADATA[agency]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                saved = [
                    conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("journal_mode", "synchronous")
                ]
                # Bulk load: no fsync per transaction; restored below.
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
                conn.exec_driver_sql("PRAGMA synchronous=OFF")
                conn.commit()
            with conn.begin():
                if replace:
                    metadata.drop_all(conn)
                metadata.create_all(conn)
                loader = _Loader(conn, metadata, agency, progress)
                _BUILDERS[agency](_Build(world, rng, loader, truth, agency))
                loader.flush()
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA journal_mode={saved[0]}")
                conn.exec_driver_sql(f"PRAGMA synchronous={int(saved[1] or 0)}")
                conn.commit()
            return loader.counts
    finally:
        engine.dispose()


# First key per table, so each agency's keys look like its own numbering.
_FIRST_KEY = {
    "travellers": 1_000_001,
    "clients": 20_100_001,
    "biosecurity_persons": 501,
    "seafarers": 70_001,
    "nia_persons": 4_200_001,
    "persons_of_interest": 9_001,
    "traders": 10_001,
    "importers": 3_001,
    "craft": 601,
    "ships": 12_001,
    "cargo_consignments": 5_000_001,
    "biosecurity_consignments": 800_001,
}


# --- Reference data ----------------------------------------------------------

# fmt: off
# (name pool, nationality, weight): a mix shaped like New Zealand's arrivals.
_NATIONALITIES: tuple[tuple[str, str, float], ...] = (
    ("en_NZ", "NZL", 30.0),
    ("en_AU", "AUS", 14.0),
    ("zh_CN", "CHN", 7.0),
    ("en_IN", "IND", 6.0),  # Latin-script Indian names; hi_IN's are Devanagari
    ("en_GB", "GBR", 6.0),
    ("en_US", "USA", 5.0),
    ("fil_PH", "PHL", 3.0),
    ("de_DE", "DEU", 3.0),
    ("ja_JP", "JPN", 2.5),
    ("samoan", "WSM", 2.0),
    ("fr_FR", "FRA", 2.0),
    ("vi_VN", "VNM", 2.0),
    ("tongan", "TON", 1.5),
    ("id_ID", "IDN", 1.5),
    ("es_ES", "ESP", 1.5),
    ("pt_BR", "BRA", 1.5),
    ("it_IT", "ITA", 1.2),
    ("nl_NL", "NLD", 1.2),
    ("pl_PL", "POL", 1.0),
    ("tr_TR", "TUR", 0.8),
    ("da_DK", "DNK", 0.8),
    ("arabic", "JOR", 0.5),
    ("arabic", "EGY", 0.5),
)
_FAMILY_FIRST = frozenset({"zh_CN", "ja_JP", "vi_VN"})  # written family name first at home
_NO_MIDDLE = _FAMILY_FIRST | {"id_ID", "samoan", "tongan"}

# Hand-kept pools where Faker has no Latin-script locale: (male, female, family).
_HAND_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "samoan": (
        ("Tavita", "Iosefa", "Ioane", "Sefo", "Fetu", "Pita", "Mikaele", "Tui", "Lemalu", "Faamanu"),
        ("Malia", "Losa", "Lusia", "Mele", "Fetu", "Sina", "Leilani", "Ana", "Tina", "Moana"),
        ("Leota", "Faleolo", "Tuilagi", "Sapolu", "Aumua", "Fuimaono", "Toleafoa", "Masoe", "Pouono",
         "Leiataua"),
    ),
    "tongan": (
        ("Sione", "Siosaia", "Tevita", "Viliami", "Sitani", "Semisi", "Pita", "Tomasi", "Lisiate", "Taniela"),
        ("Mele", "Sela", "Losana", "'Ana", "Salote", "Seini", "Luseane", "Kalolaine", "Fifita", "Ofa"),
        ("Fifita", "Taufa", "Tupou", "Havili", "Lolohea", "Vaipulu", "Fonua", "Latu", "Moala", "Tu'ipulotu"),
    ),
    "arabic": (
        ("Mohammed", "Ahmed", "Youssef", "Omar", "Khalid", "Hussein", "Abdullah", "Karim", "Tariq", "Sami"),
        ("Fatima", "Aisha", "Layla", "Mariam", "Noor", "Rania", "Huda", "Salma", "Yasmin", "Dina"),
        ("Al-Masri", "Haddad", "Khalil", "Nasser", "Al-Khatib", "Saleh", "Mansour", "Hamdan", "Awad",
         "Darwish"),
    ),
}

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

# Passport number patterns: A letter, 9 digit, X letter or digit; a literal otherwise.
_PASSPORT_FORMATS = {
    "NZL": "AA999999",
    "AUS": "AA9999999",
    "GBR": "999999999",
    "USA": "A99999999",
    "CHN": "E99999999",
    "IND": "A9999999",
    "DEU": "CXXXXXXXX",
    "FRA": "99AA99999",
    "ESP": "AAA999999",
    "JPN": "AA9999999",
    "VNM": "C9999999",
    "DNK": "999999999",
    "TUR": "U99999999",
    "WSM": "AA999999",
    "TON": "A9999999",
}
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # I and O left out, as many issuers do
_ALNUM = "CFGHJKLMNPRTVWXYZ0123456789"  # the German passport alphabet

_NZ_AIRPORTS = (("NZAKL", 70.0), ("NZCHC", 17.0), ("NZWLG", 8.0), ("NZZQN", 5.0))
# (overseas airport, flight hours, carriers, weight)
_AIR_ROUTES: tuple[tuple[str, int, tuple[str, ...], float], ...] = (
    ("AUSYD", 3, ("NZ", "QF", "JQ", "VA"), 20.0),
    ("AUMEL", 4, ("NZ", "QF", "JQ"), 12.0),
    ("AUBNE", 3, ("NZ", "QF", "VA"), 10.0),
    ("FJNAN", 3, ("FJ", "NZ"), 5.0),
    ("WSAPW", 4, ("NZ",), 3.0),
    ("TOTBU", 3, ("NZ",), 3.0),
    ("SGSIN", 10, ("SQ", "NZ"), 6.0),
    ("HKHKG", 11, ("CX", "NZ"), 4.0),
    ("CNSHA", 12, ("MU", "NZ"), 4.0),
    ("CNCAN", 11, ("CZ",), 4.0),
    ("AEDXB", 17, ("EK",), 5.0),
    ("QADOH", 17, ("QR",), 3.0),
    ("USLAX", 13, ("NZ", "AA"), 4.0),
    ("USSFO", 13, ("UA", "NZ"), 3.0),
    ("JPTYO", 11, ("NZ",), 2.0),
    ("KRSEL", 12, ("KE",), 1.5),
    ("MYKUL", 11, ("MH",), 1.0),
    ("THBKK", 12, ("TG",), 1.0),
    ("INDEL", 16, ("AI",), 1.5),
    ("VNSGN", 11, ("VN",), 1.0),
    ("CLSCL", 12, ("LA",), 1.0),
    ("CAYVR", 14, ("AC",), 1.0),
    ("USHNL", 9, ("HA",), 1.0),
)
_FLIGHT_HOURS = {route[0]: route[1] for route in _AIR_ROUTES}
_NZ_SEAPORTS = (
    ("NZAKL", 25.0), ("NZTRG", 25.0), ("NZLYT", 12.0), ("NZPOE", 8.0), ("NZWLG", 7.0), ("NZNPE", 6.0),
    ("NZNSN", 5.0), ("NZNPL", 4.0), ("NZTIU", 3.0), ("NZBLU", 2.0), ("NZWRE", 2.0), ("NZGIS", 1.0),
)
_OVERSEAS_SEAPORTS = (
    "AUSYD", "AUMEL", "AUBNE", "AUNTL", "SGSIN", "CNSHA", "CNNGB", "KRPUS", "JPYOK", "HKHKG", "MYPKG",
    "THLCH", "TWKHH", "USLAX", "USOAK", "FJSUV", "NCNOU", "IDTPP", "VNSGN", "PHMNL", "INNSA", "CLSAI",
)
# (flag state, ITU call-sign prefixes, weight)
_FLAGS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("PAN", ("3E", "3F", "HO", "HP"), 16.0), ("LBR", ("A8", "D5"), 14.0), ("MHL", ("V7",), 12.0),
    ("SGP", ("9V", "S6"), 10.0), ("HKG", ("VR",), 8.0), ("MLT", ("9H",), 6.0), ("BHS", ("C6",), 4.0),
    ("GRC", ("SV",), 3.0), ("CYP", ("5B",), 3.0), ("NZL", ("ZM",), 6.0), ("AUS", ("VJ",), 3.0),
    ("CHN", ("BO", "BP"), 5.0), ("TUV", ("T2",), 2.0), ("VUT", ("YJ",), 2.0), ("FJI", ("3D",), 2.0),
)
# (ship type, gross tonnage range, weight)
_SHIP_TYPES: tuple[tuple[str, int, int, float], ...] = (
    ("CONTAINER_SHIP", 9_000, 120_000, 30.0), ("BULK_CARRIER", 15_000, 90_000, 20.0),
    ("GENERAL_CARGO", 2_000, 20_000, 12.0), ("VEHICLE_CARRIER", 40_000, 75_000, 6.0),
    ("OIL_TANKER", 20_000, 80_000, 6.0), ("CHEMICAL_TANKER", 5_000, 30_000, 6.0),
    ("LPG_TANKER", 3_000, 30_000, 3.0), ("REEFER", 5_000, 15_000, 4.0),
    ("FISHING_VESSEL", 300, 5_000, 8.0), ("PASSENGER_CRUISE", 30_000, 170_000, 5.0),
)
_SHIP_WORDS = (
    ("PACIFIC", "SOUTHERN", "OCEAN", "TASMAN", "CORAL", "NORTHERN", "GOLDEN", "BLUE", "SILVER", "GREAT",
     "KOTA", "SPIL", "AOTEA", "MOANA", "CAPE", "NORDIC", "ASIAN", "STAR", "JADE", "ROYAL"),
    ("EXPRESS", "TRADER", "SPIRIT", "VOYAGER", "HARMONY", "PIONEER", "BREEZE", "HORIZON", "ENDEAVOUR",
     "GLORY", "FORTUNE", "PEARL", "PHOENIX", "NAVIGATOR", "MARINER", "WAVE", "ISLANDER", "ORCA",
     "ALBATROSS", "FALCON", "KIWI", "LEADER", "ACE", "QUEEN"),
)
_RANKS = (
    ("MASTER", 4.0), ("CHIEF_OFFICER", 4.0), ("SECOND_OFFICER", 5.0), ("CHIEF_ENGINEER", 4.0),
    ("SECOND_ENGINEER", 5.0), ("BOSUN", 5.0), ("ABLE_SEAFARER", 30.0), ("ORDINARY_SEAMAN", 18.0),
    ("OILER", 12.0), ("COOK", 6.0), ("DECK_CADET", 7.0),
)
_CREW_NATIONALITIES = {"PHL": 8.0, "IND": 3.0, "IDN": 5.0, "VNM": 4.0, "CHN": 2.0, "TON": 2.0, "WSM": 2.0}
_TRAVEL_DOC_TYPES = (("PASSPORT", 990.0), ("CERTIFICATE_OF_IDENTITY", 4.0),
                     ("EMERGENCY_TRAVEL_DOCUMENT", 4.0), ("REFUGEE_TRAVEL_DOCUMENT", 2.0))
# (goods type, unit, smallest, largest, weight)
_SEIZED_GOODS = (
    ("METHAMPHETAMINE", "G", 20, 5_000, 12.0), ("COCAINE", "G", 50, 3_000, 6.0),
    ("MDMA", "G", 20, 2_000, 6.0), ("CANNABIS", "G", 10, 1_000, 10.0),
    ("TOBACCO", "STICKS", 400, 20_000, 30.0),
    ("UNDECLARED_CASH", "NZD", 10_000, 250_000, 8.0), ("OBJECTIONABLE_MATERIAL", "ITEMS", 1, 40, 8.0),
    ("FIREARM_PARTS", "ITEMS", 1, 15, 4.0), ("COUNTERFEIT_GOODS", "ITEMS", 5, 200, 12.0),
    ("WILDLIFE_PRODUCTS", "ITEMS", 1, 12, 4.0),
)
_SEIZURE_OUTCOMES = (("FORFEITED", 60.0), ("REFERRED_FOR_PROSECUTION", 20.0),
                     ("HELD_PENDING_INVESTIGATION", 12.0), ("RETURNED_TO_TRAVELLER", 8.0))
_BIOSECURITY_ITEMS = (
    ("FRESH_FRUIT_VEGETABLES", 40.0), ("MEAT_PRODUCTS", 15.0), ("PLANT_MATERIAL_SEEDS", 12.0),
    ("DAIRY_PRODUCTS", 6.0), ("HONEY_BEE_PRODUCTS", 5.0), ("EGGS", 4.0), ("ANIMAL_PRODUCTS", 6.0),
    ("SOIL_CONTAMINATED_EQUIPMENT", 7.0), ("HERBAL_MEDICINES", 5.0),
)
_BIOSECURITY_OUTCOMES = (("WARNING", 35.0), ("INFRINGEMENT", 60.0), ("PROSECUTION", 5.0))
_INFRINGEMENT_FEE_NZD = 400  # Biosecurity Act 1993 s 154N(21) infringement fee (DOMAIN.md 1.4)
# (commodity, biosecurity risk)
_COMMODITIES = (
    ("FROZEN BEEF CUTS", True), ("FRESH MANGOES", True), ("FRESH BANANAS", True), ("CUT FLOWERS", True),
    ("NUTS IN SHELL", True), ("SPICES AND DRIED HERBS", True), ("RICE IN BAGS", True), ("PET FOOD", True),
    ("TIMBER PALLETS", True), ("USED MOTOR VEHICLES", True), ("USED AGRICULTURAL MACHINERY", True),
    ("FERTILISER", True), ("MOBILE PHONES", False), ("FLATPACK FURNITURE", False), ("CERAMIC TILES", False),
    ("WINE IN BOTTLES", False), ("AUTOMOTIVE SPARE PARTS", False), ("CHILDRENS TOYS", False),
    ("COTTON CLOTHING", False), ("SOLAR PANELS", False), ("LITHIUM BATTERIES", False),
    ("STEEL COILS", False), ("PHARMACEUTICALS", False), ("LAPTOP COMPUTERS", False),
)
_SEA_CARRIERS = ("MAEU", "MEDU", "CMDU", "ONEY", "HLCU", "COSU", "ANNU", "EGLV", "OOLU")  # SCAC prefixes
_AIRLINE_PREFIXES = ("086", "081", "176", "618", "160", "784", "157")  # NZ, QF, EK, SQ, CX, CZ, QR
_FORWARDERS = ("DSV", "KNI", "DBS", "MFT", "TOL", "EXP")
_INSPECTION_RESULTS = (("PASS", 70.0), ("FAIL_CONTAMINANT", 12.0), ("FAIL_LIVE_ORGANISM", 10.0),
                       ("FAIL_DOCUMENTATION", 8.0))
_ORGANISMS = (
    "Halyomorpha halys (brown marmorated stink bug)", "Bactrocera dorsalis (oriental fruit fly)",
    "Lymantria dispar (spongy moth) egg mass", "Trogoderma granarium (khapra beetle)",
    "Linepithema humile (Argentine ant)", "Aedes albopictus (Asian tiger mosquito) larvae",
)
_TREATMENTS = {
    "FAIL_CONTAMINANT": ("CLEANING", "FUMIGATION_METHYL_BROMIDE"),
    "FAIL_LIVE_ORGANISM": ("FUMIGATION_METHYL_BROMIDE", "HEAT_TREATMENT", "DESTRUCTION", "RESHIPMENT"),
    "FAIL_DOCUMENTATION": ("HELD_PENDING_DOCUMENTS",),
}
_AUDIT_RESULTS = (("COMPLIANT", 60.0), ("MINOR_NON_COMPLIANCE", 25.0), ("MAJOR_NON_COMPLIANCE", 12.0),
                  ("CRITICAL_NON_COMPLIANCE", 3.0))
_RISK_STATUSES = (("CLEARED", 85.0), ("INSPECTED", 8.0), ("REFERRED", 4.0), ("HOLD", 3.0))
_ORG_WORDS = (
    "Freight", "Foods", "Imports", "Trading", "Logistics", "Produce", "Motors", "Wholesale", "Distributors",
    "Supplies", "Holdings", "Exports", "Timber", "Agri", "Marine", "Electronics",
)
_NZ_PLACES = (
    "Kaimai", "Waitaki", "Tasman", "Rangitoto", "Aoraki", "Hauraki", "Manawatu", "Otago", "Canterbury",
    "Kaipara", "Ruapehu", "Taranaki", "Hawke's Bay", "Marlborough", "Waikato", "Northland", "Southland",
)
_FOREIGN_ENTITY_SUFFIXES = {"CHN": "Co., Ltd.", "USA": "LLC", "SGP": "Pte. Ltd.", "ARE": "FZE",
                            "RUS": "LLC", "HKG": "Limited", "DEU": "GmbH", "IRN": "Co."}
_POLICE_ALERTS = (("WARRANT_TO_ARREST", 20.0), ("FIREARMS", 15.0), ("VIOLENCE", 30.0),
                  ("MISSING_PERSON", 8.0), ("PERSON_OF_INTEREST", 27.0))
_WARRANT_TYPES = (("ARREST", 45.0), ("ARREST_FINES_DEFAULT", 30.0), ("ARREST_FAILURE_TO_APPEAR", 20.0),
                  ("ARREST_BREACH_OF_BAIL", 5.0))
_OFFENCES = (
    "Importing a Class A controlled drug (Misuse of Drugs Act 1975 s 6(1)(a))",
    "Supplying a Class B controlled drug (Misuse of Drugs Act 1975 s 6(1)(c))",
    "Assault with intent to injure (Crimes Act 1961 s 193)",
    "Male assaults female (Crimes Act 1961 s 194(b))",
    "Aggravated robbery (Crimes Act 1961 s 235)",
    "Burglary (Crimes Act 1961 s 231)",
    "Dishonestly using a document (Crimes Act 1961 s 228)",
    "Possession of a prohibited firearm (Arms Act 1983 s 50A)",
    "Money laundering (Crimes Act 1961 s 243)",
    "Unpaid court fines (Summary Proceedings Act 1957)",
    "Breach of a protection order (Family Violence Act 2018 s 112)",
)
_COURTS = (
    "Auckland District Court", "Manukau District Court", "Waitakere District Court",
    "North Shore District Court", "Hamilton District Court", "Tauranga District Court",
    "Wellington District Court", "Christchurch District Court", "Dunedin District Court",
    "Auckland High Court", "Wellington High Court", "Christchurch High Court",
)
_NZSIS_FLAGS = (("SECURITY_INTEREST", 40.0), ("COUNTER_TERRORISM", 20.0), ("FOREIGN_INTERFERENCE", 25.0),
                ("ESPIONAGE", 10.0), ("PROLIFERATION", 5.0))
_NZSIS_CLASSIFICATIONS = (("RESTRICTED", 15.0), ("CONFIDENTIAL", 35.0), ("SECRET", 40.0),
                          ("TOP SECRET", 10.0))
_IMMIGRATION_ALERTS = (("PRIOR_REFUSAL_OF_ENTRY", 30.0), ("CHARACTER_CONCERN", 25.0),
                       ("IDENTITY_FRAUD", 10.0), ("DEPORTED", 10.0), ("OVERSTAYER", 25.0))
# (visa type, validity in days or None, conditions)
_VISA_TERMS: dict[str, tuple[int | None, str | None]] = {
    "VISITOR": (90, "No work; stay of up to 3 months"),
    "STUDENT": (730, "Study at the named education provider; limited work rights"),
    "ACCREDITED_EMPLOYER_WORK": (1095, "Work only for the named accredited employer in the named role"),
    "WORKING_HOLIDAY": (365, "Work and holiday; no permanent employment"),
    "RECOGNISED_SEASONAL_EMPLOYER": (210, "Seasonal work for the named RSE employer only"),
    "CREW": (180, "Crew of the named vessel only"),
    "RESIDENT": (None, "Travel conditions apply"),
    "PERMANENT_RESIDENT": (None, None),
}
_PACIFIC = frozenset({"WSM", "TON", "FJI"})
# fmt: on


# --- Small helpers -----------------------------------------------------------


def _weighted(rng: random.Random, table: Sequence[tuple[Any, ...]]) -> Any:
    """Pick the first element of one row of ``table``, weighted by the row's last element."""
    return rng.choices(table, weights=[row[-1] for row in table])[0][0]


def _day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _moment(rng: random.Random, day: date) -> datetime:
    return datetime.combine(
        day, time(rng.randrange(24), rng.choice((0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55)))
    )


def _pattern(rng: random.Random, pattern: str) -> str:
    return "".join(
        rng.choice(_LETTERS)
        if c == "A"
        else str(rng.randrange(10))
        if c == "9"
        else rng.choice(_ALNUM)
        if c == "X"
        else c
        for c in pattern
    )


def _fold(text: str) -> str:
    """Drop diacritics, as systems limited to ASCII do."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _flight(carrier: str, port: str, inbound: bool) -> str:
    # One stable flight number per route and direction, as airlines keep them.
    number = 100 + (zlib.crc32(f"{carrier}{port}".encode()) % 400) * 2
    return f"{carrier}{number + 1 if inbound else number}"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


# --- The shared world --------------------------------------------------------


@dataclass(slots=True)
class _Person:
    given: str
    family: str
    dob: date
    sex: str
    nationality: str
    pool: str
    passport_no: str
    passport_country: str
    passport_expiry: date
    residence: str  # citizen, resident, temporary or visitor
    visa_type: str | None  # the long-term visa of residents and temporary migrants
    trip_seed: int


@dataclass(frozen=True, slots=True)
class _Crossing:
    direction: str
    nz_port: str
    overseas_port: str
    at: datetime
    flight_no: str


@dataclass(slots=True)
class _Vessel:
    imo: str
    name: str
    flag: str
    call_sign: str
    ship_type: str
    gross_tonnage: int
    # Voyages: (voyage number, last overseas port, [(NZ port, arrived, departed)])
    voyages: list[tuple[str, str, list[tuple[str, datetime, datetime]]]]


@dataclass(slots=True)
class _Organisation:
    legal_name: str
    client_code: str | None
    nzbn: str | None
    country: str
    registered_on: date


@dataclass(slots=True)
class _Consignment:
    bill_no: str
    bill_type: str
    origin: str
    discharge: str
    goods: str
    biosecurity_risk: bool
    importer: _Organisation
    arrived_on: date
    risk_status: str


@dataclass(slots=True)
class _World:
    people: list[_Person]
    vessels: list[_Vessel]
    traders: list[_Organisation]
    foreign_entities: list[_Organisation]
    consignments: list[_Consignment]
    passports: set[tuple[str, str]]

    @classmethod
    def build(cls, people: int, seed: int) -> _World:
        rng = random.Random(f"{seed}:world")
        pools = _name_pools(seed)
        taken = _reserved_identifiers()
        passports = {
            (str(s.canonical["passport_number"]), str(s.canonical["passport_country"]))
            for s in _SUBJECTS
            if s.kind == "person"
        }
        population = [_person(rng, pools, passports) for _ in range(people)]
        vessels = [_vessel(rng, taken) for _ in range(max(12, people // 200))]
        traders = [_organisation(rng, pools, taken) for _ in range(max(15, people // 100))]
        foreign = [_foreign_entity(rng, pools, taken) for _ in range(max(2, people // 5000))]
        consignments = [_consignment(rng, traders, taken) for _ in range(max(20, people // 20))]
        return cls(population, vessels, traders, foreign, consignments, passports)


_FAKERS: dict[str, Faker] = {}  # building one costs ~40 ms; reseeded before every use


def _name_pools(seed: int) -> dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    pools = dict(_HAND_POOLS)
    for pool, _nationality, _weight in _NATIONALITIES:
        if pool in pools:
            continue
        fake = _FAKERS.get(pool) or _FAKERS.setdefault(pool, Faker(pool))
        fake.seed_instance(seed)
        n = range(_POOL_SIZE)
        if pool == "zh_CN":
            given = tuple(fake.first_romanized_name() for _ in n)
            pools[pool] = (given, given, tuple(fake.last_romanized_name() for _ in n))
        elif pool == "ja_JP":
            male = tuple(fake.first_romanized_name_male() for _ in n)
            female = tuple(fake.first_romanized_name_female() for _ in n)
            pools[pool] = (male, female, tuple(fake.last_romanized_name() for _ in n))
        elif pool == "vi_VN":
            # Vietnamese given names carry the middle name: Văn An, Thị Lan.
            middles = [m for m in (fake.middle_name() for _ in n) if m != "Thị"] + ["Văn"] * 100
            male = tuple(f"{fake.random.choice(middles)} {fake.first_name_male()}" for _ in n)
            female = tuple(f"Thị {fake.first_name_female()}" for _ in n)
            pools[pool] = (male, female, tuple(fake.last_name() for _ in n))
        else:
            male = tuple(fake.first_name_male() for _ in n)
            female = tuple(fake.first_name_female() for _ in n)
            pools[pool] = (male, female, tuple(fake.last_name() for _ in n))
    return pools


def _person(rng: random.Random, pools: Mapping[str, Any], passports: set[tuple[str, str]]) -> _Person:
    pool, nationality, _ = rng.choices(_NATIONALITIES, weights=[w for *_, w in _NATIONALITIES])[0]
    male, female, families = pools[pool]
    draw = rng.random()
    sex = "M" if draw < 0.497 else "F" if draw < 0.996 else "X"
    firsts = male if sex == "M" or (sex == "X" and draw < 0.998) else female
    given = rng.choice(firsts)
    if pool not in _NO_MIDDLE and rng.random() < 0.35:
        second = rng.choice(firsts)
        if second != given:
            given = f"{given} {second}"
    family = rng.choice(families)
    if pool == "es_ES" and rng.random() < 0.6:
        family = f"{family} {rng.choice(families)}"  # Spanish double surnames
    dob = date(1940, 1, 1) + timedelta(days=int(rng.triangular(0, 25_567, 17_000)))
    country = nationality
    if nationality != "NZL" and rng.random() < 0.02:
        country = rng.choice(("NZL", "AUS", "GBR"))  # dual citizen travelling on the other passport
    while True:
        number = _pattern(rng, _PASSPORT_FORMATS.get(country, "AA9999999"))
        if (number, country) not in passports:
            passports.add((number, country))
            break
    expiry = _day(rng, REFERENCE_DATE - timedelta(days=700), REFERENCE_DATE + timedelta(days=3_300))
    visa_type: str | None = None
    if nationality == "NZL" or country == "NZL":
        residence = "citizen"
    elif nationality == "AUS":
        residence = rng.choice(("resident", "visitor"))
        visa_type = "RESIDENT"
    else:
        draw = rng.random()
        residence = "visitor" if draw < 0.72 else "temporary" if draw < 0.88 else "resident"
        if residence == "temporary":
            options = ["STUDENT", "ACCREDITED_EMPLOYER_WORK", "WORKING_HOLIDAY"]
            if nationality in _PACIFIC:
                options.append("RECOGNISED_SEASONAL_EMPLOYER")
            visa_type = rng.choice(options)
        elif residence == "resident":
            visa_type = rng.choice(("RESIDENT", "PERMANENT_RESIDENT"))
    return _Person(
        given,
        family,
        dob,
        sex,
        nationality,
        pool,
        number,
        country,
        expiry,
        residence,
        visa_type,
        rng.getrandbits(48),
    )


def _crossings(person: _Person) -> list[_Crossing]:
    """The person's border crossings, the same whichever agency asks."""
    rng = random.Random(person.trip_seed)
    lives_here = person.residence != "visitor"
    trips = rng.choices(range(7), weights=(6, 25, 25, 18, 11, 8, 7))[0] if lives_here else rng.randint(1, 3)
    starts: list[date] = []
    for _ in range(trips):
        day = _day(rng, _HISTORY_START, REFERENCE_DATE - timedelta(days=2))
        if _BORDER_CLOSED[0] <= day <= _BORDER_CLOSED[1]:
            day = _day(rng, _HISTORY_START, REFERENCE_DATE - timedelta(days=2))
        starts.append(day)
    starts.sort()
    out: list[_Crossing] = []
    if person.residence in ("temporary", "resident") and person.nationality != "AUS":
        first = starts[0] - timedelta(days=30) if starts else _day(rng, _HISTORY_START, REFERENCE_DATE)
        out.append(_crossing(rng, "ARRIVAL", max(first, _HISTORY_START)))
    for i, start in enumerate(starts):
        last = i == len(starts) - 1
        room = ((REFERENCE_DATE if last else starts[i + 1]) - start).days - 1
        if room < 1:
            continue  # two trips drawn on the same day: keep the later one
        back = start + timedelta(days=min(rng.randint(4, 45 if lives_here else 80), room))
        route = _route(rng)
        # Most trips come back the way they went; some return from elsewhere.
        route_back = route if rng.random() < 0.85 else _route(rng)
        if lives_here:
            out.append(_crossing(rng, "DEPARTURE", start, route))
            if not (last and rng.random() < 0.03):  # a few are abroad "today"
                out.append(_crossing(rng, "ARRIVAL", back, route_back))
        else:
            out.append(_crossing(rng, "ARRIVAL", start, route))
            # Most visitors leave; some recent ones are still here, a very few overstay.
            if not (last and rng.random() < (0.5 if room < 80 else 0.004)):
                out.append(_crossing(rng, "DEPARTURE", back, route_back))
    return [c for c in out if c.at.date() < REFERENCE_DATE]


def _route(rng: random.Random) -> tuple[str, str, str]:
    """An (overseas airport, carrier, NZ airport) triple, weighted by traffic."""
    overseas, _hours, carriers, _ = rng.choices(_AIR_ROUTES, weights=[r[-1] for r in _AIR_ROUTES])[0]
    carrier = rng.choice(carriers)
    nz_port = "NZAKL" if carrier not in ("NZ", "QF", "JQ", "VA") else _weighted(rng, _NZ_AIRPORTS)
    return overseas, carrier, nz_port


def _crossing(
    rng: random.Random, direction: str, day: date, route: tuple[str, str, str] | None = None
) -> _Crossing:
    overseas, carrier, nz_port = route or _route(rng)
    flight = _flight(carrier, overseas, direction == "ARRIVAL")
    return _Crossing(direction, nz_port, overseas, _moment(rng, day), flight)


def _reserved_identifiers() -> set[str]:
    taken: set[str] = set()
    for subject in _SUBJECTS:
        for name in ("imo_number", "call_sign", "consignment_id", "client_code", "nzbn", "legal_name"):
            value = subject.canonical.get(name)
            if value:
                taken.add(str(value))
        for held in subject.held.values():
            for name in ("call_sign", "vessel_name", "legal_name"):
                value = held.identity.get(name)
                if value:
                    taken.add(str(value))
    return taken


def _unique(rng: random.Random, taken: set[str], make: Callable[[random.Random], str]) -> str:
    for _ in range(_MAX_DRAWS):
        value = make(rng)
        if value not in taken:
            taken.add(value)
            return value
    raise RuntimeError(f"no unused value left after {_MAX_DRAWS} draws; the name space is too small")


def _vessel(rng: random.Random, taken: set[str]) -> _Vessel:
    def imo(r: random.Random) -> str:
        six = f"{r.choice('99999887')}{r.randrange(100_000):05d}"
        return six + str(imo_check_digit(six))

    flag, prefixes, _ = rng.choices(_FLAGS, weights=[f[-1] for f in _FLAGS])[0]
    ship_type, low, high, _ = rng.choices(_SHIP_TYPES, weights=[t[-1] for t in _SHIP_TYPES])[0]
    first, second = _SHIP_WORDS
    name = f"{rng.choice(first)} {rng.choice(second)}"  # ship names repeat; IMO numbers do not
    call_sign = _unique(rng, taken, lambda r: f"{r.choice(prefixes)}{_pattern(r, 'AA9')}")
    voyages = []
    for n in range(rng.randint(1, 6)):
        day = _day(rng, _HISTORY_START, REFERENCE_DATE - timedelta(days=20))
        arrived = _moment(rng, day)
        calls = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            departed = arrived + timedelta(hours=rng.randint(14, 96))
            calls.append((_weighted(rng, _NZ_SEAPORTS), arrived, departed))
            arrived = departed + timedelta(hours=rng.randint(10, 40))
        number = f"{day:%y}{n + 1:02d}{rng.choice('NS')}"
        voyages.append((number, rng.choice(_OVERSEAS_SEAPORTS), calls))
    voyages.sort(key=lambda v: v[2][0][1])
    tonnage = rng.randint(low, high)
    return _Vessel(_unique(rng, taken, imo), name, flag, call_sign, ship_type, tonnage, voyages)


def _nzbn(r: random.Random) -> str:
    twelve = f"9429{r.randrange(10**8):08d}"
    return twelve + str(nzbn_check_digit(twelve))


def _client_code(r: random.Random) -> str:
    return f"{r.randrange(10**7, 10**8)}{r.choice(_LETTERS)}"  # invented format; the real one is not public


def _organisation(rng: random.Random, pools: Mapping[str, Any], taken: set[str]) -> _Organisation:
    families = pools["en_NZ"][2]

    def name(r: random.Random) -> str:
        stem = r.choice(families) if r.random() < 0.6 else r.choice(_NZ_PLACES)
        if r.random() < 0.3:
            stem = f"{stem} & {r.choice(families)}"
        return f"{stem} {r.choice(_ORG_WORDS)} Limited"

    return _Organisation(
        _unique(rng, taken, name),
        _unique(rng, taken, _client_code),
        _unique(rng, taken, _nzbn),
        "NZL",
        _day(rng, date(1995, 1, 1), date(2024, 12, 31)),
    )


def _foreign_entity(rng: random.Random, pools: Mapping[str, Any], taken: set[str]) -> _Organisation:
    country = rng.choice(sorted(_FOREIGN_ENTITY_SUFFIXES))
    families = pools["zh_CN" if country in ("CHN", "HKG") else "en_US"][2]
    words = ("Trading", "Technology", "Industrial", "Import Export", "Logistics", "Holdings")
    legal_name = _unique(
        rng, taken, lambda r: f"{r.choice(families)} {r.choice(words)} {_FOREIGN_ENTITY_SUFFIXES[country]}"
    )
    return _Organisation(legal_name, None, None, country, _day(rng, date(2000, 1, 1), date(2024, 12, 31)))


def _consignment(rng: random.Random, traders: Sequence[_Organisation], taken: set[str]) -> _Consignment:
    draw = rng.random()
    bill_type = "BM" if draw < 0.55 else "MB" if draw < 0.8 else "HWB"

    def bill(r: random.Random) -> str:
        if bill_type == "BM":
            return f"{r.choice(_SEA_CARRIERS)}{r.randrange(10**8, 10**9)}"
        if bill_type == "MB":
            return r.choice(_AIRLINE_PREFIXES) + _awb_serial(f"{r.randrange(10**6, 10**7)}")
        return f"{r.choice(_FORWARDERS)}{r.randrange(10**7, 10**8)}"

    goods, risky = rng.choice(_COMMODITIES)
    if bill_type == "BM":
        origin, discharge = rng.choice(_OVERSEAS_SEAPORTS), _weighted(rng, _NZ_SEAPORTS)
    else:
        origin, discharge = rng.choice(_AIR_ROUTES)[0], _weighted(rng, _NZ_AIRPORTS)
    return _Consignment(
        _unique(rng, taken, bill),
        bill_type,
        origin,
        discharge,
        goods,
        risky,
        rng.choice(traders),
        _day(rng, date(2023, 1, 1), REFERENCE_DATE - timedelta(days=1)),
        _weighted(rng, _RISK_STATUSES),
    )


# --- How each agency stores a subject ----------------------------------------

# fmt: off
# (agency, subject kind) -> (table, key, {identity part: column})
_SUBJECT_TABLES: dict[tuple[str, str], tuple[str, str, dict[str, str]]] = {
    ("customs", "person"): ("travellers", "traveller_id", {
        "given_names": "given_names", "family_name": "family_name", "date_of_birth": "date_of_birth",
        "sex": "sex", "nationality": "nationality", "passport_number": "passport_no",
        "passport_country": "passport_country", "passport_expiry": "passport_expiry"}),
    ("immigration", "person"): ("clients", "client_number", {
        "given_names": "first_names", "family_name": "surname", "date_of_birth": "birth_date",
        "sex": "gender", "nationality": "citizenship", "passport_number": "travel_doc_no",
        "passport_country": "travel_doc_country"}),
    ("mpi", "person"): ("biosecurity_persons", "person_ref", {
        "given_names": "forename", "family_name": "surname", "date_of_birth": "dob", "sex": "sex",
        "nationality": "nationality", "passport_number": "document_no",
        "passport_country": "document_country"}),
    ("maritime", "person"): ("seafarers", "seafarer_id", {
        "given_names": "given_name", "family_name": "family_name", "date_of_birth": "birth_date",
        "sex": "sex", "nationality": "nationality", "passport_number": "passport_number",
        "passport_country": "passport_issuer"}),
    ("police", "person"): ("nia_persons", "nia_id", {
        "given_names": "first_names", "family_name": "last_name", "date_of_birth": "dob", "sex": "gender",
        "nationality": "nationality", "passport_number": "passport_number",
        "passport_country": "passport_nationality"}),
    ("nzsis", "person"): ("persons_of_interest", "poi_id", {
        "given_names": "given_names", "family_name": "family_name", "date_of_birth": "date_of_birth",
        "sex": "sex", "nationality": "nationality", "passport_number": "passport_no",
        "passport_country": "passport_country"}),
    ("customs", "vessel"): ("craft", "craft_id", {
        "imo_number": "imo_number", "vessel_name": "craft_name", "call_sign": "call_sign", "flag": "flag"}),
    ("maritime", "vessel"): ("ships", "ship_id", {
        "imo_number": "imo_no", "vessel_name": "ship_name", "flag": "flag_state", "vessel_type": "ship_type",
        "gross_tonnage": "gross_tonnage", "call_sign": "call_sign"}),
    ("customs", "consignment"): ("cargo_consignments", "consignment_pk", {
        "consignment_id": "bill_no", "bill_type": "bill_type", "origin_port": "origin_port",
        "discharge_port": "discharge_port", "goods_description": "goods_description",
        "importer_client_code": "importer_client_code", "arrived_on": "arrived_on",
        "risk_status": "risk_status"}),
    ("mpi", "consignment"): ("biosecurity_consignments", "consignment_no", {
        "consignment_id": "bill_ref", "goods_description": "commodity", "discharge_port": "arrival_port",
        "importer_client_code": "importer_client_code"}),
    ("customs", "organisation"): ("traders", "trader_id", {
        "legal_name": "legal_name", "client_code": "client_code", "nzbn": "nzbn", "country": "country",
        "registered_on": "registered_on"}),
    ("mpi", "organisation"): ("importers", "importer_id", {
        "legal_name": "importer_name", "client_code": "client_code", "nzbn": "nzbn", "country": "country"}),
    ("nzsis", "organisation"): ("entities_of_interest", "eoi_id", {
        "legal_name": "entity_name", "country": "country", "nzbn": "nzbn", "client_code": "client_code"}),
}

# Record tables by agency -> category served from them (as in mappings/*.yaml).
_CATEGORIES: dict[str, dict[str, str]] = {
    "customs": {"border_crossings": "travel_movement", "passenger_declarations": "goods_declaration",
                "seizures": "seizure", "cargo_consignments": "consignment_record", "traders": "trader",
                "craft_arrivals": "vessel_arrival"},
    "immigration": {"visas": "visa", "client_status": "immigration_status",
                    "app_records": "advance_passenger_processing", "client_alerts": "immigration_alert"},
    "mpi": {"passenger_incidents": "biosecurity_incident",
            "consignment_inspections": "consignment_inspection", "importer_audits": "importer_compliance"},
    "maritime": {"ships": "vessel_registry", "port_calls": "port_call", "psc_inspections": "psc_inspection",
                 "crew_agreements": "crew_engagement"},
    "police": {"nia_alerts": "police_alert", "warrants": "warrant"},
    "nzsis": {"person_flags": "intelligence_flag", "entity_flags": "organisation_flag"},
}
# fmt: on


def _subject_row(agency: str, kind: str, identity: Mapping[str, Any]) -> _Row:
    _table, _key, columns = _SUBJECT_TABLES[(agency, kind)]
    return {column: identity.get(part) for part, column in columns.items()}


def _identity(person: _Person) -> dict[str, Any]:
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


def _noisy_identity(rng: random.Random, person: _Person, passports: set[tuple[str, str]]) -> dict[str, Any]:
    """The person as another agency typed them in: usually exact, sometimes with one slip."""
    identity = _identity(person)
    if rng.random() >= _NOISE_RATE:
        return identity
    given, family, dob = person.given, person.family, person.dob
    # Weighted by how often each slip happens to names of this kind; given and family names
    # are swapped mostly where the family name is written first at home.
    slips = ["old_passport", "swap"] + ["swap"] * 3 * (person.pool in _FAMILY_FIRST)
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
            number = _pattern(rng, _PASSPORT_FORMATS.get(country, "AA9999999"))
            if (number, country) not in passports:
                break
        passports.add((number, country))
        identity["passport_number"] = number
    return identity


# --- Agency builders ---------------------------------------------------------


@dataclass(slots=True)
class _Build:
    world: _World
    rng: random.Random
    load: _Loader
    truth: _GroundTruth
    agency: str

    def interleave(self, items: Sequence[_T], kind: str) -> Iterator[_T | _Subject]:
        """Yield ``items`` with this kind's subjects of interest at random places among them."""
        subjects = [s for s in _SUBJECTS if s.kind == kind and self.agency in s.held]
        slots = sorted((self.rng.randrange(len(items) + 1), i) for i in range(len(subjects)))
        cursor = 0
        for slot, index in slots:
            yield from items[cursor:slot]
            cursor = slot
            yield subjects[index]
        yield from items[cursor:]

    def subject(self, subject: _Subject) -> None:
        """Insert a subject of interest with its records, and note what was stored."""
        held = subject.held[self.agency]
        table, key_column, columns = _SUBJECT_TABLES[(self.agency, subject.kind)]
        identity = {**subject.canonical, **held.identity}
        key = self.load.add_literal(table, {**_subject_row(self.agency, subject.kind, identity)})
        records: dict[str, list[str]] = {}
        if table in _CATEGORIES[self.agency]:
            records[_CATEGORIES[self.agency][table]] = [str(key)]
        for record_table, values in held.records:
            record_id = self.load.add_literal(record_table, {**values, key_column: key})
            records.setdefault(_CATEGORIES[self.agency][record_table], []).append(str(record_id))
        stored = {
            part: _iso(identity.get(part)) for part in columns if part not in ("sex", "passport_expiry")
        }
        self.truth.note(subject.key, self.agency, table, str(key), stored, held.variant, records)

    def person(self, identity: Mapping[str, Any]) -> int:
        table = _SUBJECT_TABLES[(self.agency, "person")][0]
        return self.load.add(table, _subject_row(self.agency, "person", identity))


def _build_customs(b: _Build) -> None:
    rng, add = b.rng, b.load.add
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, _Subject):
            b.subject(item)
            continue
        crossings = _crossings(item)
        if not crossings:
            continue
        key = b.person(_identity(item))
        for c in crossings:
            add(
                "border_crossings",
                {
                    "traveller_id": key,
                    "direction": c.direction,
                    "port_code": c.nz_port,
                    "overseas_port_code": c.overseas_port,
                    "crossed_at": c.at,
                    "flight_no": c.flight_no,
                    "travel_doc_type": _weighted(rng, _TRAVEL_DOC_TYPES),
                },
            )
            if c.direction == "ARRIVAL" and rng.random() < 0.12:
                items = rng.choice((1, 1, 1, 2, 2, 3, 4, 6))
                duty = rng.choice((0, 0, 0, rng.randint(20, 900)))
                add(
                    "passenger_declarations",
                    {
                        "traveller_id": key,
                        "declared_at": c.at,
                        "port_code": c.nz_port,
                        "declaration_type": "NZTD_DIGITAL" if c.at.year >= 2023 else "PASSENGER_ARRIVAL_CARD",
                        "items_declared": items,
                        "duty_assessed_nzd": duty,
                    },
                )
            if c.direction == "ARRIVAL" and rng.random() < 0.0015:
                goods, unit, low, high, _ = rng.choices(
                    _SEIZED_GOODS, weights=[g[-1] for g in _SEIZED_GOODS]
                )[0]
                add(
                    "seizures",
                    {
                        "traveller_id": key,
                        "seized_at": c.at + timedelta(minutes=rng.randint(20, 180)),
                        "port_code": c.nz_port,
                        "goods_type": goods,
                        "quantity": rng.randint(low, high),
                        "unit": unit,
                        "outcome": _weighted(rng, _SEIZURE_OUTCOMES),
                    },
                )
    for vessel in b.interleave(b.world.vessels, "vessel"):
        if isinstance(vessel, _Subject):
            b.subject(vessel)
            continue
        key = add(
            "craft",
            {
                "imo_number": vessel.imo,
                "craft_name": vessel.name,
                "call_sign": vessel.call_sign if rng.random() < 0.97 else None,
                "flag": vessel.flag,
            },
        )
        for voyage_no, last_port, calls in vessel.voyages:
            add(
                "craft_arrivals",
                {
                    "craft_id": key,
                    "voyage_no": voyage_no,
                    "port_code": calls[0][0],
                    "arrived_at": calls[0][1],
                    "last_port_code": last_port,
                },
            )
    for trader in b.interleave(b.world.traders, "organisation"):
        if isinstance(trader, _Subject):
            b.subject(trader)
            continue
        add(
            "traders",
            {
                "client_code": trader.client_code,
                "legal_name": trader.legal_name,
                "nzbn": trader.nzbn,
                "country": trader.country,
                "registered_on": trader.registered_on,
            },
        )
    for cons in b.interleave(b.world.consignments, "consignment"):
        if isinstance(cons, _Subject):
            b.subject(cons)
            continue
        add(
            "cargo_consignments",
            {
                "bill_no": cons.bill_no,
                "bill_type": cons.bill_type,
                "origin_port": cons.origin,
                "discharge_port": cons.discharge,
                "goods_description": cons.goods,
                "importer_client_code": cons.importer.client_code,
                "arrived_on": cons.arrived_on,
                "risk_status": cons.risk_status,
            },
        )


def _build_immigration(b: _Build) -> None:
    rng, add = b.rng, b.load.add
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, _Subject):
            b.subject(item)
            continue
        citizen = item.residence == "citizen"
        if (citizen and rng.random() >= 0.08) or (not citizen and rng.random() >= 0.95):
            continue  # most citizens never deal with INZ; a few visitors came before its records
        key = b.person(_noisy_identity(rng, item, b.world.passports))
        crossings = _crossings(item)
        if citizen:
            since = _day(rng, date(1990, 1, 1), REFERENCE_DATE - timedelta(days=30))
            add(
                "client_status",
                {
                    "client_number": key,
                    "status": "NZ_CITIZEN",
                    "status_since": since,
                    "deportation_liable": False,
                },
            )
            continue
        arrivals = [c for c in crossings if c.direction == "ARRIVAL"]
        visas: list[tuple[str, date, date | None]] = []
        if item.visa_type is not None:
            first = arrivals[0].at.date() if arrivals else _day(rng, _HISTORY_START, REFERENCE_DATE)
            issued = first - timedelta(days=rng.randint(10, 60))
            if item.visa_type == "PERMANENT_RESIDENT":
                visas.append(("RESIDENT", issued, None))
                issued += timedelta(days=rng.randint(730, 1100))
            visa_type = item.visa_type
            # Temporary visas are renewed (a working holiday leads to a work visa) while the person
            # stays; a few lapse, and those people are now unlawful.
            for _ in range(5):
                days = _VISA_TERMS[visa_type][0]
                expires = issued + timedelta(days=days) if days else None
                visas.append((visa_type, issued, expires))
                if expires is None or expires >= REFERENCE_DATE or rng.random() < 0.05:
                    break
                issued = expires - timedelta(days=rng.randint(5, 40))
                if visa_type == "WORKING_HOLIDAY":
                    visa_type = "ACCREDITED_EMPLOYER_WORK"
        else:
            for arrival in arrivals[-3:]:
                stay = 180 if item.nationality == "GBR" else 90
                visas.append(("VISITOR", arrival.at.date(), arrival.at.date() + timedelta(days=stay)))
        for n, (visa_type, issued, expires) in enumerate(visas):
            status = "CURRENT" if expires is None or expires >= REFERENCE_DATE else "EXPIRED"
            if status == "CURRENT" and n + 1 < len(visas):
                status = "SUPERSEDED"  # a resident visa once permanent residence is granted
            if rng.random() < 0.004:
                status = "CANCELLED"
            add(
                "visas",
                {
                    "client_number": key,
                    "visa_type": visa_type,
                    "visa_status": status,
                    "issued_on": issued,
                    "expires_on": expires,
                    "conditions": _VISA_TERMS[visa_type][1],
                },
            )
        in_nz = bool(crossings) and crossings[-1].direction == "ARRIVAL"
        last_expiry = visas[-1][2] if visas else None
        if not in_nz:
            status, since, liable = (
                "OFFSHORE",
                crossings[-1].at.date() if crossings else REFERENCE_DATE,
                False,
            )
        elif last_expiry is not None and last_expiry < REFERENCE_DATE:
            status, since, liable = "UNLAWFUL", last_expiry + timedelta(days=1), True
        else:
            kind = visas[-1][0] if visas else "VISITOR"
            status = kind if kind in ("RESIDENT", "PERMANENT_RESIDENT") else "LAWFUL_TEMPORARY"
            since, liable = visas[-1][1] if visas else crossings[-1].at.date(), False
        add(
            "client_status",
            {"client_number": key, "status": status, "status_since": since, "deportation_liable": liable},
        )
        for c in crossings:
            if c.at.date() < _APP_SINCE:
                continue
            hours = _FLIGHT_HOURS[c.overseas_port]
            origin, destination = (
                (c.overseas_port, c.nz_port) if c.direction == "ARRIVAL" else (c.nz_port, c.overseas_port)
            )
            scheduled = c.at - timedelta(hours=hours) if c.direction == "ARRIVAL" else c.at
            directive = "CONTACT_INZ" if rng.random() < 0.003 else "BOARD"
            add(
                "app_records",
                {
                    "client_number": key,
                    "flight_no": c.flight_no,
                    "scheduled_departure": scheduled,
                    "origin_port": origin,
                    "destination_port": destination,
                    "directive": directive,
                },
            )
        if (status == "UNLAWFUL" and rng.random() < 0.5) or rng.random() < 0.01:
            alert = "OVERSTAYER" if status == "UNLAWFUL" else _weighted(rng, _IMMIGRATION_ALERTS)
            raised = since if status == "UNLAWFUL" else _day(rng, _HISTORY_START, REFERENCE_DATE)
            add(
                "client_alerts",
                {
                    "client_number": key,
                    "alert_type": alert,
                    "raised_on": raised,
                    "is_active": rng.random() < 0.8,
                },
            )


def _build_mpi(b: _Build) -> None:
    rng, add = b.rng, b.load.add
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, _Subject):
            b.subject(item)
            continue
        if rng.random() >= 0.05:
            continue
        arrivals = [c for c in _crossings(item) if c.direction == "ARRIVAL"]
        if not arrivals:
            continue
        key = b.person(_noisy_identity(rng, item, b.world.passports))
        for arrival in rng.sample(arrivals, min(len(arrivals), rng.choice((1, 1, 1, 2)))):
            outcome = _weighted(rng, _BIOSECURITY_OUTCOMES)
            add(
                "passenger_incidents",
                {
                    "person_ref": key,
                    "occurred_at": arrival.at + timedelta(minutes=rng.randint(15, 90)),
                    "port_code": arrival.nz_port,
                    "item_category": _weighted(rng, _BIOSECURITY_ITEMS),
                    "outcome": outcome,
                    "fee_nzd": _INFRINGEMENT_FEE_NZD if outcome == "INFRINGEMENT" else None,
                },
            )
    importer_rows = [t for t in b.world.traders if rng.random() < 0.5]
    for trader in b.interleave(importer_rows, "organisation"):
        if isinstance(trader, _Subject):
            b.subject(trader)
            continue
        name = trader.legal_name.upper() if rng.random() < 0.3 else trader.legal_name
        key = add(
            "importers",
            {
                "client_code": trader.client_code,
                "importer_name": name,
                "nzbn": trader.nzbn,
                "country": trader.country,
            },
        )
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            add(
                "importer_audits",
                {
                    "importer_id": key,
                    "client_code": trader.client_code,
                    "audit_result": _weighted(rng, _AUDIT_RESULTS),
                    "audited_on": _day(rng, date(2020, 1, 1), REFERENCE_DATE),
                },
            )
    held = [c for c in b.world.consignments if c.biosecurity_risk or rng.random() < 0.1]
    for c in b.interleave(held, "consignment"):
        if isinstance(c, _Subject):
            b.subject(c)
            continue
        key = add(
            "biosecurity_consignments",
            {
                "bill_ref": c.bill_no,
                "commodity": c.goods,
                "arrival_port": c.discharge,
                "importer_client_code": c.importer.client_code,
            },
        )
        for n in range(rng.choice((1, 1, 1, 2))):
            result = _weighted(rng, _INSPECTION_RESULTS) if n == 0 else "PASS"
            add(
                "consignment_inspections",
                {
                    "consignment_no": key,
                    "inspected_at": _moment(rng, c.arrived_on + timedelta(days=n * 3 + rng.randint(0, 2))),
                    "result": result,
                    "organism_found": rng.choice(_ORGANISMS) if result == "FAIL_LIVE_ORGANISM" else None,
                    "treatment": rng.choice(_TREATMENTS[result]) if result in _TREATMENTS else None,
                },
            )


def _build_maritime(b: _Build) -> None:
    rng, add = b.rng, b.load.add
    for vessel in b.interleave(b.world.vessels, "vessel"):
        if isinstance(vessel, _Subject):
            b.subject(vessel)
            continue
        key = add(
            "ships",
            {
                "imo_no": vessel.imo,
                "ship_name": vessel.name,
                "flag_state": vessel.flag,
                "ship_type": vessel.ship_type,
                "gross_tonnage": vessel.gross_tonnage,
                "call_sign": vessel.call_sign,
            },
        )
        inspect_vessel = rng.random() < 0.3
        for _voyage_no, last_port, calls in vessel.voyages:
            previous = last_port
            for port, arrived, departed in calls:
                add(
                    "port_calls",
                    {
                        "ship_id": key,
                        "port": port,
                        "arrival": arrived,
                        "departure": departed,
                        "previous_port": previous,
                    },
                )
                previous = port
            if inspect_vessel and rng.random() < 0.6:
                deficiencies = rng.choice((0, 0, 0, 1, 2, 3, 4, 6, 9))
                detained = deficiencies >= 4 and rng.random() < 0.35
                add(
                    "psc_inspections",
                    {
                        "ship_id": key,
                        "inspection_date": calls[0][1].date() + timedelta(days=1),
                        "port": calls[0][0],
                        "deficiency_count": deficiencies,
                        "detained": detained,
                    },
                )
    imos = [v.imo for v in b.world.vessels]
    mean_factor = sum(_CREW_NATIONALITIES.get(n, 0.6) * w for _, n, w in _NATIONALITIES) / sum(
        w for *_, w in _NATIONALITIES
    )
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, _Subject):
            b.subject(item)
            continue
        working_age = 1960 <= item.dob.year <= 2005
        if (
            not working_age
            or rng.random() >= 0.03 * _CREW_NATIONALITIES.get(item.nationality, 0.6) / mean_factor
        ):
            continue
        key = b.person(_noisy_identity(rng, item, b.world.passports))
        signed_on = _day(rng, _HISTORY_START, REFERENCE_DATE - timedelta(days=30))
        for _ in range(rng.choice((1, 1, 2, 3))):
            if rng.random() < 0.7:
                imo = rng.choice(imos)
            else:
                six = f"9{rng.randrange(100_000):05d}"
                imo = six + str(imo_check_digit(six))
            signed_off: date | None = signed_on + timedelta(days=rng.randint(60, 300))
            if signed_off is not None and signed_off >= REFERENCE_DATE:
                signed_off = None
            add(
                "crew_agreements",
                {
                    "seafarer_id": key,
                    "vessel_imo": imo,
                    "rank": _weighted(rng, _RANKS),
                    "signed_on": signed_on,
                    "signed_off": signed_off,
                },
            )
            if signed_off is None:
                break
            signed_on = signed_off + timedelta(days=rng.randint(20, 120))
            if signed_on >= REFERENCE_DATE:
                break


def _build_police(b: _Build) -> None:
    rng, add = b.rng, b.load.add
    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, _Subject):
            b.subject(item)
            continue
        if rng.random() >= 0.04:
            continue
        identity = _noisy_identity(rng, item, b.world.passports)
        if rng.random() < 0.3:
            identity["passport_number"] = identity["passport_country"] = None  # no passport on file
        key = b.person(identity)
        alerts = rng.choice((0, 1, 1, 1, 2))
        warrants = rng.choice((0, 0, 1, 1, 2)) if alerts else rng.choice((1, 1, 2))
        for _ in range(alerts):
            covert = rng.random() < 0.1
            add(
                "nia_alerts",
                {
                    "nia_id": key,
                    "alert_code": _weighted(rng, _POLICE_ALERTS),
                    "raised_date": _day(rng, date(2015, 1, 1), REFERENCE_DATE),
                    "is_active": rng.random() < 0.75,
                    "is_covert": covert,
                    "classification": "RESTRICTED" if covert else rng.choice(("IN-CONFIDENCE", "SENSITIVE")),
                },
            )
        for _ in range(warrants):
            warrant_type = _weighted(rng, _WARRANT_TYPES)
            offence = _OFFENCES[-2] if warrant_type == "ARREST_FINES_DEFAULT" else rng.choice(_OFFENCES[:-2])
            add(
                "warrants",
                {
                    "nia_id": key,
                    "warrant_type": warrant_type,
                    "issued_date": _day(rng, date(2016, 1, 1), REFERENCE_DATE),
                    "court": rng.choice(_COURTS),
                    "offence": offence,
                    "status": rng.choices(("ACTIVE", "EXECUTED", "CANCELLED"), weights=(55, 35, 10))[0],
                },
            )


def _build_nzsis(b: _Build) -> None:
    rng, add = b.rng, b.load.add

    def flag(table: str, key_column: str, key: int) -> None:
        add(
            table,
            {
                key_column: key,
                "flag_type": _weighted(rng, _NZSIS_FLAGS),
                "raised_on": _day(rng, date(2012, 1, 1), REFERENCE_DATE),
                "active": rng.random() < 0.85,
                "classification": _weighted(rng, _NZSIS_CLASSIFICATIONS),
                "handling": "REFER_TO_NZSIS",
            },
        )

    for item in b.interleave(b.world.people, "person"):
        if isinstance(item, _Subject):
            b.subject(item)
            continue
        if rng.random() >= 0.003:
            continue
        identity = _noisy_identity(rng, item, b.world.passports)
        if rng.random() < 0.2:
            identity["passport_number"] = identity["passport_country"] = None
        flag("person_flags", "poi_id", b.person(identity))
    traders = b.world.traders
    entities = rng.sample(traders, max(1, len(traders) // 100)) + b.world.foreign_entities
    for org in b.interleave(entities, "organisation"):
        if isinstance(org, _Subject):
            b.subject(org)
            continue
        key = add(
            "entities_of_interest",
            {
                "entity_name": org.legal_name,
                "country": org.country,
                "nzbn": org.nzbn,
                "client_code": org.client_code,
            },
        )
        flag("entity_flags", "eoi_id", key)


_BUILDERS: dict[str, Callable[[_Build], None]] = {
    "customs": _build_customs,
    "immigration": _build_immigration,
    "mpi": _build_mpi,
    "maritime": _build_maritime,
    "police": _build_police,
    "nzsis": _build_nzsis,
}


# --- Subjects of interest ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Held:
    """How one agency holds a subject: identity parts that differ, and its records."""

    variant: str = "as canonical"
    identity: Mapping[str, Any] = field(default_factory=dict)
    records: tuple[tuple[str, Mapping[str, Any]], ...] = ()


@dataclass(frozen=True, slots=True)
class _Subject:
    key: str
    kind: str
    canonical: Mapping[str, Any]
    story: str
    held: Mapping[str, _Held]


class _GroundTruth:
    """Collects, per subject of interest and agency, what was actually stored."""

    def __init__(self) -> None:
        self._held: dict[str, dict[str, Any]] = {s.key: {} for s in _SUBJECTS}

    def note(
        self,
        key: str,
        agency: str,
        table: str,
        subject_key: str,
        stored: Mapping[str, Any],
        variant: str,
        records: Mapping[str, list[str]],
    ) -> None:
        self._held[key][agency] = {
            "subject_table": table,
            "subject_key": subject_key,
            "variant": variant,
            "stored": dict(stored),
            "records": dict(records),
        }

    def subjects(self) -> list[dict[str, Any]]:
        return [
            {
                "key": s.key,
                "kind": s.kind,
                "canonical": {k: _iso(v) for k, v in s.canonical.items()},
                "story": s.story,
                "held_by": {a: self._held[s.key][a] for a in AGENCIES if a in self._held[s.key]},
            }
            for s in _SUBJECTS
        ]


_Rec = tuple[str, Mapping[str, Any]]


def _person_subject(
    key: str,
    name: tuple[str, str],
    dob: str,
    sex: str,
    nationality: str,
    passport: str,
    story: str,
    **held: _Held,
) -> _Subject:
    canonical = {
        "given_names": name[0],
        "family_name": name[1],
        "date_of_birth": dob,
        "sex": sex,
        "nationality": nationality,
        "passport_number": passport,
        "passport_country": nationality,
    }
    return _Subject(key, "person", canonical, story, held)


# Record builders for the hand-written cast below; timestamps are ISO strings.
def _x(direction: str, port: str, overseas: str, at: str, flight: str) -> _Rec:
    row = {"direction": direction, "port_code": port, "overseas_port_code": overseas, "crossed_at": at}
    return "border_crossings", {**row, "flight_no": flight, "travel_doc_type": "PASSPORT"}


def _declared(at: str, items: int) -> _Rec:
    row = {"declared_at": at, "port_code": "NZAKL", "declaration_type": "NZTD_DIGITAL"}
    return "passenger_declarations", {**row, "items_declared": items, "duty_assessed_nzd": 0}


def _seized(at: str, goods: str, quantity: int, unit: str, outcome: str) -> _Rec:
    row = {"seized_at": at, "port_code": "NZAKL", "goods_type": goods}
    return "seizures", {**row, "quantity": quantity, "unit": unit, "outcome": outcome}


def _visa(visa_type: str, status: str, issued: str, expires: str | None) -> _Rec:
    row = {"visa_type": visa_type, "visa_status": status, "issued_on": issued, "expires_on": expires}
    return "visas", {**row, "conditions": _VISA_TERMS[visa_type][1]}


def _status(status: str, since: str, liable: bool) -> _Rec:
    return "client_status", {"status": status, "status_since": since, "deportation_liable": liable}


def _inz_alert(alert_type: str, raised: str) -> _Rec:
    return "client_alerts", {"alert_type": alert_type, "raised_on": raised, "is_active": True}


def _app(flight: str, departs: str, origin: str, destination: str, directive: str) -> _Rec:
    row = {"flight_no": flight, "scheduled_departure": departs, "origin_port": origin}
    return "app_records", {**row, "destination_port": destination, "directive": directive}


def _incident(at: str, port: str, item: str, outcome: str) -> _Rec:
    fee = _INFRINGEMENT_FEE_NZD if outcome == "INFRINGEMENT" else None
    row = {"occurred_at": at, "port_code": port, "item_category": item}
    return "passenger_incidents", {**row, "outcome": outcome, "fee_nzd": fee}


def _crew(imo: str, rank: str, signed_on: str, signed_off: str | None = None) -> _Rec:
    return "crew_agreements", {
        "vessel_imo": imo,
        "rank": rank,
        "signed_on": signed_on,
        "signed_off": signed_off,
    }


def _police_alert(
    code: str, raised: str, *, covert: bool = False, classification: str = "IN-CONFIDENCE"
) -> _Rec:
    row = {"alert_code": code, "raised_date": raised, "is_active": True}
    return "nia_alerts", {**row, "is_covert": covert, "classification": classification}


def _warrant(warrant_type: str, issued: str, court: str, offence: str) -> _Rec:
    row = {"warrant_type": warrant_type, "issued_date": issued, "court": court}
    return "warrants", {**row, "offence": offence, "status": "ACTIVE"}


def _nzsis_flag(table: str, flag_type: str, raised: str, classification: str) -> _Rec:
    row = {"flag_type": flag_type, "raised_on": raised, "active": True}
    return table, {**row, "classification": classification, "handling": "REFER_TO_NZSIS"}


def _arrival(voyage: str, port: str, at: str, last_port: str) -> _Rec:
    return "craft_arrivals", {
        "voyage_no": voyage,
        "port_code": port,
        "arrived_at": at,
        "last_port_code": last_port,
    }


def _call(port: str, arrival: str, departure: str, previous: str) -> _Rec:
    return "port_calls", {"port": port, "arrival": arrival, "departure": departure, "previous_port": previous}


def _psc(on: str, port: str, deficiencies: int, detained: bool) -> _Rec:
    row = {"inspection_date": on, "port": port}
    return "psc_inspections", {**row, "deficiency_count": deficiencies, "detained": detained}


def _inspection(at: str, result: str, organism: str | None, treatment: str) -> _Rec:
    row = {"inspected_at": at, "result": result}
    return "consignment_inspections", {**row, "organism_found": organism, "treatment": treatment}


def _audit(client_code: str, result: str, on: str) -> _Rec:
    return "importer_audits", {"client_code": client_code, "audit_result": result, "audited_on": on}


_RAVEN, _DAWN = "9471824", "9312559"
_KIWI_FRESH, _SOUTHERN_CROSS = "20481937K", "31570248M"
_NO_PASSPORT = {"passport_number": None, "passport_country": None}

# fmt: off
_SUBJECTS: tuple[_Subject, ...] = (
    _person_subject(
        "soi-01", ("José", "Núñez García"), "1979-03-14", "M", "ESP", "PAF448210",
        "Cocaine courier stopped at Auckland Airport in May 2025, bailed, now wanted on an arrest "
        "warrant; Immigration strips the accents and Police drop his second surname.",
        customs=_Held(records=(
            _x("ARRIVAL", "NZAKL", "CLSCL", "2024-01-20T05:35:00", "LA801"),
            _x("DEPARTURE", "NZAKL", "CLSCL", "2024-02-03T19:25:00", "LA800"),
            _x("ARRIVAL", "NZAKL", "CLSCL", "2025-05-02T05:40:00", "LA801"),
            _declared("2025-05-02T05:40:00", 0),
            _seized("2025-05-02T07:15:00", "COCAINE", 2480, "G", "REFERRED_FOR_PROSECUTION"))),
        immigration=_Held("diacritics dropped", {"given_names": "Jose", "family_name": "Nunez Garcia"}, (
            _visa("VISITOR", "EXPIRED", "2024-01-20", "2024-04-20"),
            _visa("VISITOR", "CANCELLED", "2025-05-02", "2025-08-02"),
            _status("UNLAWFUL", "2025-05-03", True),
            _inz_alert("CHARACTER_CONCERN", "2025-05-03"),
            _app("LA801", "2025-05-01T17:40:00", "CLSCL", "NZAKL", "BOARD"))),
        police=_Held("second surname omitted", {"family_name": "Núñez"}, (
            _warrant("ARREST_FAILURE_TO_APPEAR", "2025-06-10", "Manukau District Court", _OFFENCES[0]),
            _police_alert("WARRANT_TO_ARREST", "2025-06-10"))),
    ),
    _person_subject(
        "soi-02", ("Mohammed", "Al-Rashid"), "1985-11-23", "M", "JOR", "R724519",
        "Of security interest to NZSIS; three agencies, three spellings (Mohammed Al-Rashid, "
        "Muhammad Alrashid, Mohamed Al Rashid), and NZSIS releases nothing beyond REFER_TO_NZSIS.",
        customs=_Held(records=(
            _x("ARRIVAL", "NZAKL", "AEDXB", "2024-08-14T11:05:00", "EK448"),
            _x("DEPARTURE", "NZAKL", "AEDXB", "2024-12-19T21:40:00", "EK449"),
            _x("ARRIVAL", "NZAKL", "AEDXB", "2025-06-02T11:10:00", "EK448"))),
        immigration=_Held("transliteration (Muhammad), hyphen dropped",
                          {"given_names": "Muhammad", "family_name": "Alrashid"}, (
            _visa("ACCREDITED_EMPLOYER_WORK", "CURRENT", "2024-07-30", "2027-07-30"),
            _status("LAWFUL_TEMPORARY", "2024-08-14", False),
            _app("EK448", "2025-06-01T18:10:00", "AEDXB", "NZAKL", "BOARD"))),
        nzsis=_Held("transliteration (Mohamed), hyphen as space",
                    {"given_names": "Mohamed", "family_name": "Al Rashid"},
                    (_nzsis_flag("person_flags", "SECURITY_INTEREST", "2024-10-07", "SECRET"),)),
    ),
    _person_subject(
        "soi-03", ("Wei", "Zhang"), "1990-06-18", "M", "CHN", "E58214937",
        "Repeat biosecurity offender: an infringement for undeclared fruit, then prosecution for "
        "undeclared meat; Immigration holds his given and family names swapped.",
        customs=_Held(records=(
            _x("ARRIVAL", "NZAKL", "CNSHA", "2024-09-14T09:20:00", "MU779"),
            _x("DEPARTURE", "NZAKL", "CNSHA", "2024-10-20T23:50:00", "MU780"),
            _x("ARRIVAL", "NZCHC", "CNCAN", "2025-03-02T08:45:00", "CZ663"),
            _x("DEPARTURE", "NZCHC", "CNCAN", "2025-03-20T13:15:00", "CZ664"),
            _declared("2024-09-14T09:20:00", 0))),
        immigration=_Held("given and family names swapped", {"given_names": "Zhang", "family_name": "Wei"}, (
            _visa("VISITOR", "CURRENT", "2024-08-01", "2026-08-01"),
            _status("OFFSHORE", "2025-03-20", False))),
        mpi=_Held(records=(
            _incident("2024-09-14T09:55:00", "NZAKL", "FRESH_FRUIT_VEGETABLES", "INFRINGEMENT"),
            _incident("2025-03-02T09:30:00", "NZCHC", "MEAT_PRODUCTS", "PROSECUTION"))),
    ),
    _person_subject(
        "soi-04", ("Anna-Maria", "Schmidt-Weber"), "1972-01-30", "F", "DEU", "C01X7KLM5",
        "German visitor who overstayed in January 2025 and was reported missing in April; the hyphens "
        "come and go between agencies, and Police hold no passport for her.",
        customs=_Held(records=(_x("ARRIVAL", "NZAKL", "SGSIN", "2024-10-28T11:50:00", "SQ285"),)),
        immigration=_Held("hyphens as spaces",
                          {"given_names": "Anna Maria", "family_name": "Schmidt Weber"}, (
            _visa("VISITOR", "EXPIRED", "2024-10-28", "2025-01-26"),
            _status("UNLAWFUL", "2025-01-27", True),
            _inz_alert("OVERSTAYER", "2025-02-12"))),
        police=_Held("hyphen dropped from the family name; no passport on file",
                     {"family_name": "Schmidtweber", **_NO_PASSPORT},
                     (_police_alert("MISSING_PERSON", "2025-04-03"),)),
    ),
    _person_subject(
        "soi-05", ("Aleksandr", "Volkov"), "1968-09-05", "M", "RUS", "753918264",
        "Master of the bulk carrier PACIFIC RAVEN, detained at Tauranga; Maritime NZ records him as "
        "Alexander, Customs and Immigration as Aleksandr.",
        customs=_Held(records=(_x("ARRIVAL", "NZAKL", "SGSIN", "2025-01-08T13:10:00", "SQ281"),)),
        immigration=_Held(records=(
            _visa("CREW", "CURRENT", "2025-01-06", "2025-07-05"),
            _status("LAWFUL_TEMPORARY", "2025-01-08", False))),
        maritime=_Held("transliteration (Alexander)", {"given_names": "Alexander"},
                       (_crew(_RAVEN, "MASTER", "2025-01-10"),)),
    ),
    _person_subject(
        "soi-06", ("Văn An", "Nguyễn"), "1995-12-01", "M", "VNM", "C8142257",
        "Seafarer who signed off PACIFIC RAVEN at Tauranga and stayed; Immigration strips the "
        "diacritics and Maritime NZ files him as given name An, family name Nguyen Van.",
        customs=_Held(records=(_x("ARRIVAL", "NZAKL", "SGSIN", "2025-01-08T13:10:00", "SQ281"),)),
        immigration=_Held("diacritics dropped", {"given_names": "Van An", "family_name": "Nguyen"}, (
            _visa("CREW", "CANCELLED", "2025-01-06", "2025-07-05"),
            _status("UNLAWFUL", "2025-04-25", True),
            _inz_alert("ABSCONDED_CREW", "2025-04-26"))),
        maritime=_Held("middle name joined to the family name, diacritics dropped",
                       {"given_names": "An", "family_name": "Nguyen Van"},
                       (_crew(_RAVEN, "ABLE_SEAFARER", "2025-01-10", "2025-04-18"),)),
    ),
    _person_subject(
        "soi-07", ("Priya", "Sharma"), "1988-04-07", "F", "IND", "Z4829163",
        "Police firearms alert; Police recorded her date of birth with day and month swapped "
        "(1988-07-04) and hold no passport, so only a tolerant name-and-birth-date match finds her.",
        customs=_Held(records=(
            _x("DEPARTURE", "NZAKL", "INDEL", "2024-12-15T21:05:00", "AI359"),
            _x("ARRIVAL", "NZAKL", "INDEL", "2025-01-12T06:30:00", "AI358"))),
        immigration=_Held(records=(
            _visa("RESIDENT", "CURRENT", "2023-03-01", None),
            _status("RESIDENT", "2023-03-01", False))),
        police=_Held("day and month of birth swapped; no passport on file",
                     {"date_of_birth": "1988-07-04", **_NO_PASSPORT},
                     (_police_alert("FIREARMS", "2025-02-20", classification="SENSITIVE"),)),
    ),
    _person_subject(
        "soi-08", ("Liam", "O'Connor"), "1983-02-19", "M", "NZL", "LM482093",
        "Subject of a covert Police operation: the alert must never be disclosed, not even as a "
        "refusal that hints it exists.",
        customs=_Held(records=(
            _x("DEPARTURE", "NZAKL", "AUSYD", "2025-03-14T20:15:00", "NZ103"),
            _x("ARRIVAL", "NZAKL", "AUSYD", "2025-03-17T23:40:00", "NZ104"),
            _x("DEPARTURE", "NZAKL", "AUBNE", "2025-06-20T21:00:00", "NZ145"),
            _x("ARRIVAL", "NZAKL", "AUBNE", "2025-06-24T03:55:00", "NZ146"))),
        police=_Held("apostrophe dropped", {"family_name": "OConnor"}, (
            _police_alert("PERSON_OF_INTEREST", "2025-02-01", covert=True, classification="RESTRICTED"),)),
    ),
    _person_subject(
        "soi-09", ("Tevita", "Fa'anunu"), "1992-07-22", "M", "TON", "N0482915",
        "RSE worker deported in November 2023 who tried to check in at Nuku'alofa for Auckland in "
        "June 2025: APP returned DO_NOT_BOARD.",
        customs=_Held(records=(
            _x("ARRIVAL", "NZAKL", "TOTBU", "2022-10-04T14:20:00", "NZ971"),
            _x("DEPARTURE", "NZAKL", "TOTBU", "2023-11-02T02:30:00", "NZ970"))),
        immigration=_Held("apostrophe dropped", {"family_name": "Faanunu"}, (
            _visa("RECOGNISED_SEASONAL_EMPLOYER", "EXPIRED", "2022-09-20", "2023-04-30"),
            _status("DEPORTED", "2023-11-02", True),
            _inz_alert("DEPORTED", "2023-11-02"),
            _app("NZ971", "2025-06-28T11:25:00", "TOTBU", "NZAKL", "DO_NOT_BOARD"))),
        police=_Held(records=(_police_alert("VIOLENCE", "2023-08-19"),)),
    ),
    _person_subject(
        "soi-10", ("Françoise", "Lefèvre"), "1961-05-27", "F", "FRA", "19AB12345",
        "Prosecuted by MPI for undeclared seeds and cuttings although she declared two other items; "
        "MPI's system strips the accents.",
        customs=_Held(records=(
            _x("ARRIVAL", "NZAKL", "SGSIN", "2024-11-03T13:05:00", "SQ281"),
            _x("DEPARTURE", "NZAKL", "SGSIN", "2024-12-01T23:45:00", "SQ282"),
            _declared("2024-11-03T13:05:00", 2))),
        immigration=_Held(records=(
            _visa("VISITOR", "EXPIRED", "2024-11-03", "2025-02-01"),
            _status("OFFSHORE", "2024-12-01", False))),
        mpi=_Held("diacritics dropped", {"given_names": "Francoise", "family_name": "Lefevre"},
                  (_incident("2024-11-03T13:40:00", "NZAKL", "PLANT_MATERIAL_SEEDS", "PROSECUTION"),)),
    ),
    _person_subject(
        "soi-11", ("Mehmet", "Yılmaz"), "1976-10-30", "M", "TUR", "U19283746",
        "Permanent resident with an outstanding fines-default warrant, caught bringing in 12,000 "
        "undeclared cigarettes; everyone but Customs loses the dotless ı.",
        customs=_Held(records=(
            _x("ARRIVAL", "NZAKL", "AEDXB", "2025-02-11T11:05:00", "EK448"),
            _seized("2025-02-11T12:30:00", "TOBACCO", 12000, "STICKS", "FORFEITED"))),
        immigration=_Held("dotless ı as i", {"family_name": "Yilmaz"}, (
            _visa("RESIDENT", "SUPERSEDED", "2019-06-12", None),
            _visa("PERMANENT_RESIDENT", "CURRENT", "2021-06-14", None),
            _status("PERMANENT_RESIDENT", "2021-06-14", False))),
        police=_Held("dotless ı as i", {"family_name": "Yilmaz"}, (
            _warrant("ARREST_FINES_DEFAULT", "2024-11-18", "Manukau District Court", _OFFENCES[-2]),
            _police_alert("WARRANT_TO_ARREST", "2024-11-18"))),
    ),
    _person_subject(
        "soi-12", ("Søren", "Østergaard"), "1958-08-16", "M", "DNK", "208472915",
        "Chief engineer of OCEAN DAWN (ex ORIENT DAWN); Søren Østergaard, Soren Ostergaard and "
        "Soeren Oestergaard are one man.",
        customs=_Held(records=(_x("ARRIVAL", "NZAKL", "SGSIN", "2025-02-27T11:50:00", "SQ285"),)),
        immigration=_Held("ø as o", {"given_names": "Soren", "family_name": "Ostergaard"}, (
            _visa("CREW", "CURRENT", "2025-02-25", "2025-08-24"),
            _status("LAWFUL_TEMPORARY", "2025-02-27", False))),
        maritime=_Held("ø as oe", {"given_names": "Soeren", "family_name": "Oestergaard"},
                       (_crew(_DAWN, "CHIEF_ENGINEER", "2025-03-01"),)),
    ),
    _Subject(
        "soi-v1", "vessel",
        {"imo_number": _RAVEN, "vessel_name": "PACIFIC RAVEN", "call_sign": "3FRV7", "flag": "PAN",
         "vessel_type": "BULK_CARRIER", "gross_tonnage": 32450},
        "Bulk carrier detained at Tauranga in February 2025 after port state control found 14 "
        "deficiencies; her master and an absconded seafarer are persons of interest.",
        {"customs": _Held(records=(
            _arrival("2306N", "NZLYT", "2023-06-11T04:00:00", "CNNGB"),
            _arrival("2501S", "NZTRG", "2025-02-03T06:00:00", "AUNTL"))),
         "maritime": _Held(records=(
            _call("NZLYT", "2023-06-11T04:00:00", "2023-06-14T17:30:00", "CNNGB"),
            _psc("2023-06-12", "NZLYT", 2, False),
            _call("NZTRG", "2025-02-03T06:00:00", "2025-04-25T14:00:00", "AUNTL"),
            _psc("2025-02-04", "NZTRG", 14, True)))},
    ),
    _Subject(
        "soi-v2", "vessel",
        {"imo_number": _DAWN, "vessel_name": "OCEAN DAWN", "call_sign": "T2OD4", "flag": "TUV",
         "vessel_type": "GENERAL_CARGO", "gross_tonnage": 8460},
        "General cargo ship renamed ORIENT DAWN to OCEAN DAWN and reflagged from Panama to Tuvalu; "
        "Customs still holds the old name and call sign, so only the IMO number links the records.",
        {"customs": _Held("former name, call sign and flag",
                          {"vessel_name": "ORIENT DAWN", "call_sign": "3EOD9", "flag": "PAN"},
                          (_arrival("2503S", "NZLYT", "2025-03-11T07:30:00", "FJSUV"),)),
         "maritime": _Held(records=(
            _call("NZLYT", "2025-03-11T07:30:00", "2025-03-14T18:00:00", "FJSUV"),
            _psc("2025-03-12", "NZLYT", 3, False),
            _call("NZPOE", "2025-03-15T08:00:00", "2025-03-17T16:00:00", "NZLYT")))},
    ),
    _Subject(
        "soi-c1", "consignment",
        {"consignment_id": "MEDU739145812", "bill_type": "BM", "origin_port": "PHMNL",
         "discharge_port": "NZAKL", "goods_description": "FRESH MANGOES",
         "importer_client_code": _KIWI_FRESH, "arrived_on": "2025-03-20"},
        "Mangoes from Manila with live oriental fruit fly larvae: Customs holds the consignment and "
        "MPI directs its destruction.",
        {"customs": _Held("customs hold", {"risk_status": "HOLD"}),
         "mpi": _Held(records=(
            _inspection("2025-03-21T09:00:00", "FAIL_LIVE_ORGANISM",
                        "Bactrocera dorsalis (oriental fruit fly) larvae", "DESTRUCTION"),))},
    ),
    _Subject(
        "soi-c2", "consignment",
        {"consignment_id": "784" + _awb_serial("4820193"), "bill_type": "MB", "origin_port": "CNCAN",
         "discharge_port": "NZAKL", "goods_description": "AUTOMOTIVE SPARE PARTS",
         "importer_client_code": _SOUTHERN_CROSS, "arrived_on": "2025-04-09"},
        "Air cargo from Guangzhou declared as car parts and referred by Customs; soil on the parts "
        "failed MPI inspection, and the importer is an organisation of NZSIS interest.",
        {"customs": _Held("referred by Customs", {"risk_status": "REFERRED"}),
         "mpi": _Held(records=(_inspection("2025-04-10T10:30:00", "FAIL_CONTAMINANT", None, "CLEANING"),))},
    ),
    _Subject(
        "soi-o1", "organisation",
        {"legal_name": "Kiwi Fresh Imports Limited", "client_code": _KIWI_FRESH, "nzbn": "9429047182363",
         "country": "NZL", "registered_on": "2016-08-22"},
        "Importer of the fruit-fly mangoes, with a critical MPI audit finding in April 2025; MPI "
        "writes the name in capitals with Ltd.",
        {"customs": _Held(),
         "mpi": _Held("upper case, Ltd for Limited", {"legal_name": "KIWI FRESH IMPORTS LTD"}, (
            _audit(_KIWI_FRESH, "MAJOR_NON_COMPLIANCE", "2024-06-11"),
            _audit(_KIWI_FRESH, "CRITICAL_NON_COMPLIANCE", "2025-04-02")))},
    ),
    _Subject(
        "soi-o2", "organisation",
        {"legal_name": "Southern Cross Trading Company Limited", "client_code": _SOUTHERN_CROSS,
         "nzbn": "9429033592015", "country": "NZL", "registered_on": "2021-02-03"},
        "Trading company of NZSIS interest, known to NZSIS only by an abbreviated name, so only an "
        "organisation-name match links it to Customs' trader record.",
        {"customs": _Held(),
         "nzsis": _Held("abbreviated name; no NZBN or client code on file",
                        {"legal_name": "Southern Cross Trading Co Ltd", "nzbn": None, "client_code": None},
                        (_nzsis_flag("entity_flags", "SECURITY_INTEREST", "2025-04-14", "CONFIDENTIAL"),))},
    ),
)
# fmt: on
