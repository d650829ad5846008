"""Checksums and plausibility checks that turn a pattern match into a recognized value.

Each validator takes the matched value and returns True when it is a real instance of its type.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

_DIGITS = re.compile(r"\D")


def digits(value: str) -> str:
    return _DIGITS.sub("", value)


def luhn(value: str) -> bool:
    number = digits(value)
    return 12 <= len(number) <= 19 and len(set(number)) > 1 and _luhn_sum_ok(number)


def _luhn_sum_ok(number: str) -> bool:
    """The Luhn checksum of a digit string: every second digit from the right doubled, the sum ending in 0."""
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban(value: str) -> bool:
    code = re.sub(r"[\s-]", "", value).upper()
    if _IBAN_LENGTHS.get(code[:2]) != len(code) or not code[2:4].isdigit():
        return False
    rearranged = code[4:] + code[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def us_ssn(value: str) -> bool:
    number = digits(value)
    if len(number) != 9 or len(set(number)) == 1:
        return False
    area, group, serial = number[:3], number[3:5], number[5:]
    if area in ("000", "666") or area >= "900" or group == "00" or serial == "0000":
        return False
    # Numbers published in advertising and documentation.
    return number not in ("078051120", "219099999", "123456789")


@functools.cache
def _phonenumbers() -> Any:
    import phonenumbers  # a dependency of Presidio as well; imported on first phone candidate

    return phonenumbers


def phone(value: str) -> bool:
    library = _phonenumbers()
    regions = (None,) if value.lstrip().startswith("+") else ("US", "GB", "DE", "FR", "IN", "AU", "CA", "IL")
    for region in regions:
        try:
            parsed = library.parse(value, region)
        except library.NumberParseException:
            continue
        if library.is_valid_number(parsed):
            return True
    return False


def ipv4(value: str) -> bool:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return not (address.is_unspecified or value.startswith("0."))


def ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return value.count(":") >= 2


def aba_routing(value: str) -> bool:
    number = digits(value)
    if len(number) != 9 or len(set(number)) == 1:
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(number, weights, strict=True)) % 10 == 0


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def entropy(value: str) -> bool:
    return len(value) >= 8 and shannon_entropy(value) >= 3.0


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def btc_address(value: str) -> bool:
    import hashlib

    if value.lower().startswith("bc1"):
        return _bech32_ok(value)
    number = 0
    for char in value:
        index = _BASE58.find(char)
        if index < 0:
            return False
        number = number * 58 + index
    raw = number.to_bytes(25, "big") if number.bit_length() <= 200 else b""
    if len(raw) != 25:
        return False
    check = hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4]
    return check == raw[-4:]


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_ok(value: str) -> bool:
    text = value.lower()
    hrp, _, data = text.rpartition("1")
    if not hrp or len(data) < 6 or any(c not in _BECH32 for c in data):
        return False
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    checksum = 1
    for value_ in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + [_BECH32.find(c) for c in data]:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value_
        for i in range(5):
            checksum ^= generator[i] if (top >> i) & 1 else 0
    return checksum in (1, 0x2BC830A3)


def eth_address(value: str) -> bool:
    body = value[2:]
    return len(body) == 40 and len(set(body.lower())) > 4


def uk_nhs(value: str) -> bool:
    number = digits(value)
    if len(number) != 10:
        return False
    total = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9])


def es_nif(value: str) -> bool:
    code = value.upper().replace("-", "")
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    body = code[:-1].replace("X", "0").replace("Y", "1").replace("Z", "2")
    return body.isdigit() and letters[int(body) % 23] == code[-1]


def it_fiscal_code(value: str) -> bool:
    code = value.upper()
    if len(code) != 16:
        return False
    odd = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
    total = 0
    for index, char in enumerate(code[:15]):
        position = int(char) if char.isdigit() else ord(char) - ord("A")
        total += odd[position] if index % 2 == 0 else position
    return chr(ord("A") + total % 26) == code[15]


def in_aadhaar(value: str) -> bool:
    number = digits(value)
    if len(number) != 12 or number[0] in "01":
        return False
    d = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ]  # fmt: skip
    p = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]  # fmt: skip
    check = 0
    for index, char in enumerate(reversed(number)):
        check = d[check][p[index % 8][int(char)]]
    return check == 0


def au_abn(value: str) -> bool:
    number = digits(value)
    if len(number) != 11:
        return False
    weights = (10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)
    values = [int(number[0]) - 1] + [int(d) for d in number[1:]]
    return sum(v * w for v, w in zip(values, weights, strict=True)) % 89 == 0


def au_tfn(value: str) -> bool:
    number = digits(value)
    if len(number) != 9:
        return False
    weights = (1, 4, 3, 7, 5, 8, 6, 9, 10)
    return sum(int(d) * w for d, w in zip(number, weights, strict=True)) % 11 == 0


def sg_nric(value: str) -> bool:
    code = value.upper()
    if len(code) != 9 or not code[1:8].isdigit():
        return False
    weights = (2, 7, 6, 5, 4, 3, 2)
    total = sum(int(d) * w for d, w in zip(code[1:8], weights, strict=True))
    if code[0] in "TG":
        total += 4
    elif code[0] == "M":
        total += 3
    tables = {"ST": "JZIHGFEDCBA", "FG": "XWUTRQPNMLK", "M": "KLJNPQRTUWX"}
    table = next((t for k, t in tables.items() if code[0] in k), None)
    return table is not None and table[total % 11] == code[8]


def date(value: str) -> bool:
    numbers = [int(n) for n in re.findall(r"\d+", value)]
    return bool(numbers) and all(n <= 9999 for n in numbers)


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn,
    "iban": iban,
    "us_ssn": us_ssn,
    "phone": phone,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "aba_routing": aba_routing,
    "entropy": entropy,
    "btc_address": btc_address,
    "eth_address": eth_address,
    "uk_nhs": uk_nhs,
    "es_nif": es_nif,
    "it_fiscal_code": it_fiscal_code,
    "in_aadhaar": in_aadhaar,
    "au_abn": au_abn,
    "au_tfn": au_tfn,
    "sg_nric": sg_nric,
    "date": date,
}


# --- PII pack (rules/pii.yaml) -------------------------------------------------------------------

_DATE_PARTS = re.compile(r"\d+")


def calendar_date(value: str) -> bool:
    """A day-precise date: year 1900-2099 (or two digits), a real month and a day that fits it."""
    parts = [int(n) for n in _DATE_PARTS.findall(value)[:3]]
    if len(parts) < 3:
        return False
    first, second, third = parts
    # Year first (y-m-d), or m/d/y and d/m/y, either of which may be the real reading.
    orders = [(first, second, third)] if first >= 1000 else [(third, first, second), (third, second, first)]
    for year, month, day in orders:
        if year < 100 or 1900 <= year <= 2099:
            full = year + 2000 if year < 100 else year
            limit = (31, 29 if full % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
            if 1 <= month <= 12 and 1 <= day <= limit[month - 1]:
                return True
    return False


_EXTENSION = re.compile(r"(?i)\s*(?:x|ext).*$")


def phone_digits(value: str) -> bool:
    """A phone-shaped digit run where context says it is a phone: 7-15 digits, not one repeated digit."""
    number = digits(_EXTENSION.sub("", value))
    return 7 <= len(number) <= 15 and len(set(number)) > 2


_TRUNK_ZERO_REGIONS = ("GB", "DE", "FR", "IN", "AU", "IL")
_NO_TRUNK_REGIONS = ("US", "CA", "IN")


def phone_strict(value: str) -> bool:
    """A valid phone number that needs no context: international (+...) or ten digits and more.

    phonenumbers accepts many 6-9 digit runs for some region (house numbers, postcodes), so shorter
    national numbers are left to rules that see a phone label next to them.
    """
    count = len(digits(_EXTENSION.sub("", value)))
    if count > 15:  # longer than any E.164 number
        return False
    value = value.strip()
    if value.startswith("+"):
        return phone(value)
    if value.startswith("00"):  # the international call prefix of most countries
        return phone("+" + value[2:])
    if count < 10:
        return False
    library = _phonenumbers()
    # A leading 0 is a trunk prefix (GB, DE, FR, IN, AU, IL); North American numbers have none.
    regions = _TRUNK_ZERO_REGIONS if value.lstrip("(").startswith("0") else _NO_TRUNK_REGIONS
    for region in regions:
        try:
            parsed = library.parse(value, region)
        except library.NumberParseException:
            continue
        # Valid for the region it was read in: cheaper than is_valid_number(), which looks the region up.
        if library.is_valid_number_for_region(parsed, region):
            return True
    return False


def ipv6_address(value: str) -> bool:
    """A full IPv6 address with at least three groups written out (not `std::` or `a::b`)."""
    body = value.split("%")[0]
    groups = [g for g in body.split(":") if g]
    return ipv6(body) and len(groups) >= 3 and any(g.strip("0") for g in groups)


def uk_nino(value: str) -> bool:
    code = re.sub(r"\s", "", value).upper()
    return len(code) == 9 and code[:2] not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ")


def pl_pesel(value: str) -> bool:
    number = digits(value)
    if len(number) != 11 or len(set(number)) == 1:
        return False
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    total = sum(int(d) * w for d, w in zip(number[:10], weights, strict=True))
    month = int(number[2:4]) % 20
    return (10 - total % 10) % 10 == int(number[10]) and 1 <= month <= 12 and 1 <= int(number[4:6]) <= 31


def tr_tckn(value: str) -> bool:
    number = [int(d) for d in digits(value)]
    if len(number) != 11 or number[0] == 0:
        return False
    tenth = (sum(number[0:9:2]) * 7 - sum(number[1:8:2])) % 10
    return tenth == number[9] and sum(number[:10]) % 10 == number[10]


def fi_hetu(value: str) -> bool:
    code = value.upper()
    if len(code) != 11 or not (code[:6] + code[7:10]).isdigit():
        return False
    day, month = int(code[:2]), int(code[2:4])
    checks = "0123456789ABCDEFHJKLMNPRSTUVWXY"
    return 1 <= day <= 31 and 1 <= month <= 12 and checks[int(code[:6] + code[7:10]) % 31] == code[10]


def dea(value: str) -> bool:
    """A DEA registration number: two letters and seven digits whose last digit is a checksum."""
    number = digits(value)
    if len(number) != 7:
        return False
    d = [int(c) for c in number]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def ca_sin(value: str) -> bool:
    """A Canadian social insurance number: nine digits passing Luhn, not starting with 0 or 8."""
    number = digits(value)
    return len(number) == 9 and number[0] not in "08" and len(set(number)) > 1 and _luhn_sum_ok(number)


VALIDATORS.update(
    {
        "calendar_date": calendar_date,
        "phone_digits": phone_digits,
        "phone_strict": phone_strict,
        "ipv6_address": ipv6_address,
        "uk_nino": uk_nino,
        "pl_pesel": pl_pesel,
        "tr_tckn": tr_tckn,
        "fi_hetu": fi_hetu,
        "dea": dea,
        "ca_sin": ca_sin,
    }
)
