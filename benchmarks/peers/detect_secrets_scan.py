"""Baseline: Yelp detect-secrets with all its default plugins, run by the peers' Python (.venv-peers).

Reads JSONL items ({"id", "text"}) on stdin, writes one JSON line per item on stdout:
{"id": ..., "positive": bool, "types": [plugin secret types]}. Each text is written to a temporary
file and scanned as that file's lines, as `detect-secrets scan` would scan a file in a repository.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from detect_secrets.core.scan import scan_file
from detect_secrets.settings import default_settings


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="pw-detect-secrets-") as tmp, default_settings():
        path = Path(tmp) / "item.txt"
        for line in sys.stdin:
            if not line.strip():
                continue
            item = json.loads(line)
            path.write_text(item["text"], encoding="utf-8")
            types = sorted({secret.type for secret in scan_file(str(path))})
            sys.stdout.write(json.dumps({"id": item["id"], "positive": bool(types), "types": types}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
