"""Record the golden day: the Ville's first day (seed 2, full loop) with the scripted model, kept so that a
refactor can prove it changed no behaviour (tests/test_golden_day.py replays it and compares the event log's
bytes). Writes tests/data/golden-day/: the day's model answers (calls.jsonl.gz), the event log's digest
(day.json) and a save stopped at 6:00 (save-6h.tar.gz, with the map paths replaced by a placeholder) that a
resume must carry to the same bytes.

Run it again only when behaviour changes on purpose, and say so in the commit:
    .venv/bin/python tools/golden_day.py
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
OUT = ROOT / "tests" / "data" / "golden-day"
HOURS = 24.0
CUT_HOURS = 6.0
PLACEHOLDER = "@REPO@"


def main() -> None:
    from agents_kit import run
    from golden_kit import day_settings

    from smallville.inference.embed import LocalEmbedder
    from smallville.testing.scripted import ScriptedModel

    embedder = LocalEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        day = Path(tmp) / "day"
        run(day_settings(), day, HOURS, lm=ScriptedModel(), embedder=embedder)
        OUT.mkdir(parents=True, exist_ok=True)
        recording = (day / "calls.jsonl").read_bytes()
        (OUT / "calls.jsonl.gz").write_bytes(gzip.compress(recording, mtime=0))
        events = (day / "events.jsonl").read_bytes()
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        (OUT / "day.json").write_text(json.dumps({
            "hours": HOURS, "events_sha256": hashlib.sha256(events).hexdigest(), "events_bytes": len(events),
            "calls": recording.count(b"\n"), "recorded_at": commit}, indent=1) + "\n")
        cut = Path(tmp) / "save-6h"
        run(day_settings(), cut, CUT_HOURS, replay=day / "calls.jsonl", embedder=embedder)
        manifest = cut / "manifest.json"
        manifest.write_text(manifest.read_text().replace(str(ROOT), PLACEHOLDER))
        (cut / "status.json").unlink(missing_ok=True)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(cut, arcname="save-6h")
        (OUT / "save-6h.tar.gz").write_bytes(buf.getvalue())
        shutil.rmtree(cut)
    print(json.loads((OUT / "day.json").read_text()))


if __name__ == "__main__":
    main()
