"""Saves on disk: inspect, determinism, resume after a stop, a torn tail, corruption, foreign maps."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from smallville.config import Settings
from smallville.core.events import SCHEMA_VERSION
from smallville.errors import SaveError
from smallville.inspect import render, summarize
from smallville.persist.eventlog import read_log
from smallville.persist.save import FORMAT, Save
from smallville.run import drive, new_run, open_for_resume, resume_run


def _run(root: Path, settings: Settings, hours: float = 4, stop_at: int | None = None) -> Save:
    save, sim = new_run(root, settings, hours)
    drive(save, sim, stop_at if stop_at is not None else save.manifest["target_tick"], progress=False)
    return save


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_inspect_summary(tmp_path: Path, small_settings: Settings) -> None:
    save = _run(tmp_path / "run", small_settings, hours=3)
    summary = summarize(Save.open(save.root))
    assert summary["residents"] == ["Ada Lovelace", "Bob Builder"]
    assert summary["first_tick"] == 0 and summary["last_tick"] == 3 * 360 - 6  # the last minute mark
    assert summary["events"]["spawned"] == 2 and summary["events"]["clock"] == 180
    assert summary["complete"] and summary["checkpoints"] == 4  # ticks 0, 360, 720, 1080
    assert summary["bytes"] == save.size_bytes() > 0
    json.dumps(summary)
    assert "Ada Lovelace" in render(summary)


def test_same_seed_gives_byte_identical_logs(tmp_path: Path, small_settings: Settings) -> None:
    a = _run(tmp_path / "a", small_settings, hours=30)
    b = _run(tmp_path / "b", small_settings, hours=30)
    assert a.events_path.read_bytes() == b.events_path.read_bytes()
    other = small_settings.model_copy(update={"sim": small_settings.sim.model_copy(update={"seed": 99})})
    c = _run(tmp_path / "c", other, hours=30)
    assert c.events_path.read_bytes() != a.events_path.read_bytes()


def test_resume_after_a_stop_gives_the_same_log(tmp_path: Path, small_settings: Settings) -> None:
    whole = _run(tmp_path / "whole", small_settings, hours=30)
    part = _run(tmp_path / "part", small_settings, hours=30, stop_at=5000)  # not on a checkpoint boundary
    save, sim = resume_run(part.root)
    assert sim.tick == 5000
    drive(save, sim, save.manifest["target_tick"], progress=False)
    assert part.events_path.read_bytes() == whole.events_path.read_bytes()


def test_torn_last_line_is_recovered(tmp_path: Path, small_settings: Settings) -> None:
    whole = _run(tmp_path / "whole", small_settings, hours=6)
    part = _run(tmp_path / "part", small_settings, hours=6, stop_at=1500)
    with part.events_path.open("ab") as f:
        f.write(b'{"k":"walk","t":1500,"who":"Ada Lov')  # what a crash mid-write leaves
    scan = read_log(part.events_path)
    assert scan.torn_tail_bytes > 0 and scan.last_tick is not None and scan.last_tick <= 1500
    assert "torn" in render(summarize(Save.open(part.root)))
    save, sim = resume_run(part.root)
    drive(save, sim, save.manifest["target_tick"], progress=False)
    assert part.events_path.read_bytes() == whole.events_path.read_bytes()


def test_corruption_in_the_middle_names_the_line_and_changes_nothing(tmp_path: Path,
                                                                     small_settings: Settings) -> None:
    save = _run(tmp_path / "run", small_settings, hours=2, stop_at=500)
    lines = save.events_path.read_bytes().split(b"\n")
    lines[10] = lines[10][:-5] + b"#####"
    save.events_path.write_bytes(b"\n".join(lines))
    before = _digest(save.root)
    with pytest.raises(SaveError) as info:
        open_for_resume(save.root)
    assert info.value.line == 11 and "events.jsonl:11" in str(info.value)
    assert _digest(save.root) == before


def test_wrong_schema_version(tmp_path: Path, small_settings: Settings) -> None:
    save = _run(tmp_path / "run", small_settings, hours=1)
    manifest = json.loads((save.root / "manifest.json").read_text())
    manifest["schema_version"] = 999
    (save.root / "manifest.json").write_text(json.dumps(manifest))
    before = _digest(save.root)
    with pytest.raises(SaveError, match="schema version 999") as info:
        resume_run(save.root)
    assert "manifest.json" in str(info.value)
    assert _digest(save.root) == before


def test_save_from_another_map(tmp_path: Path, small_settings: Settings, small_town: tuple[Path, Path]) -> None:
    save = _run(tmp_path / "run", small_settings, hours=1, stop_at=100)
    tmx = small_town[0]
    tmx.write_text(tmx.read_text().replace('name="park garden"', 'name="park fountain"'))
    before = _digest(save.root)
    with pytest.raises(SaveError, match="another map"):
        resume_run(save.root)
    assert _digest(save.root) == before


def test_missing_and_garbage_saves(tmp_path: Path) -> None:
    with pytest.raises(SaveError, match="no such save"):
        Save.open(tmp_path / "nothing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    with pytest.raises(SaveError, match="not valid JSON") as info:
        Save.open(tmp_path / "junk")
    assert info.value.line == 1
    (tmp_path / "junk" / "manifest.json").write_text(json.dumps(
        {"format": FORMAT, "schema_version": SCHEMA_VERSION, "residents": ["Ada"]}))
    with pytest.raises(SaveError, match="'residents' must be an object, not list"):
        Save.open(tmp_path / "junk")


def test_new_run_refuses_a_used_directory(tmp_path: Path, small_settings: Settings) -> None:
    _run(tmp_path / "run", small_settings, hours=1)
    with pytest.raises(SaveError, match="not empty"):
        new_run(tmp_path / "run", small_settings, 1)


def test_a_key_in_an_endpoint_url_never_reaches_the_save(tmp_path: Path, small_settings: Settings) -> None:
    from smallville.inference.settings import EndpointSettings

    endpoint = EndpointSettings(name="azure", base_url="https://example.test/v1?api-key=SECRET-KEY-42", model="m")
    settings = small_settings.model_copy(update={"inference": small_settings.inference.model_copy(
        update={"endpoints": [endpoint]})})
    save = _run(tmp_path / "run", settings, hours=1)
    for path in save.root.rglob("*"):
        if path.is_file():
            assert b"SECRET-KEY-42" not in path.read_bytes(), path
    assert "api-key=***" in (save.root / "manifest.json").read_text()
    resume_run(save.root)  # the masked settings still load
