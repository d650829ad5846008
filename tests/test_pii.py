"""The PII pack: each entity type in context, checksums, property tests, redaction that keeps the rest."""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from promptward import Action, Guard
from promptward._packs import BUILTIN_PACKS
from promptward._validators import _IBAN_LENGTHS, luhn

ROOT = Path(__file__).resolve().parents[1]
PII_PACK = "builtin:pii" if "pii" in BUILTIN_PACKS else str(ROOT / "rules" / "pii.yaml")


@functools.cache
def guard() -> Guard:
    return Guard(["builtin", PII_PACK])


def found(text: str) -> list[tuple[str, str]]:
    """(entity type, value) of every data finding."""
    return [
        (f.entity_type, text[f.span.start : f.span.end])
        for f in guard().check(text).findings
        if f.entity_type is not None
    ]


IN_CONTEXT = [
    ("EMAIL_ADDRESS", "Write to ana.ruiz@correo.example.es about the lease.", "ana.ruiz@correo.example.es"),
    ("PHONE_NUMBER", "You can reach the desk on +1 415-555-2671 until five.", "+1 415-555-2671"),
    ("PHONE_NUMBER", "Mobile: 0490 39 07 81", "0490 39 07 81"),
    ("CREDIT_CARD", "Charge my Visa 4012 8888 8888 1881 for the deposit.", "4012 8888 8888 1881"),
    ("IBAN_CODE", "Pay to FR14 2004 1010 0505 0001 3M02 606 by Friday.", "FR14 2004 1010 0505 0001 3M02 606"),
    ("US_SSN", "My social security number is 536-22-8172.", "536-22-8172"),
    ("IP_ADDRESS", "The login came from 198.51.100.23 at noon.", "198.51.100.23"),
    ("IP_ADDRESS", "Block host 2001:db8:85a3::8a2e:370:7334 now.", "2001:db8:85a3::8a2e:370:7334"),
    ("CRYPTO", "Tip me at bitcoin address 1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
    ("CRYPTO", "ETH wallet: 0x52908400098527886E0F7030069857D2E4169EE7", "0x52908400098527886E0F7030069857D2E4169EE7"),
    ("DATE_TIME", "Patient date of birth: 07/04/1976, admitted today.", "07/04/1976"),
    ("DATE_TIME", "She was born on March 3, 1962 in Oslo.", "March 3, 1962"),
    ("US_DRIVER_LICENSE", "Driver's license no. D1234567 (California).", "D1234567"),
    ("US_BANK_NUMBER", "Deposit it into checking account 000123456789.", "000123456789"),
    ("ABA_ROUTING_NUMBER", "The bank routing number is 021000021.", "021000021"),
    ("US_ITIN", "Her ITIN is 912-70-1234 per the IRS letter.", "912-70-1234"),
    ("US_PASSPORT", "US passport number 910239248, expires 2031.", "910239248"),
    ("UK_NHS", "NHS number: 943 476 5919", "943 476 5919"),
    ("UK_NINO", "National insurance number AB 12 34 56 C", "AB 12 34 56 C"),
    ("ES_NIF", "Mi DNI es 12345678Z.", "12345678Z"),
    ("ES_NIE", "Su NIE es X1234567L.", "X1234567L"),
    ("IT_FISCAL_CODE", "Il codice fiscale è RSSMRA85T10A562S.", "RSSMRA85T10A562S"),
    ("IN_AADHAAR", "Aadhaar no. 2345 6789 0124 linked.", "2345 6789 0124"),
    ("IN_PAN", "PAN card: AAAPZ1234C", "AAAPZ1234C"),
    ("AU_ABN", "Supplier ABN 51 824 753 556 on the invoice header.", "51 824 753 556"),
    ("AU_TFN", "Quote your tax file number 123 456 782 to the ATO.", "123 456 782"),
    ("SG_NRIC_FIN", "NRIC: S1234567D", "S1234567D"),
    ("PL_PESEL", "Numer PESEL: 44051401359", "44051401359"),
    ("FI_PERSONAL_IDENTITY_CODE", "Henkilötunnus 131052-308T", "131052-308T"),
    ("TR_NATIONAL_ID", "TC kimlik no 10000000146", "10000000146"),
    ("CA_SIN", "Social insurance number: 123 456 782", "123 456 782"),
    ("MEDICAL_LICENSE", "Prescriber DEA number AB1234563", "AB1234563"),
    ("MAC_ADDRESS", "Device MAC 00:1A:2B:3C:4D:5E joined", "00:1A:2B:3C:4D:5E"),
]


@pytest.mark.parametrize(("entity", "text", "value"), IN_CONTEXT, ids=[f"{c[0]}-{i}" for i, c in enumerate(IN_CONTEXT)])
def test_entity_found_in_context(entity: str, text: str, value: str) -> None:
    assert (entity, value) in found(text)


CHECKSUM_FAILS = [
    ("CREDIT_CARD", "Charge my Visa 4012 8888 8888 1882 for the deposit."),
    ("IBAN_CODE", "Pay to FR14 2004 1010 0505 0001 3M02 607 by Friday."),
    ("UK_NHS", "NHS number: 943 476 5910"),
    ("ES_NIF", "Mi DNI es 12345678A."),
    ("IT_FISCAL_CODE", "Il codice fiscale è RSSMRA85T10A562T."),
    ("IN_AADHAAR", "Aadhaar no. 2345 6789 0123 linked."),
    ("AU_ABN", "Supplier ABN 51 824 753 557 on the invoice header."),
    ("AU_TFN", "Quote your tax file number 123 456 789 to the ATO."),
    ("SG_NRIC_FIN", "NRIC: S1234567A"),
    ("ABA_ROUTING_NUMBER", "The bank routing number is 021000022."),
    ("US_SSN", "My social security number is 666-22-8172."),
    ("CRYPTO", "Tip me at bitcoin address 1BoatSLRHtKNngkdXEeobR76b53LETtpyX"),
    ("PL_PESEL", "Numer PESEL: 44051401358"),
    ("TR_NATIONAL_ID", "TC kimlik no 10000000147"),
    ("DATE_TIME", "Patient date of birth: 13/31/76, admitted today."),
]


@pytest.mark.parametrize(("entity", "text"), CHECKSUM_FAILS, ids=[c[0] for c in CHECKSUM_FAILS])
def test_checksum_failures_are_not_reported(entity: str, text: str) -> None:
    assert entity not in {kind for kind, _ in found(text)}


def test_weak_formats_need_context() -> None:
    assert found("The warehouse counted 000123456789 units and 910239248 boxes.") == []
    assert found("Order 123 456 782 shipped; ticket 943 476 5919 closed.") == []


def test_years_in_prose_are_weak_dates_that_ask_for_nothing() -> None:
    text = "In 2008 the bank failed and in 1971 it was founded."
    decision = guard().check(text)
    years = [f for f in decision.findings if f.entity_type == "DATE_TIME"]
    assert [text[f.span.start : f.span.end] for f in years] == ["2008", "1971"]
    assert all(f.score < 0.5 for f in years)
    assert decision.action is Action.ALLOW and decision.redacted_text is None
    # A year next to a birth word is personal data and is redacted.
    born = guard().check("I was born in 1984 in Porto.")
    assert born.action is Action.REDACT and born.redacted_text == "I was born in <DATE_TIME_1> in Porto."


def test_action_min_score_zero_redacts_weak_findings() -> None:
    strict = Guard(["builtin", PII_PACK], policy={"action_min_score": 0})
    decision = strict.check("The plant opened in 1971.")
    assert decision.action is Action.REDACT
    assert decision.redacted_text == "The plant opened in <DATE_TIME_1>."


def test_quantities_and_addresses_are_not_years() -> None:
    assert found("Set a 2000 ms timeout and send it to 1987 74 Diakou Street.") == []


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn(body + check):
            return body + check
    raise AssertionError("unreachable")


_PREFIXES = st.sampled_from(["2", "3", "4", "5", "6", "1800", "2131"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=_PREFIXES, rest=st.text("0123456789", min_size=16, max_size=20), length=st.integers(13, 19),
       grouped=st.booleans())  # fmt: skip
def test_every_valid_card_number_is_found(prefix: str, rest: str, length: int, grouped: bool) -> None:
    number = _luhn_complete((prefix + rest)[: length - 1])
    assume(len(set(number)) > 1)
    value = " ".join(re.findall(r".{1,4}", number)) if grouped and length == 16 else number
    text = f"Please charge card {value} today."
    assert ("CREDIT_CARD", value) in found(text)


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789", min_size=12, max_size=19))
def test_no_luhn_failure_is_a_card(number: str) -> None:
    assume(not luhn(number))
    assert "CREDIT_CARD" not in {kind for kind, _ in found(f"Please charge card {number} today.")}


def _iban(country: str, bban: str) -> str:
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


@settings(max_examples=300, deadline=None)
@given(country=st.sampled_from(sorted(_IBAN_LENGTHS)), seed=st.integers(0, 2**32), grouped=st.booleans())
def test_every_valid_iban_is_found(country: str, seed: int, grouped: bool) -> None:
    rng = random.Random(seed)
    bban = "".join(rng.choice("0123456789") for _ in range(_IBAN_LENGTHS[country] - 4))
    code = _iban(country, bban)
    value = " ".join(re.findall(r".{1,4}", code)) if grouped else code
    assert ("IBAN_CODE", value) in found(f"Transfer the money to {value} please.")


_PII_VALUES = [
    "ana.ruiz@correo.example.es",
    "4012 8888 8888 1881",
    "+44 20 7946 0958",
    "536-22-8172",
    "DE89 3704 0044 0532 0130 00",
    "198.51.100.23",
    "07/04/1976",
]
_FILLER = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="<>"), max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_FILLER, st.sampled_from(_PII_VALUES)), min_size=1, max_size=5), _FILLER)
def test_redaction_keeps_everything_outside_findings(parts: list[tuple[str, str]], tail: str) -> None:
    text = "".join(f"{filler} {value} " for filler, value in parts) + tail
    decision = guard().check(text)
    redacted = [f for f in decision.findings if f.category == "pii"]
    if not redacted:
        return
    assert decision.redacted_text is not None
    pieces, last = [], 0
    for finding in sorted(redacted, key=lambda f: f.span.start):
        pieces.append(text[last : finding.span.start])
        last = finding.span.end
    pieces.append(text[last:])
    shape = "<[A-Z_]+_[0-9]+>".join(re.escape(p) for p in pieces)
    assert re.fullmatch(shape, decision.redacted_text, flags=re.DOTALL), decision.redacted_text


