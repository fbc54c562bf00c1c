"""Check digits of the identifier formats the synthetic data follows.

IMO ship numbers (IMO A.600(15)), NZBNs (GS1 GTIN-13) and IATA master air
waybill serials (modulus 7). Pure functions of digit strings: no randomness
and no IO here; drawing the digits is ``world.py``'s business.
"""

from __future__ import annotations

__all__ = ["awb_serial", "imo_check_digit", "nzbn_check_digit"]


def imo_check_digit(first_six: str) -> int:
    """IMO ship number check digit: digits 1-6 weighted 7..2, last digit of the sum (IMO A.600(15))."""
    return sum(int(d) * w for d, w in zip(first_six, (7, 6, 5, 4, 3, 2), strict=True)) % 10


def nzbn_check_digit(first_twelve: str) -> int:
    """GS1 check digit of a 13-digit NZBN (GTIN-13 rule: weights 1,3,1,3,... from the left)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first_twelve))
    return (10 - total % 10) % 10


def awb_serial(seven: str) -> str:
    """IATA air waybill serial: 7 digits and their remainder modulo 7."""
    return seven + str(int(seven) % 7)
