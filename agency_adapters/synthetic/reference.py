"""Static reference data the shared world is drawn from.

The synthetic world's calendar (``REFERENCE_DATE``, ``HISTORY_START``), the
nationality mix and name pools, passport number formats, air routes and
UN/LOCODE ports, flag states and ship types, commodities and bill-of-lading
prefixes, organisation name parts, visa terms, offences and the biosecurity
infringement fee. Only plain constants: no randomness and no IO here. Tables
that only one agency's records use (seizure outcomes, police alert codes,
NZSIS classifications...) live with that agency's builder instead.
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "AIRLINE_PREFIXES",
    "AIR_ROUTES",
    "COMMODITIES",
    "FAMILY_FIRST",
    "FLAGS",
    "FLIGHT_HOURS",
    "FOREIGN_ENTITY_SUFFIXES",
    "FORWARDERS",
    "HAND_POOLS",
    "HISTORY_START",
    "INFRINGEMENT_FEE_NZD",
    "NATIONALITIES",
    "NO_MIDDLE",
    "NZ_AIRPORTS",
    "NZ_PLACES",
    "NZ_SEAPORTS",
    "OFFENCES",
    "ORG_WORDS",
    "OVERSEAS_SEAPORTS",
    "PACIFIC",
    "PASSPORT_FORMATS",
    "REFERENCE_DATE",
    "RISK_STATUSES",
    "SEA_CARRIERS",
    "SHIP_TYPES",
    "SHIP_WORDS",
    "VISA_TERMS",
]


REFERENCE_DATE = date(2025, 7, 1)  # the synthetic world's "today"; fixed so output never depends on the clock
HISTORY_START = date(2018, 7, 1)  # the earliest crossing, voyage, visa or crew agreement drawn

# fmt: off
# (name pool, nationality, weight): a mix shaped like New Zealand's arrivals.
NATIONALITIES: tuple[tuple[str, str, float], ...] = (
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
FAMILY_FIRST = frozenset({"zh_CN", "ja_JP", "vi_VN"})  # written family name first at home
NO_MIDDLE = FAMILY_FIRST | {"id_ID", "samoan", "tongan"}

# Hand-kept pools where Faker has no Latin-script locale: (male, female, family).
HAND_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
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

# Passport number patterns: A letter, 9 digit, X letter or digit; a literal otherwise.
PASSPORT_FORMATS = {
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

NZ_AIRPORTS = (("NZAKL", 70.0), ("NZCHC", 17.0), ("NZWLG", 8.0), ("NZZQN", 5.0))
# (overseas airport, flight hours, carriers, weight)
AIR_ROUTES: tuple[tuple[str, int, tuple[str, ...], float], ...] = (
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
FLIGHT_HOURS = {route[0]: route[1] for route in AIR_ROUTES}
NZ_SEAPORTS = (
    ("NZAKL", 25.0), ("NZTRG", 25.0), ("NZLYT", 12.0), ("NZPOE", 8.0), ("NZWLG", 7.0), ("NZNPE", 6.0),
    ("NZNSN", 5.0), ("NZNPL", 4.0), ("NZTIU", 3.0), ("NZBLU", 2.0), ("NZWRE", 2.0), ("NZGIS", 1.0),
)
OVERSEAS_SEAPORTS = (
    "AUSYD", "AUMEL", "AUBNE", "AUNTL", "SGSIN", "CNSHA", "CNNGB", "KRPUS", "JPYOK", "HKHKG", "MYPKG",
    "THLCH", "TWKHH", "USLAX", "USOAK", "FJSUV", "NCNOU", "IDTPP", "VNSGN", "PHMNL", "INNSA", "CLSAI",
)
# (flag state, ITU call-sign prefixes, weight)
FLAGS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("PAN", ("3E", "3F", "HO", "HP"), 16.0), ("LBR", ("A8", "D5"), 14.0), ("MHL", ("V7",), 12.0),
    ("SGP", ("9V", "S6"), 10.0), ("HKG", ("VR",), 8.0), ("MLT", ("9H",), 6.0), ("BHS", ("C6",), 4.0),
    ("GRC", ("SV",), 3.0), ("CYP", ("5B",), 3.0), ("NZL", ("ZM",), 6.0), ("AUS", ("VJ",), 3.0),
    ("CHN", ("BO", "BP"), 5.0), ("TUV", ("T2",), 2.0), ("VUT", ("YJ",), 2.0), ("FJI", ("3D",), 2.0),
)
# (ship type, gross tonnage range, weight)
SHIP_TYPES: tuple[tuple[str, int, int, float], ...] = (
    ("CONTAINER_SHIP", 9_000, 120_000, 30.0), ("BULK_CARRIER", 15_000, 90_000, 20.0),
    ("GENERAL_CARGO", 2_000, 20_000, 12.0), ("VEHICLE_CARRIER", 40_000, 75_000, 6.0),
    ("OIL_TANKER", 20_000, 80_000, 6.0), ("CHEMICAL_TANKER", 5_000, 30_000, 6.0),
    ("LPG_TANKER", 3_000, 30_000, 3.0), ("REEFER", 5_000, 15_000, 4.0),
    ("FISHING_VESSEL", 300, 5_000, 8.0), ("PASSENGER_CRUISE", 30_000, 170_000, 5.0),
)
SHIP_WORDS = (
    ("PACIFIC", "SOUTHERN", "OCEAN", "TASMAN", "CORAL", "NORTHERN", "GOLDEN", "BLUE", "SILVER", "GREAT",
     "KOTA", "SPIL", "AOTEA", "MOANA", "CAPE", "NORDIC", "ASIAN", "STAR", "JADE", "ROYAL"),
    ("EXPRESS", "TRADER", "SPIRIT", "VOYAGER", "HARMONY", "PIONEER", "BREEZE", "HORIZON", "ENDEAVOUR",
     "GLORY", "FORTUNE", "PEARL", "PHOENIX", "NAVIGATOR", "MARINER", "WAVE", "ISLANDER", "ORCA",
     "ALBATROSS", "FALCON", "KIWI", "LEADER", "ACE", "QUEEN"),
)
# (commodity, biosecurity risk)
COMMODITIES = (
    ("FROZEN BEEF CUTS", True), ("FRESH MANGOES", True), ("FRESH BANANAS", True), ("CUT FLOWERS", True),
    ("NUTS IN SHELL", True), ("SPICES AND DRIED HERBS", True), ("RICE IN BAGS", True), ("PET FOOD", True),
    ("TIMBER PALLETS", True), ("USED MOTOR VEHICLES", True), ("USED AGRICULTURAL MACHINERY", True),
    ("FERTILISER", True), ("MOBILE PHONES", False), ("FLATPACK FURNITURE", False), ("CERAMIC TILES", False),
    ("WINE IN BOTTLES", False), ("AUTOMOTIVE SPARE PARTS", False), ("CHILDRENS TOYS", False),
    ("COTTON CLOTHING", False), ("SOLAR PANELS", False), ("LITHIUM BATTERIES", False),
    ("STEEL COILS", False), ("PHARMACEUTICALS", False), ("LAPTOP COMPUTERS", False),
)
SEA_CARRIERS = ("MAEU", "MEDU", "CMDU", "ONEY", "HLCU", "COSU", "ANNU", "EGLV", "OOLU")  # SCAC prefixes
AIRLINE_PREFIXES = ("086", "081", "176", "618", "160", "784", "157")  # NZ, QF, EK, SQ, CX, CZ, QR
FORWARDERS = ("DSV", "KNI", "DBS", "MFT", "TOL", "EXP")
RISK_STATUSES = (("CLEARED", 85.0), ("INSPECTED", 8.0), ("REFERRED", 4.0), ("HOLD", 3.0))
ORG_WORDS = (
    "Freight", "Foods", "Imports", "Trading", "Logistics", "Produce", "Motors", "Wholesale", "Distributors",
    "Supplies", "Holdings", "Exports", "Timber", "Agri", "Marine", "Electronics",
)
NZ_PLACES = (
    "Kaimai", "Waitaki", "Tasman", "Rangitoto", "Aoraki", "Hauraki", "Manawatu", "Otago", "Canterbury",
    "Kaipara", "Ruapehu", "Taranaki", "Hawke's Bay", "Marlborough", "Waikato", "Northland", "Southland",
)
FOREIGN_ENTITY_SUFFIXES = {"CHN": "Co., Ltd.", "USA": "LLC", "SGP": "Pte. Ltd.", "ARE": "FZE",
                            "RUS": "LLC", "HKG": "Limited", "DEU": "GmbH", "IRN": "Co."}
OFFENCES = (
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
INFRINGEMENT_FEE_NZD = 400  # Biosecurity Act 1993 s 154N(21) infringement fee (DOMAIN.md 1.4)
# (visa type, validity in days or None, conditions)
VISA_TERMS: dict[str, tuple[int | None, str | None]] = {
    "VISITOR": (90, "No work; stay of up to 3 months"),
    "STUDENT": (730, "Study at the named education provider; limited work rights"),
    "ACCREDITED_EMPLOYER_WORK": (1095, "Work only for the named accredited employer in the named role"),
    "WORKING_HOLIDAY": (365, "Work and holiday; no permanent employment"),
    "RECOGNISED_SEASONAL_EMPLOYER": (210, "Seasonal work for the named RSE employer only"),
    "CREW": (180, "Crew of the named vessel only"),
    "RESIDENT": (None, "Travel conditions apply"),
    "PERMANENT_RESIDENT": (None, None),
}
PACIFIC = frozenset({"WSM", "TON", "FJI"})
# fmt: on
