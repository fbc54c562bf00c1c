"""Three-letter codes a travel document or registration may name as its state.

Two sources, kept as separate constants so each can be checked against its own:

* ``ISO_3166_ALPHA3``: the 249 officially assigned ISO 3166-1 alpha-3 codes, as
  published in the Debian ``iso-codes`` package 4.15.0 (``iso_3166-1.json``),
  which tracks the ISO 3166 Maintenance Agency's newsletters.
* ``ICAO_9303_SPECIAL``: the codes ICAO Doc 9303 Part 3 (8th edition, 2021) adds
  for documents that no ISO state issues: the British nationality classes,
  United Nations and other international organisations, the stateless and
  refugee codes, the European Union, and Kosovo's ``RKS``.

Only three-letter codes are here. ICAO's one-letter code for Germany (``D``)
is deliberately absent: callers send ``DEU``. No names, no IO, no lookup
helpers: validation (``gateway.validation``) only asks "is this code known".
"""

from __future__ import annotations

__all__ = ["ICAO_9303_SPECIAL", "ISO_3166_ALPHA3", "TRAVEL_DOCUMENT_STATES"]

#: ISO 3166-1 alpha-3, officially assigned codes (iso-codes 4.15.0).
# Kept unformatted, twelve codes a line, so the list stays readable at a glance.
# fmt: off
ISO_3166_ALPHA3: frozenset[str] = frozenset(
    {
        "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA",
        "ATF", "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR",
        "BHR", "BHS", "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN",
        "BVT", "BWA", "CAF", "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG",
        "COK", "COL", "COM", "CPV", "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "DEU",
        "DJI", "DMA", "DNK", "DOM", "DZA", "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH",
        "FIN", "FJI", "FLK", "FRA", "FRO", "FSM", "GAB", "GBR", "GEO", "GGY", "GHA", "GIB",
        "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD", "GRL", "GTM", "GUF", "GUM", "GUY",
        "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN", "IND", "IOT", "IRL", "IRN",
        "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ", "KEN", "KGZ", "KHM",
        "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA", "LSO",
        "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX", "MHL",
        "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS",
        "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR",
        "NPL", "NRU", "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL",
        "PRI", "PRK", "PRT", "PRY", "PSE", "PYF", "QAT", "REU", "ROU", "RUS", "RWA", "SAU",
        "SDN", "SEN", "SGP", "SGS", "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM",
        "SRB", "SSD", "STP", "SUR", "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA",
        "TCD", "TGO", "THA", "TJK", "TKL", "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV",
        "TWN", "TZA", "UGA", "UKR", "UMI", "URY", "USA", "UZB", "VAT", "VCT", "VEN", "VGB",
        "VIR", "VNM", "VUT", "WLF", "WSM", "YEM", "ZAF", "ZMB", "ZWE",
    }
)
# fmt: on

#: ICAO Doc 9303 Part 3 codes for issuers and nationalities outside ISO 3166-1.
ICAO_9303_SPECIAL: frozenset[str] = frozenset(
    {
        # British nationality classes other than British citizen (GBR).
        "GBD",  # British Overseas Territories citizen
        "GBN",  # British National (Overseas)
        "GBO",  # British Overseas citizen
        "GBP",  # British protected person
        "GBS",  # British subject
        # United Nations.
        "UNO",  # United Nations Organization or one of its officials
        "UNA",  # specialised agency of the United Nations or one of its officials
        "UNK",  # resident of Kosovo, travel document issued by UNMIK
        # Other international organisations.
        "EUE",  # European Union
        "XBA",  # African Development Bank
        "XCC",  # Caribbean Community (CARICOM)
        "XCE",  # Council of Europe
        "XCO",  # Common Market for Eastern and Southern Africa (COMESA)
        "XDC",  # Southern African Development Community
        "XEC",  # Economic Community of West African States (ECOWAS)
        "XES",  # Organisation of Eastern Caribbean States
        "XIM",  # African Export-Import Bank
        "XMP",  # Parliamentary Assembly of the Council of Europe
        "XOM",  # Sovereign Military Order of Malta
        "XPO",  # INTERPOL
        # Stateless persons and refugees.
        "XXA",  # stateless person (1954 Convention)
        "XXB",  # refugee (1951 Convention)
        "XXC",  # refugee, other than under the 1951 Convention
        "XXX",  # unspecified nationality
        # Kosovo's own passports; not an ISO 3166-1 code.
        "RKS",
    }
)

#: Every code a passport's issuing state or an organisation's country may be.
TRAVEL_DOCUMENT_STATES: frozenset[str] = ISO_3166_ALPHA3 | ICAO_9303_SPECIAL
