"""The golden day: a refactor changes no behaviour (issue 12, "must hold").

tools/golden_day.py recorded the Ville's first day (25 residents, seed 2, the full loop) with the scripted
model before the house was rebuilt, and kept the event log's digest. Here the day is driven again answering
from that recording: the event log must come out byte for byte the same. And a save stopped at 6:00 by that
older code must resume, with today's code, to the very same log (a checkpoint written before the change
still works). Re-record only when behaviour changes on purpose.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path

import pytest
from agents_kit import run
from golden_kit import day_settings

from smallville.inference.embed import LocalEmbedder
from smallville.run import drive, resume_run

DATA = Path(__file__).parent / "data" / "golden-day"
REPO = Path(__file__).resolve().parent.parent
GOLDEN = json.loads((DATA / "day.json").read_text())


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("golden") / "calls.jsonl"
    path.write_bytes(gzip.decompress((DATA / "calls.jsonl.gz").read_bytes()))
    return path


def digest(save: Path) -> tuple[str, int]:
    data = (save / "events.jsonl").read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def test_the_recorded_day_replays_to_the_same_event_log_bytes(tmp_path: Path, recording: Path,
                                                              embedder: LocalEmbedder) -> None:
    run(day_settings(), tmp_path / "day", GOLDEN["hours"], replay=recording, embedder=embedder)
    assert digest(tmp_path / "day") == (GOLDEN["events_sha256"], GOLDEN["events_bytes"])


def test_a_save_stopped_by_the_older_code_resumes_to_the_same_bytes(tmp_path: Path, recording: Path,
                                                                    embedder: LocalEmbedder) -> None:
    with tarfile.open(DATA / "save-6h.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    save_dir = tmp_path / "save-6h"
    manifest = save_dir / "manifest.json"
    manifest.write_text(manifest.read_text().replace("@REPO@", str(REPO)))
    save, sim = resume_run(save_dir)
    drive(save, sim, round(GOLDEN["hours"] * 360), progress=False, replay=recording, embedder=embedder)
    assert digest(save_dir) == (GOLDEN["events_sha256"], GOLDEN["events_bytes"])


def test_a_checkpoint_holding_a_thought_result_this_version_cannot_read_is_refused_in_one_line(
        tmp_path: Path) -> None:
    """A stored day plan whose fields are wrong (a hand-edited or foreign checkpoint): `smallville resume`
    says which file and why in one line, exit 2, and changes nothing."""
    import subprocess
    import sys

    with tarfile.open(DATA / "save-6h.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    save_dir = tmp_path / "save-6h"
    manifest = save_dir / "manifest.json"
    manifest.write_text(manifest.read_text().replace("@REPO@", str(REPO)))
    newest = sorted((save_dir / "checkpoints").glob("tick-*.json"))[-1]
    state = json.loads(newest.read_text())
    state["state"]["mind"]["jobs"][0]["result"]["daily"] = "not a plan"
    newest.write_text(json.dumps(state))
    before = {p: p.read_bytes() for p in save_dir.rglob("*") if p.is_file() and p.name != "lock"}
    done = subprocess.run([sys.executable, "-m", "smallville.cli", "resume", str(save_dir), "--headless",
                           "--no-progress"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and newest.name in done.stderr and "not resumed" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert {p: p.read_bytes() for p in save_dir.rglob("*") if p.is_file() and p.name != "lock"} == before
