"""Sticky weighted rollouts: a unit (user, session) hashes to a bucket in [0, 100) that never changes.

Targets are kept sorted by version, so raising a newer version's weight only moves units from older versions to
it; a unit keeps its version while the weights stay.
"""

from __future__ import annotations

import hashlib

from .models import Label, LabelTarget


def bucket(unit_id: str, slug: str, salt: str = "") -> float:
    """Stable bucket in [0, 100): the first 8 bytes of sha256(f"{salt}:{slug}:{unit_id}") scaled."""
    digest = hashlib.sha256(f"{salt}:{slug}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def variant_name(version: int) -> str:
    return f"v{version}"


def _heaviest(targets: list[LabelTarget]) -> LabelTarget:
    return max(targets, key=lambda target: target.weight)  # the first of equals: the oldest version


def resolve(label: Label, unit_id: str | None, salt: str = "") -> tuple[int, str]:
    """(version, variant) for this unit; without a unit id, the heaviest target."""
    targets = label.targets
    if len(targets) == 1 or unit_id is None:
        chosen = _heaviest(targets)
        return chosen.version, variant_name(chosen.version)
    point = bucket(unit_id, label.slug, salt)
    cumulative = 0.0
    for target in targets:
        cumulative += target.weight
        if target.weight > 0 and point < cumulative:
            return target.version, variant_name(target.version)
    last = [target for target in targets if target.weight > 0][-1]  # rounding left the point past the sum
    return last.version, variant_name(last.version)
