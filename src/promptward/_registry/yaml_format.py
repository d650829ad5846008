"""The YAML file of one prompt: its bundle with slugs stripped from nested records and templates as blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .._exceptions import ConfigError
from .bundles import check_bundle
from .models import PromptBundle, contract_as_json

_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 10x faster


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Multi-line strings as literal blocks, so templates read naturally in review."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_text)


def prompt_document(bundle: PromptBundle) -> dict[str, Any]:
    def without_slug(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{key: value for key, value in item.items() if key != "slug"} for item in items]

    versions = []
    for version in bundle.versions:
        data = version.model_dump(mode="json", exclude={"slug"})
        data["contract"] = contract_as_json(version.contract)
        versions.append(data)
    document: dict[str, Any] = {
        "slug": bundle.slug,
        "versions": versions,
        "labels": without_slug([label.model_dump(mode="json") for label in bundle.labels]),
        "label_history": without_slug([event.model_dump(mode="json") for event in bundle.label_events]),
        "audit": without_slug([entry.model_dump(mode="json") for entry in bundle.audit]),
    }
    if bundle.evals:  # files of prompts never evaluated stay as they were
        document["evals"] = without_slug([record.model_dump(mode="json") for record in bundle.evals])
    return document


def bundle_of_document(document: Any, path: Path) -> PromptBundle:
    if not isinstance(document, dict) or not isinstance(document.get("slug"), str):
        raise ConfigError(f"{path}: not a promptward prompt file (no 'slug' at the top)")
    slug = document["slug"]
    if path.stem != slug:
        raise ConfigError(f"{path}: holds prompt '{slug}'; rename the file to {slug}.yaml")

    def with_slug(key: str) -> list[dict[str, Any]]:
        return [{**item, "slug": slug} for item in document.get(key) or []]

    try:
        bundle = PromptBundle(
            slug=slug,
            versions=with_slug("versions"),  # type: ignore[arg-type]
            labels=with_slug("labels"),  # type: ignore[arg-type]
            label_events=with_slug("label_history"),  # type: ignore[arg-type]
            audit=with_slug("audit"),  # type: ignore[arg-type]
            evals=with_slug("evals"),  # type: ignore[arg-type]
        )
        return check_bundle(bundle)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def dump_prompt(bundle: PromptBundle) -> str:
    return yaml.dump(prompt_document(bundle), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def load_prompt(path: Path) -> PromptBundle:
    """Parse and check one prompt file (ConfigError naming the file and the field at fault)."""
    with path.open(encoding="utf-8") as handle:
        try:
            document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return bundle_of_document(document, path)
