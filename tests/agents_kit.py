"""Helpers for the generative-agent tests: the small town with a seeded fact, runs driven by the scripted
model (or a real one), and the event log read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smallville.agents.settings import AgentSettings
from smallville.config import Settings, SimSettings, TownSettings
from smallville.inference.settings import InferenceSettings
from smallville.persist.eventlog import read_log
from smallville.run import drive, new_run

SCENARIO = '''name = "kites"
[[facts]]
id = "kites"
holder = "Ada Lovelace"
memory = "Ada Lovelace is organising a kite festival in the park on Saturday and hopes everyone comes."
question = "Have you heard about a kite festival?"
evidence = ["kite", "festival"]
[relationship_question]
template = "Do you know {name}?"
'''


def agent_settings(small_town: tuple[Path, Path], inference: InferenceSettings | None = None,
                   **agents: Any) -> Settings:
    """The small town (Ada and Bob share a bedroom, so they meet) with Ada's kite festival seeded; the full
    loop unless `economy=` says otherwise (no endpoints here would otherwise mean the economy profile)."""
    tmx, residents = small_town
    (residents.parent / "scenario.toml").write_text(SCENARIO)
    return Settings(sim=SimSettings(seed=7), town=TownSettings(map=str(tmx), residents=str(residents)),
                    inference=inference or InferenceSettings(), agents=AgentSettings(**{"economy": "off", **agents}))


def run(settings: Settings, save_dir: Path, hours: float, **drive_kw: Any) -> dict[str, Any]:
    save, sim = new_run(save_dir, settings, hours)
    result = drive(save, sim, save.manifest["target_tick"], progress=False, **drive_kw)
    result["sim"] = sim
    return result


def events(save_dir: Path, kind: str | None = None, **match: Any) -> list[dict[str, Any]]:
    """The save's events as dicts, after checking that the whole log decodes to the typed events."""
    scan = read_log(save_dir / "events.jsonl")
    assert scan.valid_bytes == (save_dir / "events.jsonl").stat().st_size and not scan.torn_tail_bytes
    out = []
    for line in (save_dir / "events.jsonl").read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        if (kind is None or e["k"] == kind) and all(e.get(k) == v for k, v in match.items()):
            out.append(e)
    return out
