"""The Presidio adapter: offline, lazy, honest about what it cannot do without a spaCy model."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

from promptward import ScannerUnavailable
from promptward._presidio import PresidioHit, PresidioScanner

requires_presidio = pytest.mark.skipif(
    "presidio_analyzer" not in sys.modules and __import__("importlib.util").util.find_spec("presidio_analyzer") is None,
    reason="presidio-analyzer is not installed (pip install 'promptward[presidio]')",
)


def test_import_promptward_does_not_import_presidio() -> None:
    code = (
        "import sys, promptward; from promptward import Guard; Guard(); "
        "import promptward._presidio; print(sorted(m for m in ('presidio_analyzer', 'spacy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unavailable_when_presidio_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)
    with pytest.raises(ScannerUnavailable, match=r"pip install 'promptward\[presidio\]'"):
        PresidioScanner()
    assert issubclass(ScannerUnavailable, ImportError)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """Any attempt to open a connection fails the test (and is recorded)."""
    attempts: list[tuple[object, ...]] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args[1:]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@requires_presidio
def test_builds_and_scans_without_touching_the_network(
    offline: list[tuple[object, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptward import _presidio

    _presidio._analyzer.cache_clear()  # build from scratch inside the test
    tldextract = pytest.importorskip("tldextract.tldextract")
    # Forget any suffix list loaded earlier so that the e-mail recognizer has to find one now.
    monkeypatch.setattr(tldextract.TLD_EXTRACTOR, "_extractor", None)
    monkeypatch.setattr(tldextract.TLD_EXTRACTOR, "_cache", tldextract.DiskCache(None))
    scanner = PresidioScanner(entities=["EMAIL_ADDRESS", "URL", "PHONE_NUMBER"])
    hits = scanner.scan("Mail jane.doe@mail.example.org or see https://docs.example.org/a?b=1")
    assert {h.entity_type for h in hits} >= {"EMAIL_ADDRESS", "URL"}
    assert offline == []


@requires_presidio
def test_reports_what_the_fast_path_lacks() -> None:
    scanner = PresidioScanner()
    assert "URL" in scanner.supported_entities
    assert "CREDIT_CARD" not in scanner.supported_entities  # the pii pack already covers it
    text = "The docs are at https://docs.example.org/guide and my card is 4111 1111 1111 1111."
    hits = scanner.scan(text)
    assert hits and all(isinstance(h, PresidioHit) for h in hits)
    assert {h.entity_type for h in hits} == {"URL"}
    url = next(h for h in hits if h.entity_type == "URL")
    assert text[url.start : url.end].startswith("https://docs.example.org")
    assert url.recognizer == "UrlRecognizer" and 0.0 <= url.score <= 1.0


@requires_presidio
def test_ner_types_are_unavailable_without_a_model() -> None:
    scanner = PresidioScanner(entities=["PERSON", "LOCATION", "ORGANIZATION", "EMAIL_ADDRESS"])
    if scanner.ner_available:
        pytest.skip("a spaCy model is installed")
    assert set(scanner.unavailable_entities) >= {"PERSON", "LOCATION", "ORGANIZATION"}
    assert scanner.supported_entities == ("EMAIL_ADDRESS",)
    assert scanner.scan("Angela Merkel met Tim Cook of Apple in Berlin.") == []


@requires_presidio
def test_score_threshold_and_entities_filter() -> None:
    text = "Call 212-555-0199 or mail jane@example.com"
    only_email = PresidioScanner(entities=["EMAIL_ADDRESS"]).scan(text)
    assert [h.entity_type for h in only_email] == ["EMAIL_ADDRESS"]
    assert PresidioScanner(entities=["EMAIL_ADDRESS"], score_threshold=1.01).scan(text) == []
    assert PresidioScanner(entities=[]).scan(text) == []
    with pytest.raises(TypeError):
        PresidioScanner(entities="EMAIL_ADDRESS")


@requires_presidio
def test_concurrent_first_use_is_safe() -> None:
    scanner = PresidioScanner(entities=["EMAIL_ADDRESS"])
    results: list[list[PresidioHit]] = []
    threads = [threading.Thread(target=lambda: results.append(scanner.scan("a jane@example.com b"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(len(r) == 1 for r in results)


@requires_presidio
def test_guard_with_presidio_adds_what_the_fast_path_lacks() -> None:
    import asyncio

    from promptward import Action, Guard

    guard = Guard(presidio=True)
    text = "Ticket 123e4567-e89b-12d3-a456-426614174000: mail jane@corp.com"
    decision = guard.check(text)
    by_rule = {f.rule_id: f for f in decision.findings}
    assert "presidio.uuid" in by_rule and by_rule["presidio.uuid"].entity_type == "UUID"
    assert by_rule["presidio.uuid"].detail  # the recognizer that found it
    assert "pii.email.address" in by_rule  # the fast path still runs
    assert decision.action is Action.REDACT
    assert decision.redacted_text is not None and "jane@corp.com" not in decision.redacted_text
    assert asyncio.run(guard.acheck(text)).action is Action.REDACT
    if not guard.presidio.ner_available:
        assert "PERSON" in guard.unavailable_entities


def test_guard_without_the_extra_says_which_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from promptward import Guard, ScannerUnavailable

    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)
    with pytest.raises(ScannerUnavailable, match=r"promptward\[presidio\]"):
        Guard(presidio=True)
    assert Guard().check("mail jane@corp.com").findings  # the fast path keeps working