def test_a_flood_of_one_kind_does_not_hide_a_secret_further_on() -> None:
    years = " ".join(f"It happened in {1900 + i % 120}." for i in range(1600))
    text = f"History notes: {years} The key is ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 and mail jane.doe@example.org"
    decision = Guard().check(text)
    kinds = {f.entity_type for f in decision.findings}
    assert "EMAIL_ADDRESS" in kinds
    assert any(f.category == "secret" for f in decision.findings)
    assert decision.action is Action.BLOCK


def test_a_custom_rule_that_can_match_empty_text_does_not_break_offsets(tmp_path: Path) -> None:
    pack = tmp_path / "ids.yaml"
    pack.write_text(
        "pack: ids\nversion: '1'\nrules:\n"
        "  - id: ids.member.number\n    kind: pii\n    entity_type: MEMBER_ID\n    category: pii\n"
        "    severity: low\n    pattern: '(?:M-)?\\d{0,8}'\n"
        "    examples:\n      match: ['card 12345678', 'M-1234']\n      no_match: ['none here', 'or here']\n",
        encoding="utf-8",
    )
    text = "café 12345678 ☃"
    found = [(f.entity_type, text[f.span.start : f.span.end]) for f in Guard(["builtin", pack]).check(text).findings]
    assert ("MEMBER_ID", "12345678") in found


def test_naming_the_entity_type_acts_on_weak_findings_and_secrets_act_whatever_their_score(tmp_path: Path) -> None:
    named = Guard(["builtin", PII_PACK], policy={"entity_types": {"DATE_TIME": "redact"}})
    assert named.check("The plant opened in 1971.").redacted_text == "The plant opened in <DATE_TIME_1>."
    pack = tmp_path / "weak.yaml"
    pack.write_text(
        "pack: weak\nversion: '1'\nrules:\n"
        "  - id: weak.token.internal\n    kind: secret\n    entity_type: INTERNAL_TOKEN\n    category: secret\n"
        "    severity: high\n    pattern: 'itk_[a-z0-9]{12}'\n    score: 0.35\n    min_score: 0.3\n"
        "    examples:\n      match: ['itk_a1b2c3d4e5f6', 'key itk_zz99yy88xx77']\n"
        "      no_match: ['itk_short', 'nothing here']\n",
        encoding="utf-8",
    )
    decision = Guard(["builtin", pack]).check("use itk_q1w2e3r4t5y6 for the job")
    assert decision.action is Action.BLOCK
