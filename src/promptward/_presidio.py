"""Optional second opinion from Microsoft Presidio, offline and without a model download.

Presidio is imported on first use, never at `import promptward` time. The NLP engine is spaCy's blank
pipeline (tokens only, no network, no model) unless a real spaCy model (en_core_web_lg/md/sm) is
installed, in which case its NER adds PERSON, LOCATION, ORGANIZATION and NRP. tldextract, which
Presidio's email recognizer calls, is pinned to its cache and bundled suffix-list snapshot so that it
never fetches the public suffix list.

    scanner = PresidioScanner(entities=["US_BANK_NUMBER", "UK_NHS"])
    for hit in scanner.scan(text):
        hit.entity_type, hit.start, hit.end, hit.score, hit.recognizer
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._exceptions import ScannerUnavailable

INSTALL_HINT = "pip install 'promptward[presidio]'"
# spaCy models tried in order when present; none is ever downloaded.
_MODELS: dict[str, tuple[str, ...]] = {"en": ("en_core_web_lg", "en_core_web_md", "en_core_web_sm")}
_WARM_UP = "Warm-up: call 212-555-0199 or mail jane@example.com, card 4111 1111 1111 1111, 2020-01-31."
# Presidio's recognizer for the spaCy model's named entities.
_NER_RECOGNIZER = "SpacyRecognizer"
_NER_MODULE = "presidio_analyzer.predefined_recognizers"


@dataclass(frozen=True, slots=True)
class PresidioHit:
    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str


def _missing(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is None
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def _unavailable(detail: str) -> ScannerUnavailable:
    return ScannerUnavailable(f"the Presidio scanner needs presidio-analyzer ({detail}); {INSTALL_HINT}")


def require_presidio() -> None:
    """Raise ScannerUnavailable, naming the extra to install, when Presidio cannot be imported."""
    for module in ("presidio_analyzer", "spacy"):
        if _missing(module):
            raise _unavailable(f"{module} is not installed")


def _offline_tldextract() -> None:
    """Keep tldextract (used by Presidio's email recognizer) off the network.

    The module-level extractor reads TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS when tldextract is imported;
    an empty value means no HTTP. If tldextract was imported earlier, its extractor is told directly.
    It then reads its on-disk cache if one exists, else the suffix-list snapshot bundled in the wheel.
    """
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    try:
        tldextract = importlib.import_module("tldextract.tldextract")
    except ImportError:
        return
    extractor = getattr(tldextract, "TLD_EXTRACTOR", None)
    if extractor is not None and getattr(extractor, "suffix_list_urls", None):
        extractor.suffix_list_urls = ()


def _installed_model(language: str) -> str | None:
    default = tuple(f"{language}_core_news_{size}" for size in ("lg", "md", "sm"))
    for name in _MODELS.get(language, default):
        if not _missing(name):
            return name
    return None


def _offline_engine_class() -> Any:
    """A SpacyNlpEngine whose load() never downloads: a real model if installed, else spacy.blank."""
    spacy = importlib.import_module("spacy")
    base = importlib.import_module("presidio_analyzer.nlp_engine").SpacyNlpEngine

    def load(self: Any) -> None:
        self.nlp = {}
        for model in self.models:
            language, name = model["lang_code"], model["model_name"]
            self.nlp[language] = spacy.load(name) if name and not _missing(name) else spacy.blank(language)

    def doc_to_nlp_artifact(self: Any, doc: Any, language: str) -> Any:
        artifacts = base._doc_to_nlp_artifact(self, doc, language)
        if any(artifacts.lemmas) or not len(doc):
            return artifacts
        # A blank pipeline has no lemmatizer: lower-cased tokens stand in, so that the context words
        # of Presidio's recognizers still raise their scores.
        lemmas = [token.lower_ for token in doc]
        artifacts.lemmas = lemmas
        artifacts.keywords = artifacts.set_keywords(self, lemmas, language)
        return artifacts

    return type(
        "OfflineSpacyNlpEngine",
        (base,),
        {"load": load, "_doc_to_nlp_artifact": doc_to_nlp_artifact, "__module__": __name__},
    )


_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Built:
    analyzer: Any
    model: str | None
    ner_entities: frozenset[str]  # what the spaCy NER recognizer reports when a model is loaded


@functools.cache
def _analyzer(language: str, ner: bool) -> _Built:
    """One AnalyzerEngine per (language, ner), built on first use and warmed up once."""
    require_presidio()
    _offline_tldextract()
    try:
        presidio = importlib.import_module("presidio_analyzer")
    except ImportError as exc:
        raise _unavailable(f"import failed: {exc}") from exc
    model = _installed_model(language) if ner else None
    engine = _offline_engine_class()(models=[{"lang_code": language, "model_name": model or ""}])
    engine.load()
    analyzer = presidio.AnalyzerEngine(nlp_engine=engine, supported_languages=[language])
    # Presidio's mapping also names types of transformer models (EMAIL, ID, ...); keep spaCy's own.
    spacy_types = getattr(importlib.import_module(_NER_MODULE), _NER_RECOGNIZER).ENTITIES
    ner_entities = {str(e) for e in spacy_types}
    if not model:
        # With a blank pipeline the NER recognizer can only return nothing; leave it out.
        analyzer.registry.remove_recognizer(_NER_RECOGNIZER, language=language)
    analyzer.analyze(text=_WARM_UP, language=language)
    return _Built(analyzer, model, frozenset(ner_entities))


def build_analyzer(language: str = "en", *, ner: bool = True) -> Any:
    """Presidio's AnalyzerEngine with every predefined recognizer Presidio enables by default.

    ner=False never loads a spaCy model even when one is installed (pattern recognizers only).
    Thread-safe; built once per (language, ner) and shared.
    """
    return _built(language, ner).analyzer


def _built(language: str, ner: bool) -> _Built:
    with _BUILD_LOCK:
        return _analyzer(language, ner)


@functools.cache
def fast_path_entities() -> frozenset[str]:
    """Entity types the built-in `pii` pack recognizes on its own."""
    from ._packs import builtin_pack

    try:
        pack = builtin_pack("pii")
    except Exception:  # the pack is absent or broken: then every Presidio type is new
        return frozenset()
    return frozenset(getattr(rule, "entity_type", "") for rule in pack.rules) - {""}


@dataclass(frozen=True, slots=True)
class _State:
    analyzer: Any
    model: str | None
    entities: tuple[str, ...]
    unavailable: tuple[str, ...]


class PresidioScanner:
    """Presidio's recognizers behind a small, typed, offline interface.

    `entities=None` means every type Presidio can report here that the fast path (the `pii` pack) lacks;
    pass `entities=` to choose. Types that need a spaCy model (PERSON, LOCATION, ORGANIZATION, NRP) are
    listed in `unavailable_entities` when none is installed, and are never reported then.
    Construction is cheap; Presidio loads on the first scan() or property access.
    """

    def __init__(
        self,
        *,
        entities: Sequence[str] | None = None,
        language: str = "en",
        score_threshold: float = 0.5,
    ) -> None:
        require_presidio()
        if isinstance(entities, str):
            raise TypeError("entities= takes a sequence of entity type names, not one string")
        self.language = language
        self.score_threshold = score_threshold
        self._requested = tuple(entities) if entities is not None else None
        self._lock = threading.Lock()
        self._state: _State | None = None

    def _load(self) -> _State:
        state = self._state
        if state is not None:
            return state
        with self._lock:
            if self._state is None:
                built = _built(self.language, ner=True)
                analyzer = built.analyzer
                recognizers = analyzer.registry.get_recognizers(language=self.language, all_fields=True)
                produced: set[str] = set()
                for recognizer in recognizers:
                    produced.update(str(e) for e in recognizer.supported_entities)
                unavailable = built.ner_entities - produced
                wanted = produced - fast_path_entities() if self._requested is None else produced & set(self._requested)
                self._state = _State(analyzer, built.model, tuple(sorted(wanted)), tuple(sorted(unavailable)))
            return self._state

    @property
    def ner_available(self) -> bool:
        """True when a spaCy model with NER is installed (PERSON, LOCATION, ORGANIZATION, NRP)."""
        return self._load().model is not None

    @property
    def unavailable_entities(self) -> tuple[str, ...]:
        """Types Presidio would report with a spaCy model, which is not installed."""
        unavailable = self._load().unavailable
        if self._requested is None:
            return unavailable
        return tuple(e for e in unavailable if e in self._requested)

    @property
    def supported_entities(self) -> tuple[str, ...]:
        """The entity types this scanner reports."""
        return self._load().entities

    def scan(self, text: str) -> list[PresidioHit]:
        state = self._load()
        analyzer, entities = state.analyzer, state.entities
        if not entities or not text:
            return []
        results = analyzer.analyze(
            text=text, language=self.language, entities=list(entities), score_threshold=self.score_threshold
        )
        hits = [
            PresidioHit(
                str(r.entity_type),
                int(r.start),
                int(r.end),
                round(float(r.score), 3),
                str((r.recognition_metadata or {}).get("recognizer_name", "")),
            )
            for r in results
        ]
        return sorted(hits, key=lambda h: (h.start, h.end, h.entity_type))
