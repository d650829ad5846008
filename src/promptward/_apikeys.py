"""API keys for the registry server: roles reader < editor < admin, stored only as salted HMAC-SHA256.

A key reads ``pw_<id>_<secret>``. The id is public and finds the entry; the secret is checked against
``hmac(salt, secret)`` in constant time. The plaintext key is returned once, when it is created, and never
stored. The keys file is YAML, written atomically with mode 0600::

    keys:
    - {id: 3f9a1c2b, name: ci, role: editor, salt: ..., hash: ..., created_at: '2024-05-01T10:00:00+00:00'}

The server re-reads the file when it changes (checked at most once a second), so keys created or revoked
while it runs take effect without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from ._exceptions import ConfigError

Role = Literal["reader", "editor", "admin"]
ROLES: tuple[Role, ...] = ("reader", "editor", "admin")
RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_RECHECK_SECONDS = 1.0
_MEMO_SIZE = 1024


@dataclass(frozen=True)
class ApiKey:
    """One stored key: everything but the secret."""

    id: str
    name: str
    role: Role
    salt: str
    hash: str
    created_at: str

    def allows(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode("utf-8"), hashlib.sha256).hexdigest()


class KeyRing:
    """The set of API keys, optionally backed by a YAML file."""

    def __init__(self, keys: list[ApiKey] | None = None, *, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._keys: dict[str, ApiKey] = {key.id: key for key in keys or []}
        self._verified: dict[str, ApiKey] = {}  # presented key -> entry, for keys that verified
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._checked = time.monotonic()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Read a keys file; a missing file is an empty ring that will be created on the first save."""
        ring = cls(path=path)
        ring._reload()
        return ring

    def __len__(self) -> int:
        return len(self._keys)

    def entries(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda key: key.name)

    def create(self, name: str, role: str) -> tuple[ApiKey, str]:
        """Add a key and return it with its plaintext, which is shown once and never stored."""
        if not _NAME.match(name):
            raise ConfigError(f"key name {name!r} is not valid; use letters, digits, '.', '_', '@' or '-'")
        if role not in RANK:
            raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if any(key.name == name for key in self._keys.values()):
            raise ConfigError(f"a key named {name!r} exists already; revoke it first or pick another name")
        key_id = secrets.token_hex(4)
        while key_id in self._keys:  # pragma: no cover - 1 in 4 billion
            key_id = secrets.token_hex(4)
        secret, salt = secrets.token_urlsafe(32), secrets.token_hex(16)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        entry = ApiKey(key_id, name, cast(Role, role), salt, _digest(salt, secret), created)
        self._keys[key_id] = entry
        self.save()
        return entry, f"pw_{key_id}_{secret}"

    def revoke(self, name: str) -> ApiKey:
        for key in list(self._keys.values()):
            if key.name == name:
                del self._keys[key.id]
                self._verified = {}
                self.save()
                return key
        raise ConfigError(f"no key named {name!r}; `promptward keys list` shows the names")

    def authenticate(self, presented: str) -> ApiKey | None:
        """The key entry a presented key proves, or None for a malformed, unknown or wrong key."""
        self._maybe_reload()
        known = self._verified.get(presented)
        if known is not None:
            return known
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "pw":
            return None
        entry = self._keys.get(parts[1])
        if entry is None or not hmac.compare_digest(entry.hash, _digest(entry.salt, parts[2])):
            return None
        if len(self._verified) < _MEMO_SIZE:
            self._verified[presented] = entry
        return entry

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"keys": [asdict(key) for key in self.entries()]}
        header = "# promptward API keys: salted hashes only; each key was printed once when created.\n"
        fd, temp = tempfile.mkstemp(prefix=".keys-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(header + yaml.safe_dump(data, sort_keys=False))
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._mtime = self.path.stat().st_mtime
        self._verified = {}

    def _maybe_reload(self) -> None:
        if self.path is None or time.monotonic() - self._checked < _RECHECK_SECONDS:
            return
        with self._lock:
            self._checked = time.monotonic()
            try:
                mtime = self.path.stat().st_mtime
            except FileNotFoundError:
                mtime = None
            if mtime != self._mtime:
                self._reload()

    def _reload(self) -> None:
        assert self.path is not None
        try:
            text = self.path.read_text(encoding="utf-8")
            self._mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._keys, self._mtime, self._verified = {}, None, {}
            return
        self._keys = {key.id: key for key in _parse(text, self.path)}
        self._verified = {}


def _parse(text: str, path: Path) -> list[ApiKey]:
    try:
        data: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a mapping with a 'keys' list")
    fields = set(ApiKey.__dataclass_fields__)
    keys = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != fields or entry.get("role") not in RANK:
            raise ConfigError(f"{path}: keys[{index}] needs exactly {sorted(fields)} and a role in {list(ROLES)}")
        values = {name: str(value) for name, value in entry.items()}
        keys.append(ApiKey(**values))  # type: ignore[arg-type]  # role checked against ROLES above
    return keys


def default_keys_path(store_url: str) -> Path | None:
    """Where `serve` and `keys` look for keys when --keys is not given: beside the store's files."""
    if store_url.startswith("sqlite:///"):
        return Path(store_url.removeprefix("sqlite:///")).resolve().parent / "promptward-keys.yaml"
    if store_url.startswith("yaml:///"):
        folder = Path(store_url.removeprefix("yaml:///")).resolve()
        return folder.parent / f"{folder.name}.keys.yaml"
    return None
