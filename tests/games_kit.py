"""Helpers for the round games' tests: populations of stand-in players on disk, studies played in-process or
through the real command against the fake OpenAI-compatible server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smallville.population.people import FORMAT, Header, Person, write_population

CLI = [sys.executable, "-m", "smallville.games.cli"]


def population(path: Path, specs: Sequence[str], attributes: Sequence[dict[str, str]] | None = None) -> Path:
    """A population file whose person i is the stand-in `specs[i]` (a number, `garbage`, `150`, `none`, `fail`)."""
    people = [Person(i, f"Person {i}", dict(attributes[i]) if attributes else {}, f"A player. stand-in: {spec}")
              for i, spec in enumerate(specs)]
    names = sorted({k for a in (attributes or []) for k in a})
    write_population(path, Header(FORMAT, 1, 0, "test", names, len(people)), people)
    return path


def config(path: Path, game: dict[str, Any], *, port: int | None = None, inference: dict[str, Any] | None = None,
           endpoints: Sequence[tuple[str, str]] = (("fake", "fake-model"),)) -> Path:
    """A game TOML file: `[game]` from `game`, `[inference]` quick to give up (or as `inference` says),
    endpoints at the fake server on `port`."""
    lines = ["[game]"]
    for key, value in game.items():
        lines.append(f"{key} = {json.dumps(value)}")
    knobs = {"retries": 1, "backoff_s": 0.01, "backoff_max_s": 0.02, "breaker_cooldown_s": 0.1, **(inference or {})}
    lines += ["[inference]", *(f"{k} = {json.dumps(v)}" for k, v in knobs.items())]
    if port is not None:
        for name, model in endpoints:
            lines += ["[[inference.endpoints]]", f'name = "{name}"', f'base_url = "http://127.0.0.1:{port}/v1"',
                      f'model = "{model}"', "max_concurrency = 32"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=full)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stable_report(out: Path) -> str:
    """report.json without what a wall clock decides (`performance`): what must not depend on call order."""
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    report.pop("performance")
    return hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()
