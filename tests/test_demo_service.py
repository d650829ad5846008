"""`python -m promptward.demo_service` (the second part of `make demo`) runs end to end and leaves nothing behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("httpx")


def test_demo_service_tells_the_whole_story_and_cleans_up() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "promptward.demo_service"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    out = result.stdout
    assert result.returncode == 0, f"stdout:\n{out}\nstderr:\n{result.stderr}"
    for line in (
        "1. Registry server",
        "r2: v1 90%, v2 10%",
        "the app got to send:   Please change my e-mail to <EMAIL_1> and charge card <CREDIT_CARD_1>.",
        "variable 'tier': 'platinum' is not one of ['gold', 'silver']",
        "r3: v2 100%",
        "rolled back once: production is back on the 90/10 rollout",
        "rolled back again: production -> v1 for everyone",
        "registry stopped",
        "GET /health: connection refused",
        "served from snapshot",
        "raw inputs in the decision log (e-mail, card, key, attack): none",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"
    # The rollout: frank (bucket 97.1) gets v2 while v1 holds 90%; the attack and the secret are refused.
    assert re.search(r"│ frank\s+│ 97\.1\s+│ 200\s+│ v2 ", out)
    assert re.search(r"│ mallory\s+│ [\d.]+\s+│ 403\s+│ v1 \(not sent\)\s+│ block .*injection\.", out)
    assert re.search(r"│ dave\s+│ [\d.]+\s+│ 403\s+│ v1 \(not sent\)\s+│ block .*secrets\.", out)
    # While the registry is down every request is still answered, by v1 (the last version production pointed to).
    outage = out.split("registry stopped", 1)[1].split("cold start", 1)[0]
    assert len(re.findall(r"│ 200\s+│ v1 ", outage)) == 5
    assert "keeping the last good version" in outage
    # Nothing is left behind: the registry process is gone and the workspace removed.
    pid = int(re.search(r"pid (\d+), /health ok", out).group(1))  # type: ignore[union-attr]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    workspace = re.search(r"workspace: (\S+)", out).group(1)  # type: ignore[union-attr]
    assert not Path(workspace).exists()
    assert f"{workspace} removed: True" in out
