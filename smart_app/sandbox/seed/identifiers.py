"""Synthetic but well-formed business identifiers (MRN, Medicare MBI, commercial member id, NPI)."""

from __future__ import annotations

import hashlib

_MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"  # A–Z without S, L, O, I, B, Z (CMS MBI format)
_MBI_DIGITS = "0123456789"
# Position by position: C = 1–9, A = letter, N = digit, X = letter or digit.
_MBI_PATTERN = "CAXNAXNAANN"


def _digest(*names: str) -> bytes:
    return hashlib.sha256("/".join(names).encode()).digest()


def mrn(name: str) -> str:
    """A clinic MRN such as `SP-204815`."""
    return f"SP-{int.from_bytes(_digest('mrn', name)[:4], 'big') % 900000 + 100000}"


def medicare_mbi(name: str) -> str:
    """An 11-character value in the Medicare Beneficiary Identifier format (not a real beneficiary)."""
    digest = _digest("mbi", name)
    out = []
    for position, kind in enumerate(_MBI_PATTERN):
        byte = digest[position]
        alphabet = {
            "C": _MBI_DIGITS[1:],
            "A": _MBI_LETTERS,
            "N": _MBI_DIGITS,
            "X": _MBI_LETTERS + _MBI_DIGITS,
        }[kind]
        out.append(alphabet[byte % len(alphabet)])
    return "".join(out)


def commercial_member_id(name: str) -> str:
    """A commercial plan member id such as `BBH481516230`."""
    return f"BBH{int.from_bytes(_digest('member', name)[:5], 'big') % 10**9:09d}"


def npi_with_check_digit(first_nine: str) -> str:
    """A 10-digit NPI: nine digits plus the Luhn check digit computed over the `80840` prefix."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("an NPI starts with nine digits")
    total = 24  # the constant contribution of the 80840 prefix
    for index, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return first_nine + str((10 - total % 10) % 10)
